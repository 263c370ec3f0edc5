"""A stand-in model that needs no key and no network, for quick starts, demos and tests.

.. code-block:: python

    from django_streaming import ChatStreamView
    from django_streaming.chat.demo import EchoModel

    model = EchoModel()  # swap in your model client


    class Chat(ChatStreamView):
        async def generate(self, messages):
            async for token in model.stream(messages[-1].text):
                yield token

It streams, word by word, a short markdown answer that quotes the question, at a steady pace
(``delay`` seconds between tokens; ``EchoModel(delay=0)`` in tests), so a widget shows an
answer arriving, Stop stops it, and nothing leaves the machine.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

__all__ = ["EchoModel"]

#: Quoted questions are cut to this many characters.
QUOTE_LIMIT = 200
# A token is a word with the spaces before it, or a run of spaces at the end, as a real model's.
_TOKEN = re.compile(r"\s*\S+|\s+")


@dataclass(frozen=True)
class EchoModel:
    """A model client's shape, ``stream(question)`` an async iterator of text deltas, with a
    canned answer that echoes the question. ``delay`` is the pause before each token after
    the first, in seconds (0.02 by default: 50 tokens a second)."""

    delay: float = 0.02

    def __post_init__(self) -> None:
        if not self.delay >= 0:  # also refuses NaN
            raise ValueError(
                f"EchoModel: delay must be a number of seconds >= 0, not {self.delay!r}."
            )

    def answer(self, question: str) -> str:
        """The whole answer to ``question``, as ``stream()`` sends it."""
        quoted = " ".join(question.split())
        if len(quoted) > QUOTE_LIMIT:
            quoted = quoted[: QUOTE_LIMIT - 1] + "…"
        return (
            f"You asked: “{quoted}”\n\n"
            "This is the demo model of django-streaming: it streams this answer word by word, "
            "with no API key. Put your own model client in `generate()` to answer for real."
        )

    async def stream(self, question: str) -> AsyncIterator[str]:
        """The answer to ``question``, a token at a time."""
        for number, token in enumerate(_TOKEN.findall(self.answer(question))):
            if number:
                await asyncio.sleep(self.delay)
            yield token
