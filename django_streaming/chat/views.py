"""``ChatStreamView``: a chat endpoint that speaks the AI SDK UI message stream protocol."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import secrets
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, Literal

from asgiref.sync import sync_to_async
from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.urls import URLPattern, path

from django_streaming import metrics
from django_streaming.bridges import call_async, maybe_await
from django_streaming.conf import get_config
from django_streaming.responses import SSEResponse, StreamItem, error_response
from django_streaming.resumable import new_stream_id, tail
from django_streaming.stores import EndStatus, StreamStore, get_store
from django_streaming.threads import POOL
from django_streaming.views import SSEView

from .agent import AgentRun, stream_agent
from .answer import Answer
from .continuations import already_answered, apply_answers, pending_calls
from .messages import (
    ChatFile,
    ChatMessage,
    ChatRequest,
    ChatRequestError,
    parse_chat_request,
    parse_message,
)
from .parts import ChatPart, new_id
from .telemetry import watch_item

__all__ = ["PROTOCOL_HEADERS", "ChatError", "ChatResult", "ChatStreamView"]

logger = logging.getLogger("django_streaming")

#: The header ``useChat`` checks to know it reads a UI message stream.
PROTOCOL_HEADERS = {"x-vercel-ai-ui-message-stream": "v1"}
GENERIC_ERROR_TEXT = "The answer failed on the server."
INTERRUPTED_TEXT = "The answer was interrupted: the server writing it went away."
CHAT_ID_MAX_LENGTH = 256
#: The response header naming a resumable answer's stream (for a stop that names it).
STREAM_ID_HEADER = "X-Stream-Id"

Status = Literal["completed", "cancelled", "error"]


class ChatError(Exception):
    """Raise from ``generate()`` to end the answer with an error whose text the user may read
    ("The model is busy, try again in a minute."), with or without ``DEBUG``. Any other
    exception shows a generic text unless ``DEBUG`` is on."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class ChatResult:
    """What ``on_finish()`` receives once per request, however the answer ended."""

    messages: list[ChatMessage]  # the conversation as the client sent it
    text: str  # the assistant's answer, partial when cancelled or failed
    status: Status
    message_id: str  # the id the answer was streamed under
    chat_id: str | None
    error: Exception | None = None
    #: The whole assistant message as the client holds it (id, role, parts: text, reasoning,
    #: tool calls with their inputs, outputs and states, sources, files, data; metadata),
    #: JSON-serialisable: save it, and ``{% chat_widget messages=... %}`` renders it.
    message: dict[str, Any] = field(default_factory=dict)
    #: The ``finish`` part's reason, or None when the answer did not get there.
    finish_reason: str | None = None


