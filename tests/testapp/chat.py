"""A chat view for the tests: the last message's text, one of the ``Prompt`` names, picks what
it does; any other text is answered "You said: <text>"."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

from django_streaming import (
    ChatError,
    ChatMessage,
    ChatPart,
    ChatResult,
    ChatStreamView,
    DataPart,
    ReasoningDelta,
    SourceURL,
)
from tests.support.probes import probe

MARKDOWN = (
    "# Title\n\nSome *emphasis*, **strong** and `inline code`.\n\n"
    "- one\n- two\n\n1. first\n2. second\n\n"
    "```python\nprint('hi')\n```\n\n[a link](https://example.com/page)\n"
)
XSS = (
    '<img src=x onerror="window.pwned=1"> <script>window.pwned=2</script>\n\n'
    "[click](javascript:window.pwned=3) and ![img](javascript:window.pwned=4)\n\n"
    "[ok](/relative) [mail](mailto:a@example.com)\n"
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
    ``XSS``              ``XSS``: markup and links the widget must render inert
    ``UNCLOSED``         an open code fence, then waits for the probe's gate before closing it
    ``TRICKY``           ``TRICKY``'s pieces: emoji, CJK, line endings, an SSE-looking line
    ``lines(n, delay)``  n paragraphs, ``delay`` seconds apart (a long answer that scrolls)
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
    XSS = "xss"
    UNCLOSED = "unclosed"
    TRICKY = "tricky"

    @staticmethod
    def lines(count: int, delay: float = 0.02) -> str:
        return f"lines:{count}:{delay}"


results: dict[str, list[ChatResult]] = {}
triggers: dict[str, list[str]] = {}


class TestChat(ChatStreamView):
    heartbeat = 0.5

    async def generate(self, messages: list[ChatMessage]) -> AsyncIterator[ChatPart]:
        text = messages[-1].text
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
            count, _, delay = text.removeprefix("lines:").partition(":")
            for number in range(int(count)):
                yield f"Line {number} of a long answer.\n\n"
                await asyncio.sleep(float(delay or 0.02))
            return
        yield "You said: "
        yield text

    on_finish_fails = False

    async def on_finish(self, result: ChatResult) -> None:
        key = result.chat_id or "-"
        results.setdefault(key, []).append(result)
        probe(key).finish(cancelled=result.status == "cancelled")
        if self.on_finish_fails:
            raise RuntimeError("on_finish failed")


class ResumableChat(TestChat):
    resumable = True
