"""Views the tests stream from. Query parameters shape each stream."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

from asgiref.sync import async_to_sync
from django.contrib.auth.mixins import LoginRequiredMixin, PermissionRequiredMixin
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.utils import translation

from django_streaming import Event, SSEResponse, SSEView, StreamItem, error_response
from django_streaming.chat.continuations import pending_calls
from django_streaming.stores import get_store
from tests.support.probes import probe


def _number(request: HttpRequest, name: str, default: float) -> float:
    return float(request.GET.get(name, default))


class CountView(SSEView):
    """``n`` events ``0..n-1`` with ``delay`` seconds before each; ``token`` records clean-up."""

    async def stream(
        self, request: HttpRequest, *args: Any, **kwargs: Any
    ) -> AsyncIterator[StreamItem]:
        state = probe(request.GET.get("token", "-"))
        state.started.set()
        delay = _number(request, "delay", 0)
        try:
            for number in range(int(_number(request, "n", 3))):
                if delay:
                    await asyncio.sleep(delay)
                yield Event(data=str(number), id=str(number))
        except asyncio.CancelledError:
            state.finish(cancelled=True)
            raise
        state.finish(cancelled=False)


class SyncCountView(SSEView):
    """The sync twin of ``CountView``."""

    def stream(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Iterator[StreamItem]:
        state = probe(request.GET.get("token", "-"))
        state.started.set()
        delay = _number(request, "delay", 0)
        completed = False
        try:
            for number in range(int(_number(request, "n", 3))):
                if delay:
                    time.sleep(delay)
                yield Event(data=str(number), id=str(number))
            completed = True
        finally:
            state.finish(cancelled=not completed)


class GateView(SSEView):
    """Sends "before", waits until the test opens the probe's gate, then sends "after"."""

    async def stream(
        self, request: HttpRequest, *args: Any, **kwargs: Any
    ) -> AsyncIterator[StreamItem]:
        state = probe(request.GET.get("token", "-"))
        try:
            yield "before"
            state.started.set()
            await asyncio.to_thread(state.gate.wait, 30)
            yield "after"
        except asyncio.CancelledError:
            state.finish(cancelled=True)
            raise
        state.finish(cancelled=False)


