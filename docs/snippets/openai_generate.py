import json

import openai

from django_streaming import ChatStreamView, Finish, Step, ToolCall, ToolInputError, ToolResult
from django_streaming.agents.openai import chat_completions_parts, chat_messages

MODEL = "gpt-4o-mini"
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "weather",
            "description": "The weather in a city.",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
]


async def weather(city):
    return {"city": city, "sky": "clear"}


class Chat(ChatStreamView):
    async def generate(self, messages):
        conversation = chat_messages(
            messages, system="Be brief.", allow_remote_file=self.allow_remote_file
        )
        finish = None
        async with openai.AsyncOpenAI() as client:  # OPENAI_API_KEY, OPENAI_BASE_URL
            for step in range(8):  # model calls in one answer, at most
                if step:
                    yield Step()
                stream = await client.chat.completions.create(
                    model=MODEL,
                    messages=conversation,
                    tools=TOOLS,
                    stream=True,
                    stream_options={"include_usage": True},
                )
                text, calls = "", []
                async for part in chat_completions_parts(stream):
                    if isinstance(part, Finish):
                        finish = part  # the last model call's ends the answer
                        continue
                    if isinstance(part, str):
                        text += part
                    if isinstance(part, (ToolCall, ToolInputError)):
                        calls.append(part)
                    yield part
                if not calls:
                    break
                conversation.append(
                    {
                        "role": "assistant",
                        "content": text or None,
                        "tool_calls": [
                            {
                                "id": call.id,
                                "type": "function",
                                "function": {
                                    "name": call.name,
                                    "arguments": json.dumps(
                                        call.input if isinstance(call, ToolCall) else {}
                                    ),
                                },
                            }
                            for call in calls
                        ],
                    }
                )
                for call in calls:
                    if isinstance(call, ToolInputError):  # the model is told, and tries again
                        content = call.text
                    else:
                        output = await weather(call.input.get("city", ""))
                        yield ToolResult(call.id, output)
                        content = json.dumps(output)
                    conversation.append(
                        {"role": "tool", "tool_call_id": call.id, "content": content}
                    )
        if finish is not None:
            yield finish
