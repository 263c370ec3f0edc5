"""The chat request: what a ``useChat`` front end (or a simpler client) POSTs, parsed and checked.

Two bodies are accepted. The AI SDK's ``DefaultChatTransport`` sends
``{"id", "messages": [UIMessage], "trigger", "messageId"}`` where a UI message is
``{"id", "role", "parts": [{"type": "text", "text"}, ...], "metadata"?}``: text parts make
``text``, tool parts ``tool_calls``, file parts ``files``; the rest stays in ``parts``. A simpler
client sends ``{"messages": [{"role", "content"}]}``. Both become a list of ``ChatMessage``.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import struct
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import chain
from operator import itemgetter
from typing import Any, Literal

__all__ = [
    "Approval",
    "ChatFile",
    "ChatMessage",
    "ChatRequest",
    "ChatRequestError",
    "ChatToolCall",
    "parse_chat_request",
    "parse_message",
]

Role = Literal["system", "user", "assistant"]
ROLES: tuple[Role, ...] = ("system", "user", "assistant")
Trigger = Literal["submit-message", "regenerate-message"]
TRIGGERS: tuple[Trigger, ...] = ("submit-message", "regenerate-message")


@dataclass(frozen=True)
class Approval:
    """The user's answer to an approval request: ``approved`` is None until they answered."""

    id: str
    approved: bool | None = None
    reason: str | None = None


@dataclass(frozen=True)
class ChatToolCall:
    """A tool call of an assistant message, in the state the client holds it: ``state`` is the
    AI SDK's (``input-streaming``, ``input-available``, ``approval-requested``,
    ``approval-responded``, ``output-available``, ``output-error``, ``output-denied``)."""

    name: str
    id: str
    state: str
    input: Any = None
    output: Any = None
    error_text: str | None = None
    approval: Approval | None = None


@dataclass(frozen=True)
class ChatFile:
    """A file part (an attachment): ``data`` holds the bytes of a ``data:`` URL, decoded, and is
    None for any other URL."""

    media_type: str
    url: str
    filename: str | None = None
    data: bytes | None = field(default=None, repr=False)


@dataclass(frozen=True)
class ChatMessage:
    """One message of the conversation, as your ``generate()`` receives it."""

    role: Role
    text: str
    id: str | None = None
    parts: tuple[dict[str, Any], ...] = field(default=(), repr=False, compare=False)
    tool_calls: tuple[ChatToolCall, ...] = field(default=(), compare=False)
    files: tuple[ChatFile, ...] = field(default=(), repr=False, compare=False)
    metadata: Any = field(default=None, compare=False)


@dataclass(frozen=True)
class ChatRequest:
    messages: list[ChatMessage]
    chat_id: str | None = None
    trigger: Trigger = "submit-message"
    message_id: str | None = None
    #: The client sent only its last message (``{"message": ...}``): the view's
    #: ``load_messages()`` supplies the conversation before it.
    only_last: bool = False

    @property
    def continuation(self) -> bool:
        """Whether this request continues the last assistant message (the client sent the
        outputs of its tools, or approval responses, and nothing after): the answer then goes
        on in that same message."""
        last = self.messages[-1] if self.messages else None
        return self.trigger == "submit-message" and last is not None and last.role == "assistant"


class ChatRequestError(ValueError):
    """A request that cannot be served; ``status`` and ``code`` go into the 4xx JSON answer."""

    def __init__(self, message: str, *, status: int = 400, code: str = "invalid_request") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code


#: How deep objects and lists may nest in a body (a UI message with a tool's input nests 6).
MAX_DEPTH = 64


def parse_chat_request(
    body: bytes,
    *,
    max_messages: int,
    max_message_chars: int | None,
    max_file_bytes: int | None = None,
) -> ChatRequest:
    """Parse and check a chat request body, or raise ``ChatRequestError``.

    Two shapes: ``{"messages": [...]}`` (the whole conversation, as ``useChat`` sends it by
    default), or ``{"message": {...}}`` (only the last message, as the AI SDK's persistence
    guide sends it: ``ChatRequest.only_last``; the view's ``load_messages()`` has the rest).
    Strict JSON only: no ``NaN`` or ``Infinity``, no lone surrogate, nothing nested deeper
    than ``MAX_DEPTH``."""
    try:
        text = body.decode()  # JSON over HTTP is UTF-8; json.loads(bytes) would guess UTF-16
    except UnicodeDecodeError:
        raise ChatRequestError("The body is not valid UTF-8.", code="invalid_json") from None
    try:
        payload = json.loads(text, parse_constant=_refuse_constant)
    except ChatRequestError:
        raise
    except (ValueError, RecursionError):
        raise ChatRequestError("The body is not valid JSON.", code="invalid_json") from None
    _check_values(payload)
    if not isinstance(payload, dict):
        raise ChatRequestError("The body must be a JSON object.")
    only_last = "messages" not in payload and "message" in payload
    raw_messages = [payload["message"]] if only_last else payload.get("messages")
    if not isinstance(raw_messages, list):
        raise ChatRequestError('"messages" must be a list of messages.')
    if not raw_messages:
        raise ChatRequestError('"messages" is empty: there is nothing to answer.')
    if len(raw_messages) > max_messages:
        raise ChatRequestError(
            f'"messages" has {len(raw_messages)} messages; at most {max_messages} are accepted.',
            status=413,
            code="too_many_messages",
        )
    messages = [
        parse_message(raw, f"messages[{index}]", max_message_chars, max_file_bytes)
        for index, raw in enumerate(raw_messages)
    ]
    trigger = payload.get("trigger", "submit-message")
    if trigger not in TRIGGERS:
        raise ChatRequestError(f'"trigger" must be one of {", ".join(TRIGGERS)}.')
    return ChatRequest(
        messages=messages,
        chat_id=_optional_string(payload, "id"),
        trigger=trigger,
        message_id=_optional_string(payload, "messageId"),
        only_last=only_last,
    )


