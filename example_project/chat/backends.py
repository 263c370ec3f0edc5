"""Model back-ends behind one small interface, chosen by the environment.

* ``simulated`` (the default): no network; a varied markdown answer that depends on the
  question, at a steady pace (``SIMULATED_TOKENS_PER_SECOND``, default 30).
* ``openai``: any OpenAI-compatible chat-completions API through the official ``openai``
  package, configured by ``OPENAI_BASE_URL``, ``OPENAI_API_KEY`` and ``OPENAI_MODEL``. Chosen
  when ``CHAT_BACKEND=openai``, or when ``OPENAI_BASE_URL`` or ``OPENAI_API_KEY`` is set.

API failures become a ``ChatError`` whose text the user may read.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
from collections.abc import AsyncIterator, Mapping
from typing import Protocol

from django_streaming import ChatError, ChatMessage


class ModelBackend(Protocol):
    def stream(self, messages: list[ChatMessage]) -> AsyncIterator[str]: ...


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
    if choice not in ("", "simulated"):
        raise ValueError(f"CHAT_BACKEND must be 'simulated' or 'openai', not {choice!r}.")
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

    async def stream(self, messages: list[ChatMessage]) -> AsyncIterator[str]:
        question = next((m.text for m in reversed(messages) if m.role == "user"), "")
        # Tokens of a word or a run of spaces/punctuation, like a real model's.
        for token in re.findall(r"\s*\S+|\s+", self.answer(question)):
            yield token
            await asyncio.sleep(self.pause)


class OpenAIBackend:
    def __init__(
        self, *, base_url: str | None, api_key: str, model: str, timeout: float = 60.0
    ) -> None:
        self.base_url = base_url
        self.api_key = api_key
        self.model = model
        self.timeout = timeout

    async def stream(self, messages: list[ChatMessage]) -> AsyncIterator[str]:
        import httpx
        import openai

        # A client per answer, closed with it: its connections belong to this event loop.
        client = openai.AsyncOpenAI(
            base_url=self.base_url, api_key=self.api_key, timeout=self.timeout, max_retries=0
        )
        try:
            async with client:
                stream = await client.chat.completions.create(
                    model=self.model,
                    messages=[{"role": m.role, "content": m.text} for m in messages],  # type: ignore[misc]
                    stream=True,
                )
                async with stream:
                    async for chunk in stream:
                        if chunk.choices and chunk.choices[0].delta.content:
                            yield chunk.choices[0].delta.content
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
