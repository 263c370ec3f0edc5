"""The chat request: what a ``useChat`` front end (or a simpler client) POSTs, parsed and checked.

Two bodies are accepted. The AI SDK's ``DefaultChatTransport`` sends
``{"id", "messages": [UIMessage], "trigger", "messageId"}`` where a UI message is
``{"id", "role", "parts": [{"type": "text", "text"}, ...], "metadata"?}``; parts of other types
are kept out of ``text`` and ignored. A simpler client sends
``{"messages": [{"role", "content"}]}``. Both become a list of ``ChatMessage``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["ChatMessage", "ChatRequest", "ChatRequestError", "parse_chat_request"]

Role = Literal["system", "user", "assistant"]
ROLES: tuple[Role, ...] = ("system", "user", "assistant")
Trigger = Literal["submit-message", "regenerate-message"]
TRIGGERS: tuple[Trigger, ...] = ("submit-message", "regenerate-message")


@dataclass(frozen=True)
class ChatMessage:
    """One message of the conversation, as your ``generate()`` receives it."""

    role: Role
    text: str
    id: str | None = None
    parts: tuple[dict[str, Any], ...] = field(default=(), repr=False, compare=False)


@dataclass(frozen=True)
class ChatRequest:
    messages: list[ChatMessage]
    chat_id: str | None = None
    trigger: Trigger = "submit-message"
    message_id: str | None = None


class ChatRequestError(ValueError):
    """A request that cannot be served; ``status`` and ``code`` go into the 4xx JSON answer."""

    def __init__(self, message: str, *, status: int = 400, code: str = "invalid_request") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code


def parse_chat_request(body: bytes, *, max_messages: int, max_message_chars: int) -> ChatRequest:
    """Parse and check a chat request body, or raise ``ChatRequestError``."""
    try:
        text = body.decode()  # JSON over HTTP is UTF-8; json.loads(bytes) would guess UTF-16
    except UnicodeDecodeError:
        raise ChatRequestError("The body is not valid UTF-8.", code="invalid_json") from None
    try:
        payload = json.loads(text)
    except (ValueError, RecursionError):
        raise ChatRequestError("The body is not valid JSON.", code="invalid_json") from None
    if not isinstance(payload, dict):
        raise ChatRequestError("The body must be a JSON object.")
    raw_messages = payload.get("messages")
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
        _parse_message(raw, index, max_message_chars) for index, raw in enumerate(raw_messages)
    ]
    trigger = payload.get("trigger", "submit-message")
    if trigger not in TRIGGERS:
        raise ChatRequestError(f'"trigger" must be one of {", ".join(TRIGGERS)}.')
    return ChatRequest(
        messages=messages,
        chat_id=_optional_string(payload, "id"),
        trigger=trigger,
        message_id=_optional_string(payload, "messageId"),
    )


def _parse_message(raw: object, index: int, max_chars: int) -> ChatMessage:
    where = f"messages[{index}]"
    if not isinstance(raw, dict):
        raise ChatRequestError(f"{where} must be an object.")
    role = raw.get("role")
    if role not in ROLES:
        raise ChatRequestError(f"{where}.role must be one of {', '.join(ROLES)}, not {role!r}.")
    parts: tuple[dict[str, Any], ...] = ()
    if "parts" in raw:
        raw_parts = raw["parts"]
        if not isinstance(raw_parts, list) or not all(isinstance(p, dict) for p in raw_parts):
            raise ChatRequestError(f"{where}.parts must be a list of objects.")
        texts = []
        for part_index, part in enumerate(raw_parts):
            if part.get("type") == "text":
                if not isinstance(part.get("text"), str):
                    raise ChatRequestError(f"{where}.parts[{part_index}].text must be a string.")
                texts.append(part["text"])
        text = "".join(texts)
        parts = tuple(raw_parts)
    elif isinstance(raw.get("content"), str):
        text = raw["content"]
    else:
        raise ChatRequestError(f'{where} needs "parts" (a list) or "content" (a string).')
    if len(text) > max_chars:
        raise ChatRequestError(
            f"{where} has {len(text)} characters; at most {max_chars} are accepted.",
            status=413,
            code="message_too_long",
        )
    message_id = raw.get("id")
    if message_id is not None and not isinstance(message_id, str):
        raise ChatRequestError(f"{where}.id must be a string.")
    return ChatMessage(role=role, text=text, id=message_id, parts=parts)


def _optional_string(payload: dict[str, Any], key: str) -> str | None:
    value = payload.get(key)
    if value is not None and not isinstance(value, str):
        raise ChatRequestError(f'"{key}" must be a string.')
    return value
