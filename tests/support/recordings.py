"""The chat streams the front end's Node tests replay (``tests/js/recordings/``), recorded from
the test chat. ``tests/test_js_recordings.py`` checks that each file is still what the view
sends; ``python -m tests.support.recordings`` (with the test settings) writes them anew."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

from django.test import AsyncClient

from tests.support.chat import chat_body
from tests.testapp.chat import Prompt

FOLDER = Path(__file__).resolve().parents[1] / "js" / "recordings"
# The prompt each recording answers.
PROMPTS = {
    "parts": Prompt.PARTS,
    "fail": Prompt.FAIL,
    "busy": Prompt.BUSY,
    "odd-parts": Prompt.ODD_PARTS,
    "tricky": Prompt.TRICKY,
    "markdown": Prompt.MARKDOWN,
    "tools": Prompt.TOOLS,
    "approval": Prompt.APPROVAL,
    "extras": Prompt.EXTRAS,
}
STOPPED = "stopped"  # a resumable answer stopped on the server: it ends with an abort part
_RANDOM_ID = re.compile(r'"(messageId|sourceId)":"[^"]*"')


def normalized(stream: bytes) -> bytes:
    """The stream with its random ids replaced by fixed ones, so that recordings compare."""
    return _RANDOM_ID.sub(lambda match: f'"{match[1]}":"{match[1]}-1"', stream.decode()).encode()


async def record(name: str) -> bytes:
    if name == STOPPED:
        return normalized(await _stopped())
    body = json.dumps(chat_body(f"recording-{name}", PROMPTS[name]))
    response: Any = await AsyncClient().post(
        "/chat-exempt/", data=body, content_type="application/json"
    )
    return normalized(b"".join([chunk async for chunk in response.streaming_content]))


async def _stopped() -> bytes:
    client = AsyncClient()
    chat_id = "recording-stopped"
    body = json.dumps(chat_body(chat_id, Prompt.WAIT))
    response: Any = await client.post(
        "/resumable-chat/", data=body, content_type="application/json"
    )
    chunks: list[bytes] = []
    async for chunk in response.streaming_content:
        chunks.append(chunk)
        if b"partial answer" in chunk:
            await client.post(f"/resumable-chat/{chat_id}/stop")
    # The resumable stream numbers its events; the ids carry the random stream id.
    return re.sub(rb"^id: [^\n]*\n", b"", b"".join(chunks), flags=re.MULTILINE)


async def write_all() -> None:
    FOLDER.mkdir(exist_ok=True)
    for name in [*PROMPTS, STOPPED]:
        (FOLDER / f"{name}.sse").write_bytes(await record(name))


if __name__ == "__main__":
    import django

    django.setup()
    asyncio.run(write_all())
