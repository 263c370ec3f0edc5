"""The views and URLs of the operating tests (metrics, spans, log lines): each named, so each
has its own label."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt
from django_prometheus.exports import ExportToDjangoView
from pydantic_ai import Agent as PydanticAgent
from pydantic_ai.models.test import TestModel

from django_streaming import (
    ChannelView,
    ChatError,
    ChatMessage,
    ChatPart,
    ChatStreamView,
    Finish,
    SSEView,
    ToolCall,
    ToolDenied,
    ToolError,
    ToolInputError,
    ToolResult,
)
from django_streaming.responses import SSEResponse
from tests.support.probes import probe

#: What the answers' model says of itself (GenAI attributes).
START = {"model": "sim-1", "provider": "openai"}
USAGE = {"inputTokens": 11, "outputTokens": 3, "totalTokens": 14}


class Events(SSEView):
    """``?n=`` events, then the end; ``?fail=1`` fails after them; ``?wait=1`` waits after
    them until the client leaves; ``?size=`` pads each event."""

    async def stream(self, request: HttpRequest, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        pad = "x" * int(request.GET.get("size", "0"))
        for number in range(int(request.GET.get("n", "3"))):
            yield f"{number}{pad}"
        if request.GET.get("fail"):
            raise RuntimeError("the stream failed")
        if request.GET.get("wait"):
            await asyncio.Event().wait()


class Pid(SSEView):
    """One event: the process that streams it."""

    async def stream(self, request: HttpRequest, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        yield os.getpid()


class Agent(ChatStreamView):
    """Answers with text, a tool call and its result, and a finish with usage; ``fail`` fails,
    ``tools`` ends with a tool's error and a call left waiting, ``wait`` waits for its probe's
    gate (``wait <token>``)."""

    def start_metadata(self) -> Any:
        return START

    async def generate(self, messages: list[ChatMessage]) -> AsyncIterator[ChatPart]:
        words = messages[-1].text.split()
        if words[0] == "wait":
            state = probe(words[1])
            state.started.set()
            await asyncio.to_thread(state.gate.wait, 10)
        yield "Hello"
        if words[0] == "fail":
            raise ChatError("The model is busy.")
        yield ToolCall("search", {"q": "django"}, "call-1")
        yield ToolResult("call-1", {"hits": 1})
        if words[0] == "tools":
            yield ToolCall("lookup", {}, "call-2")
            yield ToolError("call-2", "no such page")
            yield ToolInputError("call-3", "lookup", "{", "not JSON")
            yield ToolCall("delete", {}, "call-4")
            yield ToolDenied("call-4")
            yield ToolCall("approve", {}, "call-5")  # never answered
        yield " world"
        yield Finish("stop", {"usage": USAGE})


class ResumableAgent(Agent):
    resumable = True


class AdapterAgent(ChatStreamView):
    """No ``start_metadata()``: the model and its provider come from the adapter (pydantic-ai's
    offline test model, whose provider it calls ``test``)."""

    agent = PydanticAgent(TestModel(custom_output_text="Hello world", model_name="tm-1"))


class News(ChannelView):
    def get_channels(self, request: HttpRequest, *args: Any, **kwargs: Any) -> list[str]:
        return [f"op-{kwargs['token']}"]


async def bare(request: HttpRequest) -> SSEResponse:
    """A function view that does not hand its request to the response."""

    async def numbers() -> AsyncIterator[int]:
        yield 1

    return SSEResponse(numbers())


def pid(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"pid": os.getpid()})


urlpatterns = [
    path("events/", Events.as_view(), name="op-events"),
    path("unnamed/", Events.as_view()),
    path("bare/", bare),
    path("chat/", csrf_exempt(Agent.as_view()), name="op-chat"),
    path("agent-chat/", csrf_exempt(AdapterAgent.as_view()), name="op-agent-chat"),
    path(
        "resumable-chat/",
        include(ResumableAgent.urls(name="op-resumable", decorators=[csrf_exempt])),
    ),
    path("news/<str:token>/", News.as_view(), name="op-news"),
    path("pid/", pid),
    path("pid-stream/", Pid.as_view(), name="op-pid"),
    path("probe/<str:token>/", lambda request, token: JsonResponse({})),
    path("metrics/", include("django_streaming.metrics.urls")),
    path("django-metrics/", ExportToDjangoView),  # django-prometheus's own endpoint
]