def _refuse_constant(name: str) -> None:
    raise ChatRequestError(
        f"The body holds {name}, which JSON does not allow (nor JSON.parse in a browser).",
        code="invalid_json",
    )


def _check_values(payload: object) -> None:
    """Refuse what strict JSON parsers refuse and what our code should never meet: a lone
    surrogate (valid JSON as an escape, but no Unicode text: it cannot be encoded back), and
    nesting past ``MAX_DEPTH``."""
    stack: list[tuple[object, int]] = [(payload, 0)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            try:
                value.encode()
            except UnicodeEncodeError:
                raise ChatRequestError(
                    "The body holds a lone surrogate (an escape such as \\ud800 that is not "
                    "half of a pair): it is not text.",
                    code="invalid_json",
                ) from None
            continue
        if isinstance(value, dict):
            children: Iterable[object] = (*value.keys(), *value.values())
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth >= MAX_DEPTH:
            raise ChatRequestError(f"The body nests deeper than {MAX_DEPTH} levels.")
        stack.extend((child, depth + 1) for child in children)


def parse_message(
    raw: object,
    where: str = "message",
    max_chars: int | None = None,
    max_file_bytes: int | None = None,
) -> ChatMessage:
    """One UI message (``{"id", "role", "parts", "metadata"}``) or ``{"role", "content"}`` as
    a ``ChatMessage``, or ``ChatRequestError`` saying what is wrong at ``where``."""
    if not isinstance(raw, dict):
        raise ChatRequestError(f"{where} must be an object.")
    role = raw.get("role")
    if role not in ROLES:
        raise ChatRequestError(f"{where}.role must be one of {', '.join(ROLES)}, not {role!r}.")
    parts: tuple[dict[str, Any], ...] = ()
    tool_calls: list[ChatToolCall] = []
    files: list[ChatFile] = []
    if "parts" in raw:
        raw_parts = raw["parts"]
        if not isinstance(raw_parts, list) or not all(isinstance(p, dict) for p in raw_parts):
            raise ChatRequestError(f"{where}.parts must be a list of objects.")
        texts = []
        for part_index, part in enumerate(raw_parts):
            part_where = f"{where}.parts[{part_index}]"
            kind = part.get("type")
            if not isinstance(kind, str):
                raise ChatRequestError(f'{part_where} needs a "type" (a string).')
            if kind == "text":
                if not isinstance(part.get("text"), str):
                    raise ChatRequestError(f"{part_where}.text must be a string.")
                texts.append(part["text"])
            elif kind == "file":
                files.append(_parse_file(part, part_where, max_file_bytes))
            elif kind.startswith("tool-") or kind == "dynamic-tool":
                tool_calls.append(_parse_tool_call(part, part_where))
        text = "".join(texts)
        parts = tuple(raw_parts)
    elif isinstance(raw.get("content"), str):
        text = raw["content"]
    else:
        raise ChatRequestError(f'{where} needs "parts" (a list) or "content" (a string).')
    if max_chars is not None and len(text) > max_chars:
        raise ChatRequestError(
            f"{where} has {len(text)} characters; at most {max_chars} are accepted.",
            status=413,
            code="message_too_long",
        )
    message_id = raw.get("id")
    if message_id is not None and not isinstance(message_id, str):
        raise ChatRequestError(f"{where}.id must be a string.")
    metadata = raw.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise ChatRequestError(f"{where}.metadata must be an object.")
    return ChatMessage(
        role=role,
        text=text,
        id=message_id,
        parts=parts,
        tool_calls=tuple(tool_calls),
        files=tuple(files),
        metadata=metadata,
    )


def _parse_tool_call(part: dict[str, Any], where: str) -> ChatToolCall:
    kind = part["type"]
    name = part.get("toolName") if kind == "dynamic-tool" else kind.removeprefix("tool-")
    call_id, state = part.get("toolCallId"), part.get("state")
    if not isinstance(name, str) or not name:
        raise ChatRequestError(f"{where} must name its tool.")
    if not isinstance(call_id, str) or not isinstance(state, str):
        raise ChatRequestError(f'{where} needs "toolCallId" and "state" (strings).')
    error_text = part.get("errorText")
    approval = part.get("approval")
    if approval is not None:
        if not isinstance(approval, dict) or not isinstance(approval.get("id"), str):
            raise ChatRequestError(f'{where}.approval must be an object with an "id".')
        approved, reason = approval.get("approved"), approval.get("reason")
        if approved is not None and not isinstance(approved, bool):
            raise ChatRequestError(f"{where}.approval.approved must be true or false.")
        approval = Approval(approval["id"], approved, reason if isinstance(reason, str) else None)
    return ChatToolCall(
        name=name,
        id=call_id,
        state=state,
        input=part.get("input", part.get("rawInput")),
        output=part.get("output"),
        error_text=error_text if isinstance(error_text, str) else None,
        approval=approval,
    )


def _parse_file(part: dict[str, Any], where: str, max_bytes: int | None) -> ChatFile:
    url, media_type, filename = part.get("url"), part.get("mediaType"), part.get("filename")
    if not isinstance(url, str) or not isinstance(media_type, str):
        raise ChatRequestError(f'{where} needs "url" and "mediaType" (strings).')
    if filename is not None and not isinstance(filename, str):
        raise ChatRequestError(f"{where}.filename must be a string.")
    data = _data_url_bytes(url, where, max_bytes) if url.startswith("data:") else None
    return ChatFile(media_type=media_type, url=url, filename=filename, data=data)


def _data_url_bytes(url: str, where: str, max_bytes: int | None) -> bytes:
    """The bytes of a ``data:`` URL (RFC 2397): base64, or percent-encoded. One whose encoded
    length already shows it is too large is refused before it is decoded."""
    header, comma, payload = url[len("data:") :].partition(",")
    if not comma:
        raise ChatRequestError(f"{where}.url is a data: URL without data.")
    is_base64 = header.endswith(";base64")
    # The fewest bytes the payload can decode to: 3 per 4 base64 characters (less padding),
    # 1 per 3 characters of percent-encoding.
    least = len(payload) * 3 // 4 - 2 if is_base64 else -(-len(payload) // 3)
    if max_bytes is not None and least > max_bytes:
        raise _too_large(where, f"at least {least}", max_bytes)
    if is_base64:
        try:
            data = base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError):
            raise ChatRequestError(f"{where}.url is not valid base64.") from None
    else:
        data = _percent_decoded(payload.encode())
    if max_bytes is not None and len(data) > max_bytes:
        raise _too_large(where, str(len(data)), max_bytes)
    return data


