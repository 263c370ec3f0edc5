import json

import anthropic

from django_streaming import ChatStreamView, Finish, Step, ToolCall, ToolInputError, ToolResult
from django_streaming.agents.anthropic import anthropic_messages, message_parts

MODEL = "claude-sonnet-4-5"
TOOLS = [
    {
        "name": "weather",
        "description": "The weather in a city.",
        "input_schema": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    }
]


async def weather(city):
    return {"city": city, "sky": "clear"}


class Chat(ChatStreamView):
    async def generate(self, messages):
        history, system = anthropic_messages(
            messages, system="Be brief.", allow_remote_file=self.allow_remote_file
        )
        finish = None
        async with anthropic.AsyncAnthropic() as client:  # ANTHROPIC_API_KEY
            for step in range(8):  # model calls in one answer, at most
                if step:
                    yield Step()
                calls = []
                async with client.messages.stream(
                    model=MODEL, max_tokens=1024, system=system, messages=history, tools=TOOLS
                ) as stream:
                    async for part in message_parts(stream):
                        if isinstance(part, Finish):
                            finish = part  # the last model call's ends the answer
                            continue
                        if isinstance(part, ToolInputError) or (
                            isinstance(part, ToolCall) and not part.provider_executed
                        ):
                            calls.append(part)
                        yield part
                    message = await stream.get_final_message()
                if not calls:
                    break
                history.append({"role": "assistant", "content": message.content})
                results = []
                for call in calls:
                    if isinstance(call, ToolInputError):  # the model is told, and tries again
                        results.append(
                            {"type": "tool_result", "tool_use_id": call.id,
                             "content": call.text, "is_error": True}
                        )  # fmt: skip
                        continue
                    output = await weather(call.input.get("city", ""))
                    yield ToolResult(call.id, output)
                    results.append(
                        {
                            "type": "tool_result",
                            "tool_use_id": call.id,
                            "content": json.dumps(output),
                        }
                    )
                history.append({"role": "user", "content": results})
        if finish is not None:
            yield finish
