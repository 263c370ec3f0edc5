"""Model back-ends behind one small interface, chosen by the environment.

* ``simulated`` (the default): no network; a varied markdown answer that depends on the
  question, at a steady pace (``SIMULATED_TOKENS_PER_SECOND``, default 30).
* ``openai``: any OpenAI-compatible chat-completions API through the official ``openai``
  package, configured by ``OPENAI_BASE_URL``, ``OPENAI_API_KEY`` and ``OPENAI_MODEL``. Chosen
  when ``CHAT_BACKEND=openai``, or when ``OPENAI_BASE_URL`` or ``OPENAI_API_KEY`` is set. It
  runs a real tool loop with the example's tools, on ``django_streaming.agents.openai``.
* ``pydantic-ai`` (``CHAT_BACKEND=pydantic-ai``): the same tools as a pydantic-ai agent on the
  same API settings, streamed by django-streaming's pydantic-ai adapter (``pydantic_backend.py``).

Each answers ``respond(messages, toolbox, continuing)`` with the parts of a chat answer.

API failures become a ``ChatError`` whose text the user may read.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
from collections.abc import AsyncIterator, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from django_streaming import (
    ApprovalRequest,
    ChatError,
    ChatMessage,
    ChatPart,
    Finish,
    Step,
    ToolCall,
    ToolInputError,
    ToolResult,
)
from django_streaming.agents.openai import chat_completions_parts, chat_messages

from .tools import (
    KINDS,
    SCHEMAS,
    TITLES,
    Toolbox,
    continue_after_tools,
    use_tools,
    wants_a_tool,
)

if TYPE_CHECKING:
    from openai.types.chat import ChatCompletionMessageParam

T = TypeVar("T")


class ModelBackend(Protocol):
    def respond(
        self, messages: list[ChatMessage], toolbox: Toolbox, continuing: bool
    ) -> AsyncIterator[ChatPart]:
        """The answer to ``messages``, using the tools of ``toolbox``; ``continuing`` when the
        browser sent its tool outputs or the user's approvals."""
        ...


def get_backend(environ: Mapping[str, str] = os.environ) -> ModelBackend:
    choice = environ.get("CHAT_BACKEND", "")
    if choice == "openai" or (
        not choice and (environ.get("OPENAI_BASE_URL") or environ.get("OPENAI_API_KEY"))
    ):
        return OpenAIBackend(
            base_url=environ.get("OPENAI_BASE_URL") or None,
            api_key=environ.get("OPENAI_API_KEY", "not-needed"),
            model=environ.get("OPENAI_MODEL", "gpt-4o-mini"),
            timeout=float(environ.get("OPENAI_TIMEOUT", "60")),
        )
    if choice == "pydantic-ai":
        from .pydantic_backend import PydanticAIBackend

        return PydanticAIBackend(
            base_url=environ.get("OPENAI_BASE_URL") or None,
            api_key=environ.get("OPENAI_API_KEY", "not-needed"),
            model=environ.get("OPENAI_MODEL", "gpt-4o-mini"),
            timeout=float(environ.get("OPENAI_TIMEOUT", "60")),
        )
    if choice not in ("", "simulated"):
        raise ValueError(
            f"CHAT_BACKEND must be 'simulated' or 'openai' or 'pydantic-ai', not {choice!r}."
        )
    return SimulatedBackend(float(environ.get("SIMULATED_TOKENS_PER_SECOND", "30")))


TOPICS = [
    ("Python", "python", 'def greet(name):\n    return f"Hello, {name}!"'),
    ("JavaScript", "js", "const greet = (name) => `Hello, ${name}!`;"),
    ("SQL", "sql", "SELECT title, COUNT(*) AS messages\nFROM chat_conversation\nGROUP BY title;"),
]


class SimulatedBackend:
    """A stand-in model: deterministic for a given question, varied across questions."""

    def __init__(self, tokens_per_second: float = 30.0) -> None:
        self.pause = 1 / tokens_per_second if tokens_per_second > 0 else 0.0

    def answer(self, question: str) -> str:
        digest = hashlib.sha256(question.encode()).digest()
        topic, language, code = TOPICS[digest[0] % len(TOPICS)]
        steps = 2 + digest[1] % 3
        quoted = question.strip().splitlines()[0][:80] if question.strip() else "(nothing)"
        lines = [
            f"## About “{quoted}”",
            "",
            f"Here is a simulated answer with a **{topic}** flavour. 🚀",
            "",
            "### Steps",
            "",
            *[f"{n}. Step {n}: *think*, then `act`." for n in range(1, steps + 1)],
            "",
            f"```{language}",
            code,
            "```",
            "",
            "| Token | Meaning |",
            "|---|---|",
            "| 你好 | hello |",
            "| ありがとう | thank you |",
            "",
            "- Streams token by token",
            "- Saved when finished, stopped or failed ✅",
        ]
        return "\n".join(lines) + "\n"

    async def respond(
        self, messages: list[ChatMessage], toolbox: Toolbox, continuing: bool
    ) -> AsyncIterator[ChatPart]:
        # The tools by question (tools.py): a stand-in for a model that picks them.
        if continuing:
            async for part in continue_after_tools(messages[-1], toolbox):
                yield part
            return
        question = _question(messages)
        parts = use_tools(question, toolbox) if wants_a_tool(question) else self.stream(messages)
        async for part in parts:
            yield part

    async def stream(self, messages: list[ChatMessage]) -> AsyncIterator[str]:
        question = _question(messages)
        # Tokens of a word or a run of spaces/punctuation, like a real model's.
        for token in re.findall(r"\s*\S+|\s+", self.answer(question)):
            yield token
            await asyncio.sleep(self.pause)


