"""The recorded chat streams the Node tests replay are what the chat view sends today."""

from __future__ import annotations

import pytest

from tests.support.chat import parts
from tests.support.recordings import FOLDER, PROMPTS, STOPPED, record


@pytest.mark.parametrize("name", [*PROMPTS, STOPPED])
async def test_each_recording_is_what_the_view_sends(name: str) -> None:
    assert parts(await record(name)) == parts((FOLDER / f"{name}.sse").read_bytes())
