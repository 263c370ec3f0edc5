"""The chat request body ``useChat`` sends, and the parts a chat answer is made of."""

from __future__ import annotations

import json
from typing import Any

from tests.support.sse_parser import ParseResult, parse


def chat_body(chat_id: str, text: str, *, trigger: str = "submit-message") -> dict[str, Any]:
    """One user message, as ``useChat``'s default transport posts it."""
    message = {"id": "u1", "role": "user", "parts": [{"type": "text", "text": text}]}
    return {"id": chat_id, "messages": [message], "trigger": trigger}


async def response_parts(response: Any) -> list[Any]:
    """``parts()`` of a streaming response of Django's test client, read to its end."""
    return parts(b"".join([chunk async for chunk in response.streaming_content]))


def parts(stream: bytes | ParseResult) -> list[Any]:
    """Each event's JSON part, and the closing ``"[DONE]"`` as it is."""
    result = parse(stream) if isinstance(stream, bytes) else stream
    return [
        event.data if event.data == "[DONE]" else json.loads(event.data) for event in result.events
    ]