class SyncGateView(SSEView):
    """The sync twin of ``GateView``."""

    def stream(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Iterator[StreamItem]:
        state = probe(request.GET.get("token", "-"))
        completed = False
        try:
            yield "before"
            state.started.set()
            state.gate.wait(30)
            yield "after"
            completed = True
        finally:
            state.finish(cancelled=not completed)


class WaitForeverView(SSEView):
    """One event, then waits until the client leaves."""

    async def stream(
        self, request: HttpRequest, *args: Any, **kwargs: Any
    ) -> AsyncIterator[StreamItem]:
        state = probe(request.GET.get("token", "-"))
        yield "ready"
        state.started.set()
        try:
            await asyncio.Event().wait()
        finally:
            state.finish(cancelled=True)


class SilentThenDoneView(SSEView):
    """Silent for ``silence`` seconds (so heartbeats flow), then one event."""

    heartbeat = 0.2

    async def stream(
        self, request: HttpRequest, *args: Any, **kwargs: Any
    ) -> AsyncIterator[StreamItem]:
        await asyncio.sleep(_number(request, "silence", 1))
        yield "done"


class FailingView(SSEView):
    async def stream(
        self, request: HttpRequest, *args: Any, **kwargs: Any
    ) -> AsyncIterator[StreamItem]:
        yield "before"
        raise RuntimeError("secret detail")


class MultilineView(SSEView):
    retry = 2500

    async def stream(
        self, request: HttpRequest, *args: Any, **kwargs: Any
    ) -> AsyncIterator[StreamItem]:
        yield "line one\nline two\r\nline three"
        yield {"emoji": "😀", "cjk": "漢字"}
        yield Event(event="custom", data="x", id="7")
        yield b"data: raw\n\n"


class LastEventIdView(SSEView):
    async def stream(
        self, request: HttpRequest, *args: Any, **kwargs: Any
    ) -> AsyncIterator[StreamItem]:
        yield {"last_event_id": self.last_event_id}


class ProtectedView(LoginRequiredMixin, SSEView):
    raise_exception = True

    async def stream(
        self, request: HttpRequest, *args: Any, **kwargs: Any
    ) -> AsyncIterator[StreamItem]:
        user = await request.auser()
        yield {"user": user.get_username()}


class PermissionView(PermissionRequiredMixin, SSEView):
    permission_required = "auth.view_user"

    async def stream(
        self, request: HttpRequest, *args: Any, **kwargs: Any
    ) -> AsyncIterator[StreamItem]:
        yield "allowed"


async def function_view(request: HttpRequest) -> SSEResponse:
    async def numbers() -> AsyncIterator[int]:
        for number in range(3):
            yield number

    return SSEResponse(numbers(), heartbeat=None)


def probe_view(request: HttpRequest, token: str) -> HttpResponse:
    state = probe(token)
    return JsonResponse(
        {
            "started": state.started.is_set(),
            "finished": state.finished.is_set(),
            "cancelled": state.cancelled,
        }
    )


#: Saved UI messages (as ChatResult.message gives them) for the widget to draw from history.
AGENT_HISTORY: list[dict[str, Any]] = [
    {"id": "h0", "role": "user", "parts": [{"type": "text", "text": "Tell me"}]},
    {
        "id": "h3",
        "role": "assistant",
        "status": "stopped",
        "parts": [{"type": "text", "text": "Half an answer, cut", "state": "streaming"}],
    },
    {
        "id": "h1",
        "role": "user",
        "parts": [
            {"type": "file", "mediaType": "text/plain", "url": "data:,hi", "filename": "a.txt"},
            {"type": "text", "text": "Rename this chat"},
        ],
    },
    {
        "id": "h2",
        "role": "assistant",
        "parts": [
            {"type": "step-start"},
            {"type": "reasoning", "text": "The user wants a new title.", "state": "done"},
            {"type": "text", "text": "Looking </script><b>it</b> up.", "state": "done"},
            {
                "type": "tool-search",
                "toolCallId": "h-search",
                "state": "output-available",
                "input": {"query": "<img src=x onerror=window.pwned=1>"},
                "output": {"hits": 2},
                "title": "Web search",
            },
            {
                "type": "tool-rename_chat",
                "toolCallId": "call-rename",
                "state": "approval-requested",
                "input": {"title": "Renamed chat"},
                "approval": {"id": "approval-rename"},
            },
        ],
    },
]


async def _asked_before_the_reload(request: HttpRequest, chat_id: str, message: Any) -> None:
    """What the server did when it streamed ``message`` to this visitor: its calls that wait
    (an approval) wait in the store, where the continuation must find them."""
    from tests.testapp.chat import TestChat

    view = TestChat()
    key = view.chat_key(chat_id, await view.stream_owner(request))
    record = {"message": message, "state": None}
    await get_store().save_pending(key, json.dumps(record), pending_calls(message))


#: Saved messages with parts the widget cannot draw, among parts it can.
BAD_HISTORY: list[dict[str, Any]] = [
    {
        "id": "b0",
        "role": "user",
        "parts": [
            {"type": "file", "url": "data:,hi", "filename": "no-type.txt"},  # no mediaType
            {"type": "text", "text": "First question"},
        ],
    },
    {
        "id": "b1",
        "role": "assistant",
        "parts": [
            {"text": "a part without a type"},
            {"type": "text", "text": "First answer"},
            {
                "type": "tool-score",
                "toolCallId": "call-score",
                "state": "output-available",
                "input": {},
                "output": {"score": float("nan")},  # as json.loads reads a saved NaN
            },
        ],
    },
    {"id": "b2", "role": "user", "parts": [{"type": "text", "text": "Second question"}]},
    {"id": "b3", "role": "assistant", "parts": [{"type": "text", "text": "Second **answer**"}]},
]


#: The suggestions of the widget page's empty state.
SUGGESTIONS = ["Tell me a joke", "What time is it?"]
#: A saved answer with a data part, as a chat that renamed itself saves it.
DATA_HISTORY = [
    {"role": "user", "id": "m-question", "text": "Rename this chat"},
    {
        "role": "assistant",
        "id": "m-saved",
        "parts": [
            {"type": "text", "text": "Renamed."},
            {"type": "data-chat-title", "id": "title", "data": {"title": "Saved title"}},
        ],
    },
]


#: A saved answer in Arabic with a code block whose line is longer than the block is wide.
ARABIC_HISTORY = [
    {"role": "user", "id": "m-ar-question", "text": "اكتب شيفرة"},
    {
        "role": "assistant",
        "id": "m-ar-answer",
        "text": "هذه هي الشيفرة:\n\n```python\nprint('" + "x" * 150 + "')\n```\n",
    },
]


def widget_page(request: HttpRequest) -> HttpResponse:
    """The widget with its options from the query: ``lang`` (activated), ``dir`` (the page's),
    ``theme`` (the tag's), ``page_theme`` (an ancestor's data-theme), ``send_label`` (a string
    override), ``suggest`` (suggestions and an empty text), ``data`` (a saved data part),
    ``arabic`` (a saved answer in Arabic with code)."""
    query = request.GET
    language = query.get("lang", "en")
    context = {
        "language": language,
        "direction": query.get("dir", "ltr"),
        "theme": query.get("theme"),
        "page_theme": query.get("page_theme"),
        "strings": {"send": query["send_label"]} if "send_label" in query else None,
        "suggestions": SUGGESTIONS if "suggest" in query else [],
        "empty_text": "Ask me anything" if "suggest" in query else None,
        "history": DATA_HISTORY if "data" in query else ARABIC_HISTORY if "arabic" in query else [],
    }
    with translation.override(language):
        return render(request, "testapp/widget.html", context)


def chat_page(request: HttpRequest) -> HttpResponse:
    history: list[Any] = [
        {"role": "user", "text": "Earlier <b>question</b>"},
        {"role": "assistant", "text": "Earlier **answer**"},
    ]
    chat_id = request.GET.get("chat")
    if "agent" in request.GET:
        history = AGENT_HISTORY
        chat_id = chat_id or "saved-agent-chat"
        async_to_sync(_asked_before_the_reload)(request, chat_id, AGENT_HISTORY[-1])

    if "bad" in request.GET:
        history = BAD_HISTORY
    if "saved" in request.GET:  # an answer the page has saved, as its stream still ends
        history = [history[0], {**history[1], "id": request.GET["saved"]}]
    shown = {"history", "agent", "bad", "saved"} & set(request.GET)
    context = {
        "history": history if shown else [],
        "second": "two" in request.GET,
        "endpoint": request.GET.get("endpoint", "test-chat"),
        "chat_id": chat_id,
        "resumable": "resumable" in request.GET,
        "tools": "tools" in request.GET,
        "image_hosts": request.GET.get("image_hosts"),
        "send": request.GET.get("send", "all"),
        "math": request.GET.get("math") != "off",
        "highlight": request.GET.get("highlight") != "off",
        "feedback_url": request.GET.get("feedback"),
        "locks": "locks" in request.GET,  # no SharedWorker: streams.js's Web Locks path
    }
    if "resumable" in request.GET:
        context["endpoint"] = request.GET.get("endpoint", "/resumable-chat-csrf/")
    response = render(request, "testapp/chat.html", context)
    if "csp" in request.GET:
        response["Content-Security-Policy"] = "default-src 'self'; script-src 'self'"
    return response


async def byte_by_byte(request: HttpRequest) -> StreamingHttpResponse:
    """A protocol stream sent one byte per chunk, splitting every multi-byte character."""
    body = (
        "".join(
            "data: " + json.dumps(part, ensure_ascii=False) + "\n\n"
            for part in [
                {"type": "start", "messageId": "m"},
                {"type": "text-start", "id": "t"},
                {"type": "text-delta", "id": "t", "delta": "Emoji 😀👍🏽 and 漢字かな"},
                {"type": "text-delta", "id": "t", "delta": " — done"},
                {"type": "text-end", "id": "t"},
                {"type": "finish"},
            ]
        ).encode()
        + b"data: [DONE]\n\n"
    )

    async def one_byte_each() -> AsyncIterator[bytes]:
        for index in range(len(body)):
            yield body[index : index + 1]
            await asyncio.sleep(0)

    response = StreamingHttpResponse(one_byte_each(), content_type="text/event-stream")
    response["x-vercel-ai-ui-message-stream"] = "v1"
    return response


def bad_chunks(request: HttpRequest) -> HttpResponse:
    """An answer with chunks the widget cannot draw among those it can."""
    events = [
        {"type": "start", "messageId": "m"},
        {"type": "text-start", "id": "t"},
        {"type": "text-delta", "id": "t", "delta": "Before the file. "},
        {"type": "file", "url": "data:,hi"},  # no mediaType
        "{not json",
        {"delta": "a chunk without a type"},
        {"type": "text-delta", "id": "t", "delta": "After it."},
        {"type": "text-end", "id": "t"},
        {"type": "finish"},
        "[DONE]",
    ]
    body = "".join(
        f"data: {event if isinstance(event, str) else json.dumps(event)}\n\n" for event in events
    )
    response = HttpResponse(body, content_type="text/event-stream")
    response["x-vercel-ai-ui-message-stream"] = "v1"
    return response


def stream_id(kind: str, chat_id: str) -> str:
    """The X-Stream-Id the stream-id chat gives an answer: one that needs URL-encoding."""
    return f"{kind}/{chat_id} &?+="


def _waiting_answer(header: str | None) -> StreamingHttpResponse:
    """A partial answer that waits until the client leaves, with ``header`` as X-Stream-Id."""

    async def parts() -> AsyncIterator[bytes]:
        for part in [
            {"type": "start", "messageId": "m"},
            {"type": "text-start", "id": "t"},
            {"type": "text-delta", "id": "t", "delta": "partial answer"},
        ]:
            yield f"data: {json.dumps(part)}\n\n".encode()
        await asyncio.Event().wait()  # until Stop aborts the request

    response = StreamingHttpResponse(parts(), content_type="text/event-stream")
    response["x-vercel-ai-ui-message-stream"] = "v1"
    if header is not None:
        response["X-Stream-Id"] = header
    return response


async def stream_id_chat(request: HttpRequest, mode: str) -> HttpResponseBase:
    """The resumable chat's URLs as a newer server answers them (``mode`` ``post``: the POST's
    answer has an X-Stream-Id; ``resume``: the resume's has one) or an older one (``old``:
    none), so that the tests see what the widget's Stop sends. The stop does nothing."""
    chat_id = json.loads(request.body)["id"]
    return _waiting_answer(stream_id("post", chat_id) if mode == "post" else None)


async def stream_id_resume(request: HttpRequest, mode: str, chat_id: str) -> HttpResponseBase:
    if mode != "resume":
        return HttpResponse(status=204)
    return _waiting_answer(stream_id("resume", chat_id))


def stream_id_stop(request: HttpRequest, mode: str, chat_id: str) -> HttpResponse:
    return HttpResponse(status=202)


def last_message_chat(request: HttpRequest) -> HttpResponse:
    """A chat that is sent only the last message (``send="last"``) and answers it; "flaky"
    fails after some text unless regenerated."""
    body = json.loads(request.body)
    text = "".join(part["text"] for part in body["message"]["parts"] if part["type"] == "text")
    parts: list[dict[str, Any]] = [
        {"type": "start", "messageId": "answer-1"},
        {"type": "text-start", "id": "t"},
    ]
    if text == "flaky" and body["trigger"] == "submit-message":
        parts += [
            {"type": "text-delta", "id": "t", "delta": "partial"},
            {"type": "error", "errorText": "It failed."},
        ]
    else:
        parts += [
            {"type": "text-delta", "id": "t", "delta": f"You said: {text}"},
            {"type": "text-end", "id": "t"},
            {"type": "finish"},
        ]
    events = "".join(f"data: {json.dumps(part)}\n\n" for part in parts) + "data: [DONE]\n\n"
    response = HttpResponse(events, content_type="text/event-stream")
    response["x-vercel-ai-ui-message-stream"] = "v1"
    return response


#: The votes the widget's feedback buttons POSTed.
votes: list[dict[str, Any]] = []


def feedback(request: HttpRequest) -> HttpResponse:
    """A ``feedback_url``: keeps the vote (CSRF-protected, as any view: the widget sends it)."""
    votes.append(json.loads(request.body))
    return HttpResponse(status=204)


def overloaded(request: HttpRequest) -> HttpResponse:
    return error_response(503, "overloaded", "The model is overloaded; try again in a minute.")


class ResumableCountView(SSEView):
    """``CountView``, resumable: ``n`` events ``0..n-1``, ``delay`` seconds apart; with
    ``gate`` it waits for the test to open the probe's gate before the last one."""

    resumable = True
    heartbeat = 0.5

    async def stream(
        self, request: HttpRequest, *args: Any, **kwargs: Any
    ) -> AsyncIterator[StreamItem]:
        state = probe(request.GET.get("token", "-"))
        state.started.set()
        delay = _number(request, "delay", 0)
        count = int(_number(request, "n", 3))
        try:
            for number in range(count):
                if "gate" in request.GET and number == count - 1:
                    await asyncio.to_thread(state.gate.wait, 30)
                if delay:
                    await asyncio.sleep(delay)
                yield str(number)
            if "fail" in request.GET:
                raise RuntimeError("secret detail")
        except asyncio.CancelledError:
            state.finish(cancelled=True)
            raise
        state.finish(cancelled=False)


class ProtectedResumableView(LoginRequiredMixin, ResumableCountView):
    """A resumable stream behind a mixin: its dispatch runs in a thread, its store work on the
    loop; resume and stop are bound to the user, not to one browser's session."""

    raise_exception = True


class FirehoseView(SSEView):
    """16 KiB events as fast as the client takes them, for ever; ``token`` records the end."""

    async def stream(
        self, request: HttpRequest, *args: Any, **kwargs: Any
    ) -> AsyncIterator[StreamItem]:
        state = probe(request.GET.get("token", "-"))
        state.started.set()
        try:
            while True:
                yield "x" * 16384
                await asyncio.sleep(0)
        finally:
            state.finish(cancelled=True)


#: The useChat page's bundle, which tests/browser/test_use_chat.py builds with esbuild.
REACT_BUNDLE = Path(__file__).resolve().parents[1] / "browser" / "react" / "dist" / "app.js"


def react_page(request: HttpRequest) -> HttpResponse:
    page = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>useChat</title>'
        '</head><body><div id="root"></div>'
        '<script type="module" src="/react/app.js"></script></body></html>'
    )
    return HttpResponse(page)


def react_bundle(request: HttpRequest) -> HttpResponse:
    return HttpResponse(REACT_BUNDLE.read_bytes(), content_type="text/javascript")
