"""Views that answer with pydantic-ai agents, for the unit, interop and browser tests: a scripted
agent on pydantic-ai's own ``FunctionModel`` (it answers by the question, then by what its tools
returned), and one on pydantic-ai's OpenAI model against ``tests/support/fake_openai.py``. The
test project's URLs come along, so its chat page can be pointed at these views."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, ClassVar

from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from pydantic_ai import Agent, ExternalToolset, ModelRetry
from pydantic_ai.exceptions import ToolFailed
from pydantic_ai.messages import ModelMessage, ModelRequest
from pydantic_ai.models.function import AgentInfo, DeltaThinkingPart, DeltaToolCall, FunctionModel
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.providers.openai import OpenAIProvider
from pydantic_ai.tools import ToolDefinition

from django_streaming import ChatFile, ChatResult, ChatStreamView
from tests.testapp.urls import urlpatterns as testapp_urls

#: What the model was sent, request by request.
seen: list[list[Any]] = []
#: The titles the approved renames set.
renamed: list[str] = []
results: list[ChatResult] = []
#: The run each answer kept (``run.keep()``), or None.
kept: list[Any] = []

Chunk = str | dict[int, DeltaToolCall] | dict[int, DeltaThinkingPart]


def call(index: int, name: str, *pieces: str, call_id: str) -> list[Chunk]:
    """A tool call: its name first, then its arguments in ``pieces`` (as OpenAI streams it)."""
    return [
        {index: DeltaToolCall(name, tool_call_id=call_id)},
        *({index: DeltaToolCall(json_args=piece)} for piece in pieces),
    ]


#: The model's first response, by question.
SCRIPTS: dict[str, list[Chunk]] = {
    "hello": ["Hello, ", "world."],
    "think": [
        {0: DeltaThinkingPart(signature="signed")},  # a thinking part may start with no text
        {0: DeltaThinkingPart(content="Let me ")},
        {0: DeltaThinkingPart(content="think.")},
        {0: DeltaThinkingPart(signature="-d")},  # and go on with no text
        "Thought.",
    ],
    "search": ["Let me look.", *call(1, "search", '{"query": ', '"django"}', call_id="call-s")],
    "fail": call(0, "search", '{"query": "down"}', call_id="call-f"),
    "gone": call(0, "search", '{"query": "gone"}', call_id="call-g"),
    "refuse": call(0, "search", '{"q": ', "1}", call_id="call-bad"),
    "garbled": call(0, "search", '{"query": ', "oops", call_id="call-bad"),
    "rename": call(0, "rename_chat", '{"title": ', '"Lisbon"}', call_id="call-r"),
    "rename it": [
        "I can do that, ",
        "once you approve.",
        *call(1, "rename_chat", '{"title": "Porto"}', call_id="call-p"),
    ],
    "rename both": [
        *call(0, "rename_chat", '{"title": "A"}', call_id="call-a"),
        *call(1, "rename_chat", '{"title": "B"}', call_id="call-b"),
    ],
    "time": ["Let me ask.", *call(1, "local_time", "{}", call_id="call-t")],
    "search and time": [
        *call(0, "search", '{"query": "x"}', call_id="call-x"),
        *call(1, "local_time", "{}", call_id="call-t2"),
    ],
}


def question(messages: list[ModelMessage]) -> str:
    for message in reversed(messages):
        for part in message.parts:
            if part.part_kind == "user-prompt":
                content = part.content
                return content if isinstance(content, str) else str(content[0])
    return ""


def outcome(part: Any) -> str:
    return "retried" if part.part_kind == "retry-prompt" else str(part.outcome)


async def script(messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[Chunk]:
    seen.append(list(messages))
    asked = question(messages)
    last = messages[-1]
    # A tool's outcome; before pydantic-ai 2.7x a retry was a RetryPromptPart of its own.
    returns: list[Any] = [p for p in last.parts if p.part_kind in ("tool-return", "retry-prompt")]
    if asked == "explode":
        yield "partial "
        yield {1: DeltaToolCall("search", '{"query"', tool_call_id="call-e")}
        raise RuntimeError("the model broke")
    if not isinstance(last, ModelRequest) or not returns:
        for chunk in SCRIPTS.get(asked, ["I have no script for that."]):
            yield chunk
        return
    if any(outcome(p) == "retried" and isinstance(p.content, list) for p in returns):
        for chunk in call(0, "search", '{"query": "again"}', call_id="call-s2"):
            yield chunk  # the arguments were refused: the model tries again
        return
    said = []
    for part in returns:
        content, ended = part.content, outcome(part)
        if part.tool_name == "search" and ended == "success":
            said.append(f"Found {content['hits']}.")
        elif part.tool_name == "search":
            said.append("The search failed.")
        elif part.tool_name == "local_time" and ended == "success":
            said.append(f"It is {content['time']}.")
        elif part.tool_name == "local_time":
            said.append(f"No time: {content}")
        elif asked in ("rename", "rename it"):
            said.append("Renamed." if ended == "success" else "Left as it is.")
        else:
            said.append(f"{part.tool_call_id}: {ended} ({content})")
    yield " ".join(said)


def scripted_agent() -> Agent[None, str]:
    browser_tools = ExternalToolset(
        [
            ToolDefinition(
                name="local_time",
                description="The user's local time, from their browser.",
                parameters_json_schema={"type": "object", "properties": {}},
            )
        ]
    )
    agent = Agent(
        FunctionModel(stream_function=script, model_name="scripted"), toolsets=[browser_tools]
    )

    @agent.tool_plain
    def search(query: str) -> dict[str, int]:
        """Search the web."""
        if query == "down":
            raise ModelRetry("The index is down.")
        if query == "gone":
            raise ToolFailed("The index is gone.")
        return {"hits": 2}

    @agent.tool_plain(requires_approval=True)
    def rename_chat(title: str) -> dict[str, str]:
        """Rename this chat."""
        renamed.append(title)
        return {"title": title}

    return agent


class ScriptedChat(ChatStreamView):
    agent = scripted_agent()

    def allow_remote_file(self, file: ChatFile) -> bool:
        return file.url.startswith("https://files.example/")

    async def on_finish(self, result: ChatResult) -> None:
        results.append(result)
        kept.append(self.agent_state)


class UnverifiedChat(ScriptedChat):
    verify_continuations = False


class OpenAIChat(ChatStreamView):
    """pydantic-ai's OpenAI model against the fake API at ``base_url``; the question names
    the fake model (``slow``: it waits before it answers; ``agent``: it calls tools)."""

    base_url: ClassVar[str] = ""

    def get_agent(self) -> Any:
        provider = OpenAIProvider(base_url=self.base_url, api_key="not-needed")
        agent: Agent[None, str] = Agent(
            OpenAIChatModel(self.chat.messages[-1].text, provider=provider)
        )
        return agent


urlpatterns = [
    path("pydantic-ai/", csrf_exempt(ScriptedChat.as_view())),
    path("pydantic-ai-csrf/", ScriptedChat.as_view(), name="pydantic-ai-chat"),
    path("pydantic-ai-unverified/", csrf_exempt(UnverifiedChat.as_view())),
    path("pydantic-ai-openai/", csrf_exempt(OpenAIChat.as_view())),
    *testapp_urls,
]
