"""``django_streaming.chat.demo``: the model that runs without a key, alone and behind a view."""

from __future__ import annotations

import json
import math
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from django.test import AsyncClient
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from pytest_django.fixtures import Settings as SettingsWrapper

from django_streaming import ChatMessage, ChatStreamView
from django_streaming.chat.demo import QUOTE_LIMIT, EchoModel
from tests.support.chat import chat_body, parts

model = EchoModel(delay=0)


class Chat(ChatStreamView):
    async def generate(self, messages: list[ChatMessage]) -> AsyncIterator[str]:
        async for token in model.stream(messages[-1].text):
            yield token


urlpatterns = [path("chat/", csrf_exempt(Chat.as_view()))]


async def tokens(question: str, echo: EchoModel = model) -> list[str]:
    return [token async for token in echo.stream(question)]


async def test_it_streams_an_answer_that_quotes_the_question_word_by_word() -> None:
    streamed = await tokens("How do I   stream\nfrom Django?")
    assert "".join(streamed) == model.answer("How do I   stream\nfrom Django?")
    assert streamed[:3] == ["You", " asked:", " “How"]
    assert "You asked: “How do I stream from Django?”" in "".join(streamed)
    assert all(token.strip() for token in streamed)  # no token is only spaces


async def test_a_long_question_is_cut_and_an_empty_one_still_answered() -> None:
    answer = "".join(await tokens("word " * 100))
    quoted = answer.split("“")[1].split("”")[0]
    assert len(quoted) == QUOTE_LIMIT
    assert quoted.endswith("…")
    assert "".join(await tokens("")).startswith("You asked: “”")


async def test_the_delay_comes_between_tokens() -> None:
    slow = EchoModel(delay=0.01)
    started = time.monotonic()
    streamed = await tokens("hi", slow)
    assert time.monotonic() - started >= 0.01 * (len(streamed) - 1)


@pytest.mark.parametrize("delay", [-1.0, math.nan])
def test_a_delay_that_is_not_a_duration_is_refused_by_name(delay: float) -> None:
    with pytest.raises(ValueError, match="delay must be a number of seconds >= 0"):
        EchoModel(delay=delay)


async def test_a_view_streams_it_as_text_parts(settings: SettingsWrapper) -> None:
    settings.ROOT_URLCONF = __name__
    body = json.dumps(chat_body("demo", "hello"))
    response: Any = await AsyncClient().post("/chat/", data=body, content_type="application/json")
    streamed = parts(b"".join([chunk async for chunk in response.streaming_content]))
    deltas = [part["delta"] for part in streamed if part != "[DONE]" and "delta" in part]
    assert "".join(deltas) == model.answer("hello")
    assert streamed[-2:] == [{"type": "finish", "finishReason": "stop"}, "[DONE]"]