class ChatStreamView(SSEView):
    """Subclass, write ``generate()``, and ``useChat`` (or the ``{% chat_widget %}``) talks to it.

    .. code-block:: python

        model = EchoModel()  # django_streaming.chat.demo: your model's client instead


        class Chat(ChatStreamView):
            async def generate(self, messages):
                async for token in model.stream(messages[-1].text):
                    yield token

    ``generate(messages)`` is an async generator of text deltas (``str``) and the parts of
    ``django_streaming.chat``: ``ReasoningDelta``, ``ToolCall``, ``ToolResult``,
    ``ApprovalRequest``, ``DataPart``, ``SourceURL``, ``FilePart``, ``Step``, ``Finish`` and
    the rest; ``self.request`` and ``self.chat`` (the parsed ``ChatRequest``) are at hand.
    ``on_finish(result)`` runs exactly once per request, also when the user stopped the answer
    or it failed, with the whole message (``result.message``) to save. When the client sends
    its tools' outputs or approvals (``self.chat.continuation``), the answer goes on in the
    same message. A ``system`` message from the client is dropped unless
    ``trust_client_system`` is set: the system prompt is the server's. The ``heartbeat``,
    ``retry`` and ``headers`` attributes of ``SSEView`` apply.

    POST only, with Django's CSRF protection as for any view: the widget sends the token; use
    ``csrf_exempt`` on the URL for an API authenticated by tokens.
    """

    http_method_names: ClassVar[list[str]] = ["post", "options"]  # type: ignore[misc]
    #: Whether ``system`` messages sent by the client reach ``generate()``.
    trust_client_system: ClassVar[bool] = False
    #: Whether a continuation may only answer the tool calls this chat's last answer left
    #: waiting (approvals, browser tools), each once, with the server's inputs. Turning it off
    #: lets any client run any tool with any input: see the security page of the docs.
    verify_continuations: ClassVar[bool] = True
    #: Resumable: the seconds a new question waits for the chat's answer in progress, which
    #: it stops, to end (its ``on_finish()`` included) before its own ``on_start()``; past
    #: them it starts all the same.
    supersede_timeout: ClassVar[float] = 5.0

    #: The agent that answers (a ``pydantic_ai.Agent``, an ``agents.Agent``, a compiled
    #: LangGraph graph) when ``generate()`` is not overridden: see ``django_streaming.agents``.
    agent: ClassVar[Any] = None

    chat: ChatRequest
    #: Who asked (``stream_owner()``): chats and their answers are kept per owner.
    owner: str
    #: What an agent adapter kept when the answer before ended waiting, and keeps now.
    saved_agent_state: Any = None
    agent_state: Any = None
    #: The message a continuation carries on, as the server streamed it with the client's
    #: answers applied; None for a new answer.
    continued: ChatMessage | None = None

    @classmethod
    def urls(
        cls,
        *,
        name: str | None = None,
        decorators: Sequence[Callable[..., Any]] = (),
        **initkwargs: Any,
    ) -> list[URLPattern]:
        """The URLs ``useChat`` calls, for ``include()``: ``""`` (POST, named ``name``) answers,
        ``"<chat_id>/stream"`` (GET) resumes the answer in progress, ``"<chat_id>/stop"``
        (POST) stops it (with ``?stream=<id>``, only if that is still the answer in progress).
        ``decorators`` wrap each view (``csrf_exempt``, say)."""
        return [
            path("", cls.action_view("start", decorators, **initkwargs), name=name),
            path("<str:chat_id>/stream", cls.action_view("resume", decorators, **initkwargs)),
            path("<str:chat_id>/stop", cls.action_view("stop", decorators, **initkwargs)),
        ]

    async def generate(self, messages: list[ChatMessage]) -> AsyncIterator[ChatPart]:
        """Yield the answer to ``messages``. Override this, or set ``agent``."""
        agent = self.get_agent()
        if agent is None:
            raise NotImplementedError(f"{type(self).__name__} must define generate() or agent.")
        async for part in stream_agent(agent, self, **self.agent_kwargs()):
            yield part

    def get_agent(self) -> Any:
        """The agent that answers this request: ``agent`` by default (a model per user, say)."""
        return self.agent

    def agent_kwargs(self) -> dict[str, Any]:
        """What the agent's run gets besides the conversation: pydantic-ai ``deps``, the
        Agents SDK ``context``, LangGraph ``config``, as keyword arguments."""
        return {}

    def allow_remote_file(self, file: ChatFile) -> bool:
        """Whether an agent may fetch ``file`` from its URL (a file a client sent by address,
        not as bytes): never, by default; the server fetches nothing a client names."""
        return False

    def agent_run(self, kwargs: dict[str, Any]) -> AgentRun:
        """This request's run of an agent (``django_streaming.agents.AgentRun``)."""

        def keep(state: Any) -> None:
            self.agent_state = state

        return AgentRun(
            messages=self.chat.messages,
            continuation=self.chat.continuation,
            key=self.chat_key(self.chat.chat_id or "", self.owner),
            kwargs=kwargs,
            state=self.saved_agent_state,
            keep=keep,
            allow_remote_file=self.allow_remote_file,
        )

    async def on_start(self) -> None:
        """Called once the request is accepted and before its answer starts: ``self.chat`` is
        read and checked and, resumable, the answer is counted against its owner's limit.
        Override to save the question: the answer starts once this returns, so its
        ``on_finish()`` never comes first. Resumable, a question that supersedes the chat's
        answer in progress stops it and waits for it to end (up to ``supersede_timeout``
        seconds), so that answer's ``on_finish()`` comes first too. An error raised here
        ends the request before its answer starts (the superseded answer stays stopped)."""

    async def on_finish(self, result: ChatResult) -> None:
        """Called once the answer is over, whatever its ``result.status``. Override to save it."""

    def load_messages(self, chat_id: str | None) -> Any:
        """The conversation saved for ``chat_id`` (sync or async): a list of ``ChatMessage``s
        or of UI message dicts (as ``result.message`` saves them), or None (the default) to
        take the history the client sends. With a list, the server owns the history:
        ``generate()`` gets it and the client's new message only (for a continuation, the
        server's message with the client's verified answers), the client may send only its
        last message (``{"message": ...}``), and a ``messageId`` naming a saved message (an
        edit, a regenerate) cuts the history before it; an edit naming a message not saved
        is refused (409 ``unknown_message``)."""
        return None

    def generate_message_id(self) -> str:
        """The id of a new answer's message."""
        return new_id("msg")

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        """Answer with a stream (a view that is not resumable)."""
        # Async (the store and the session may be read); on the event loop, as_view() awaits it.
        return call_async(self._post, request)

    async def _post(self, request: HttpRequest) -> HttpResponseBase:
        refused = await self.read_chat(request)
        if refused is not None:
            return refused
        await self.on_start()
        return self.stream_response(self.message_stream(self.chat))

    async def apost(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        """Answer with a resumable stream, superseding the chat's answer in progress."""
        refused = await self.read_chat(request)
        if refused is not None:
            return refused
        return await self._start(request)

    async def read_chat(self, request: HttpRequest) -> HttpResponseBase | None:
        """Set ``self.chat`` (and ``self.owner``, ``self.continued``) from the request, or
        refuse it (a 4xx): the body parsed in a thread (a large one must not hold the event
        loop), the history from ``load_messages()``, a continuation checked against what the
        server asked."""
        try:
            chat = await sync_to_async(self.parse_request, thread_sensitive=False)(request)
            self.owner = await self.stream_owner(request)
            saved = await maybe_await(self.load_messages(chat.chat_id))
            if saved is not None:
                chat = _with_saved_history(chat, saved)
            elif chat.only_last:
                raise ChatRequestError(
                    'This chat needs the whole conversation: send "messages", not "message".'
                )
            if chat.continuation and self.verify_continuations:
                chat = await self._verified(chat)
            elif chat.continuation:
                self.continued = chat.messages[-1]
        except ChatRequestError as error:
            return error_response(error.status, error.code, error.message)
        self.chat = chat
        return None

    async def _verified(self, chat: ChatRequest) -> ChatRequest:
        """``chat`` with its last message replaced by the server's, with the answers of the
        client's applied once checked and claimed (``continuations.py``)."""
        store = get_store()
        key = self.chat_key(chat.chat_id or "", self.owner)
        pending = await store.load_pending(key)
        if pending is None:
            raise ChatRequestError(
                "There is no answer waiting for tool results or approvals in this chat.",
                code="invalid_continuation",
            )
        record = json.loads(pending.message)
        self.saved_agent_state = record.get("state")
        message, answered = apply_answers(
            record["message"],
            chat.messages[-1],
            waiting=pending.waiting,
            answered=pending.answered,
        )
        refused = await store.claim(key, answered)
        if refused is not None:  # pragma: no cover - two workers at once: a test across processes
            raise already_answered(refused)
        self.continued = parse_message(message)
        return replace(chat, messages=[*chat.messages[:-1], self.continued])

    def stream_response(self, source: Any) -> SSEResponse:
        response = super().stream_response(source)
        for name, value in PROTOCOL_HEADERS.items():
            response[name] = value
        return response

    def tail_response(self, store: StreamStore, stream_id: str, *, after: int) -> SSEResponse:
        # A failing store ends the answer with the protocol's error part.
        response = self.stream_response(
            _chat_errors(tail(store, stream_id, after=after, ending=self.stream_ending))
        )
        # Which answer this is: a stop may name it, so as to stop nothing newer.
        response[STREAM_ID_HEADER] = stream_id
        return response

    def stream_ending(self, status: EndStatus) -> list[StreamItem]:
        # An answer that completed or failed already ended with its finish or error part.
        if status == "cancelled":
            return [{"type": "abort", "reason": "stopped"}, "[DONE]"]
        if status == "interrupted":
            return [{"type": "error", "errorText": INTERRUPTED_TEXT}, "[DONE]"]
        return []

    def chat_key(self, chat_id: str, owner: str) -> str:
        """The store key of ``owner``'s chat ``chat_id``: its answer in progress, its calls
        waiting for an answer. Another visitor's chat of the same id is another key."""
        view = type(self)
        digest = hashlib.sha256(f"{owner}\0{chat_id}".encode()).hexdigest()[:32]
        return f"{view.__module__}.{view.__qualname__}:{digest}"

    async def find_stream(
        self, store: StreamStore, owner: str, kwargs: dict[str, Any]
    ) -> str | HttpResponseBase | None:
        chat_id = kwargs.get("chat_id", "")
        if not chat_id or len(chat_id) > CHAT_ID_MAX_LENGTH:
            return error_response(404, "not_found", "There is no such chat.")
        stream_id = await store.active(self.chat_key(chat_id, owner))
        if stream_id is None:
            return None
        info = await store.info(stream_id)
        if info is None or info.status != "active" or info.owner != owner:
            return None
        return stream_id

    async def astop(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        """Stop the chat's answer in progress (a 204), on whichever worker runs it; with
        ``?stream=<id>`` (the ``X-Stream-Id`` of the answer the client reads), only if that is
        still the chat's answer in progress: a late stop never stops a newer answer."""
        store = get_store()
        stream_id = await self.find_stream(store, await self.stream_owner(request), kwargs)
        if isinstance(stream_id, HttpResponseBase):
            return stream_id
        meant = request.GET.get("stream")
        if stream_id is not None and (meant is None or secrets.compare_digest(meant, stream_id)):
            await store.request_stop(stream_id)
            metrics.stopped(metrics.view_label(request))
        return HttpResponse(status=204)

    async def _start(self, request: HttpRequest) -> HttpResponseBase:
        chat_id = self.chat.chat_id
        if not chat_id or len(chat_id) > CHAT_ID_MAX_LENGTH:
            return error_response(
                400,
                "invalid_chat_id",
                f"A resumable chat needs the chat's id (at most {CHAT_ID_MAX_LENGTH} characters).",
            )
        store = get_store()
        key = self.chat_key(chat_id, self.owner)
        previous = await self.find_stream(store, self.owner, {"chat_id": chat_id})
        stream_id = new_stream_id()
        await self.create_stream(store, stream_id, self.owner, key=key)
        try:
            if previous is not None:
                # A new question supersedes the answer in progress: stop paying for it, and
                # let it end (and be saved) before this one's question is.
                await store.request_stop(str(previous))
                await self._let_end(store, str(previous))
            await self.on_start()
        except BaseException:
            await store.finish(stream_id, "error", key=key)  # no answer will come
            raise
        self.start_generation(store, stream_id, self.message_stream(self.chat), key=key)
        return self.tail_response(store, stream_id, after=0)

    async def _let_end(self, store: StreamStore, previous: str) -> None:
        """Wait for the answer ``previous``, stopped, to end: up to ``supersede_timeout``
        seconds, and only while fewer than half the pool's threads wait so. Served by
        ``django_streaming.asgi``, a request holds one of them while it waits, and the answer
        it waits for may need one to end (its ``on_finish()`` saving through the ORM): a pool
        of waiting requests would have none left."""
        with _WAITING.slot() as free:
            if not free:
                logger.warning(
                    "Answer %s is stopped but not waited for: half the thread pool already "
                    "waits for the answers its questions supersede.",
                    previous,
                )
            elif not await _ended(store, previous, self.supersede_timeout):
                logger.warning(
                    "Answer %s did not end within %s s of its stop (supersede_timeout): the "
                    "answer superseding it starts all the same.",
                    previous,
                    self.supersede_timeout,
                )

    async def aresume(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        """Replay the chat's answer in progress from its start, or a 204 when there is none."""
        store = get_store()
        owner = await self.stream_owner(request)
        stream_id = await self.find_stream(store, owner, kwargs)
        if isinstance(stream_id, HttpResponseBase):
            return stream_id
        if stream_id is None:
            return HttpResponse(status=204)
        # The AI SDK treats a resume as a replay: the answer again from its start.
        metrics.resumed(metrics.view_label(request))
        return self.tail_response(store, stream_id, after=0)

    def parse_request(self, request: HttpRequest) -> ChatRequest:
        """Read and check the body, within the ``DJANGO_STREAMING`` limits."""
        config = get_config()
        limit = config["MAX_BODY_BYTES"]
        too_large = ChatRequestError(
            f"The body is larger than {limit} bytes.", status=413, code="body_too_large"
        )
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared > limit:
            raise too_large
        body = request.read(limit + 1)
        if len(body) > limit:
            raise too_large
        chat = parse_chat_request(
            body,
            max_messages=config["MAX_MESSAGES"],
            max_message_chars=config["MAX_MESSAGE_CHARS"],
            max_file_bytes=config["MAX_FILE_BYTES"],
        )
        if self.trust_client_system:
            return chat
        messages = [message for message in chat.messages if message.role != "system"]
        if not messages:
            raise ChatRequestError("There is nothing to answer but a system message.")
        return replace(chat, messages=messages)

    async def save_pending(self, answer: Answer) -> None:
        """Keep the answer and the calls it leaves waiting, for the continuation to check."""
        if self.verify_continuations:
            key = self.chat_key(self.chat.chat_id or "", self.owner)
            message = answer.message
            record = {"message": message, "state": self.agent_state}
            await get_store().save_pending(
                key, json.dumps(record), pending_calls(message), continued=bool(self.continued)
            )

    async def message_stream(self, chat: ChatRequest) -> AsyncIterator[StreamItem]:
        """The protocol's parts around what ``generate()`` yields."""
        status: Status = "cancelled"  # unless we get to the end, or to an error
        failure: Exception | None = None
        finish_reason: str | None = None
        answer = Answer()  # in case the one below fails: on_finish() still gets a result
        watch: metrics.AnswerWatch | None = None
        try:
            # A continuation (the client's tool outputs or approvals) carries on the same message.
            answer = Answer(self.continued, message_id=self.generate_message_id())
            start = await maybe_await(self.start_metadata())
            if metrics.watching():
                request = getattr(self, "request", None)
                watch = metrics.AnswerWatch(request, chat.chat_id, start)
            for part in answer.start(start):
                yield part
            async with _closing(self.generate(chat.messages)) as generated:
                async for item in generated:
                    if watch is not None:
                        watch_item(watch, item)
                    for part in answer.parts_for(item):
                        yield part
            reason = answer.finish_reason()  # what generate() left it: end() changes nothing
            provisional = self._result(chat, answer, "completed", None, reason)
            metadata = await maybe_await(self.finish_metadata(provisional))
            ending = answer.end(metadata)
            await self.save_pending(answer)  # before the client can answer what it asks
            for part in ending:
                yield part
            status, finish_reason = "completed", reason
        except Exception as error:
            status, failure = "error", error
            logger.error("Error while generating a chat answer", exc_info=error)
            yield {"type": "error", "errorText": _error_text(error)}
        finally:
            if watch is not None:
                watch.end(
                    status,
                    finish_reason,
                    answer.metadata,
                    len(answer.texts),
                    answer.text(),
                    failure,
                )
            try:
                await self.on_finish(self._result(chat, answer, status, failure, finish_reason))
            except Exception:
                logger.exception("Error in on_finish()")
        yield "[DONE]"

    def start_metadata(self) -> Any:
        """Metadata for the ``start`` part (a dict, or an awaitable of one; None: none): the
        model's name, say."""
        return None

    def finish_metadata(self, result: ChatResult) -> Any:
        """Metadata for the ``finish`` part, given the answer so far (a dict, or an awaitable
        of one; None: none): token usage, say."""
        return None

    def _result(
        self,
        chat: ChatRequest,
        answer: Answer,
        status: Status,
        failure: Exception | None,
        finish_reason: str | None,
    ) -> ChatResult:
        return ChatResult(
            messages=chat.messages,
            text=answer.text(),
            status=status,
            message_id=answer.message_id,
            chat_id=chat.chat_id,
            error=failure,
            message=answer.message,
            finish_reason=finish_reason,
        )


class _Waiting:
    """How many requests of this process wait for an answer they superseded to end."""

    def __init__(self) -> None:
        self.count = 0
        self.lock = threading.Lock()

    @contextmanager
    def slot(self) -> Iterator[bool]:
        """Counted for the block, and True, while fewer than half the pool's threads wait."""
        with self.lock:
            free = self.count < POOL.size // 2
            if free:
                self.count += 1
        try:
            yield free
        finally:
            if free:
                with self.lock:
                    self.count -= 1


_WAITING = _Waiting()


async def _ended(store: StreamStore, stream_id: str, timeout: float) -> bool:
    """Wait up to ``timeout`` seconds for ``stream_id`` to end (or its worker to be found
    gone); whether it did. Its entries are read as they come only to tell when no more do."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    interval = store.liveness_interval
    after = 0
    async with store.follow(stream_id) as reader:
        while (left := deadline - loop.time()) > 0:
            wait = left if interval is None else min(left, interval)
            entries, status = await reader.read(after, timeout=wait)
            if status is not None:
                return True
            if entries:
                after = entries[-1][0]
            elif interval is not None and not await store.is_alive(stream_id):
                return True  # its worker died: it will never end by itself
    return False


async def _chat_errors(source: AsyncIterator[Any]) -> AsyncIterator[Any]:
    """A failure of the store, as the protocol's error part rather than a bare SSE event."""
    try:
        async for item in source:
            yield item
    except Exception as error:
        logger.error("Error while tailing a chat answer", exc_info=error)
        yield {"type": "error", "errorText": _error_text(error)}
        yield "[DONE]"


@asynccontextmanager
async def _closing(items: AsyncIterator[Any]) -> AsyncIterator[AsyncIterator[Any]]:
    """``items``, closed on the way out when it can be (an async generator): a failure or a
    stop must not leave ``generate()``'s clean-up to the garbage collector."""
    try:
        yield items
    finally:
        aclose = getattr(items, "aclose", None)
        if aclose is not None:
            await aclose()


def _with_saved_history(chat: ChatRequest, saved: Any) -> ChatRequest:
    """``chat`` with the server's history: the saved messages (up to the one ``messageId``
    names, for an edit or a regenerate), then the client's last message, unless that is a
    saved message (a continuation, or a regenerate)."""
    if not isinstance(saved, list):
        raise TypeError(f"load_messages() must return a list or None, not {type(saved).__name__}.")
    history = [
        message if isinstance(message, ChatMessage) else parse_message(message, f"saved[{index}]")
        for index, message in enumerate(saved)
    ]
    ids = [message.id for message in history]
    last = chat.messages[-1]
    if chat.message_id is not None and chat.message_id in ids:
        history = history[: ids.index(chat.message_id)]
        ids = ids[: len(history)]
    elif chat.message_id is not None and _is_edit(chat):
        # An edit of a message the server never saved (another tab's, a forged id): taking it
        # as a new question would keep the answers the client thinks it replaced.
        raise ChatRequestError(
            f"The message to edit ({chat.message_id!r}) is not one this chat has saved: "
            "reload the chat.",
            status=409,
            code="unknown_message",
        )
    if last.id is not None and last.id in ids and not chat.continuation:
        # A saved question answered again (a regenerate): the history up to it.
        return replace(chat, messages=history[: ids.index(last.id) + 1])
    if chat.continuation:
        # The continued message's saved copy goes: the verified one takes its place.
        history = [message for message in history if message.id != last.id]
    return replace(chat, messages=[*history, last])


def _is_edit(chat: ChatRequest) -> bool:
    """Whether ``chat`` resends an edited question (``sendMessage({messageId})``): a new user
    message naming the message it replaces, not a continuation nor a regenerate."""
    return chat.trigger == "submit-message" and chat.messages[-1].role == "user"


def _error_text(error: Exception) -> str:
    if isinstance(error, ChatError):
        return error.message
    return f"{type(error).__name__}: {error}" if settings.DEBUG else GENERIC_ERROR_TEXT