#: A %XX escape; what is not one stays as it is (as urllib's unquote_to_bytes() leaves it).
_ESCAPE = re.compile(rb"%([0-9A-Fa-f]{2})")
#: Bytes decoded per slice before the thread lets others run (the event loop among them).
_SLICE = 256 * 1024


def _percent_decoded(encoded: bytes) -> bytes:
    """``unquote_to_bytes()``, in C-speed slices: its loop of Python code took 1.5 s for a
    body of three million escapes (a hostile one), and held back the event loop meanwhile."""
    decoded = []
    start = 0
    size = max(_SLICE, 3)  # so that a cut below always falls after the slice's start
    while start < len(encoded):
        end = min(start + size, len(encoded))
        cut = encoded.rfind(b"%", end - 2, end)
        if cut != -1 and end < len(encoded):
            end = cut  # an escape the slice would split goes whole into the next one
        pieces = _ESCAPE.split(encoded[start:end])
        literals, escapes = pieces[0::2], pieces[1::2]
        octets = bytes.fromhex(b"".join(escapes).decode("ascii"))
        singles = map(itemgetter(0), struct.iter_unpack("c", octets))
        pairs = zip(literals, singles, strict=False)  # one literal more than escapes
        decoded.append(b"".join(chain.from_iterable(pairs)) + literals[-1])
        start = end
        time.sleep(0)  # let the event loop's thread have the GIL between slices
    return b"".join(decoded)


def _too_large(where: str, size: str, max_bytes: int) -> ChatRequestError:
    return ChatRequestError(
        f"{where} is a file of {size} bytes; at most {max_bytes} are accepted.",
        status=413,
        code="file_too_large",
    )


def _optional_string(payload: dict[str, Any], key: str) -> str | None:
    value = payload.get(key)
    if value is not None and not isinstance(value, str):
        raise ChatRequestError(f'"{key}" must be a string.')
    return value