#: Model calls in one answer at most: a model that keeps calling tools is stopped there.
MAX_STEPS = 8


class ApiBackend:
    """A back-end on an OpenAI-compatible API: its address, key, model and timeout."""

    def __init__(
        self, *, base_url: str | None, api_key: str, model: str, timeout: float = 60.0
    ) -> None:
        self.base_url = base_url
        self.api_key = api_key
        self.model = model
        self.timeout = timeout


class OpenAIBackend(ApiBackend):
    async def respond(
        self, messages: list[ChatMessage], toolbox: Toolbox, continuing: bool
    ) -> AsyncIterator[ChatPart]:
        """A real tool loop over chat completions (``django_streaming.agents.openai`` maps
        the stream and the conversation): the model's streamed text and tool calls, the
        server's tools run and their results sent back, step after step until the model
        stops or waits for the user (an approval) or the browser (a client-side tool). Images
        attached to user messages go to the model too."""
        settled: dict[str, Any] = {}
        if continuing:  # run what the user approved first; the model then goes on
            parts, settled = await toolbox.settle(messages[-1])
            for part in parts:
                yield part
            yield Step()
        conversation = chat_messages(messages, outputs=settled)
        async for part in self.guarded(self._steps(conversation, toolbox)):
            yield part

    async def guarded(self, parts: AsyncIterator[T]) -> AsyncIterator[T]:
        """``parts``, with the API's failures as ``ChatError``s the user may read."""
        import httpx
        import openai

        try:
            async for part in parts:
                yield part
        except openai.AuthenticationError:
            raise ChatError("The model API refused our key (401): check OPENAI_API_KEY.") from None
        except openai.RateLimitError:
            raise ChatError("The model API is rate-limited (429); try again in a minute.") from None
        except openai.APITimeoutError:
            raise ChatError("The model API did not answer in time.") from None
        except (openai.APIConnectionError, httpx.TransportError):
            # A refused connection, or one that dropped in the middle of the answer.
            raise ChatError("The connection to the model API was lost.") from None
        except openai.APIStatusError as error:
            raise ChatError(f"The model API failed ({error.status_code}).") from None

    async def _steps(
        self, conversation: list[ChatCompletionMessageParam], toolbox: Toolbox
    ) -> AsyncIterator[ChatPart]:
        import openai

        # A client per answer, closed with it: its connections belong to this event loop.
        client = openai.AsyncOpenAI(
            base_url=self.base_url, api_key=self.api_key, timeout=self.timeout, max_retries=0
        )
        finish: Finish | None = None
        async with client:
            for step in range(MAX_STEPS):
                if step:
                    yield Step()
                stream = await client.chat.completions.create(
                    model=self.model,
                    messages=conversation,
                    tools=SCHEMAS,  # type: ignore[arg-type]
                    stream=True,
                    stream_options={"include_usage": True},
                )
                text: list[str] = []
                calls: list[ToolCall | ToolInputError] = []
                async for part in chat_completions_parts(stream):
                    if isinstance(part, Finish):
                        finish = part  # the last model call's is the answer's
                    elif isinstance(part, (ToolCall, ToolInputError)):
                        calls.append(part)  # yielded as it runs, below
                    else:
                        text += [part] if isinstance(part, str) else []
                        yield part
                if not calls:
                    break
                conversation.append(
                    {
                        "role": "assistant",
                        "content": "".join(text) or None,
                        "tool_calls": [
                            {"id": call.id, "type": "function",
                             "function": {"name": call.name, "arguments": _arguments(call)}}
                            for call in calls
                        ],
                    }
                )  # fmt: skip
                waiting = False
                for call in calls:
                    async for output in self._call(call, conversation, toolbox):
                        if output is None:
                            waiting = True
                        else:
                            yield output
                if waiting:
                    break  # the user's approval, or the browser's output, comes back later
        if finish is not None:
            yield finish

    async def _call(
        self,
        call: ToolCall | ToolInputError,
        conversation: list[ChatCompletionMessageParam],
        toolbox: Toolbox,
    ) -> AsyncIterator[ChatPart | None]:
        """One tool call's parts; None when it waits for the user or the browser."""
        if isinstance(call, ToolCall) and call.name not in KINDS:
            call = ToolInputError(call.id, call.name, call.input, "unknown tool")
        if isinstance(call, ToolInputError):
            yield call
            conversation.append({"role": "tool", "tool_call_id": call.id, "content": call.text})
            return
        yield replace(call, title=TITLES[call.name])
        kind = KINDS[call.name]
        if kind == "server":
            output = await toolbox.run(call.name, call.input)
            yield ToolResult(call.id, output)
            conversation.append(
                {"role": "tool", "tool_call_id": call.id, "content": json.dumps(output)}
            )
        elif kind == "approval":
            yield ApprovalRequest(call.id)
            yield None
        else:
            yield None


def _arguments(call: ToolCall | ToolInputError) -> str:
    """A call's arguments as the model is told them: ``{}`` for ones that were not an object."""
    return json.dumps(call.input if isinstance(call, ToolCall) else {})


def _question(messages: list[ChatMessage]) -> str:
    """The last question asked."""
    return next((m.text for m in reversed(messages) if m.role == "user"), "")
