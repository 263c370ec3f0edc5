"""The WHATWG parser the encoder is tested against, held to the spec's cases. The front end's
parser (``sse-client.js``) answers to the same cases in ``tests/js/sse-client.test.mjs``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.sse_parser import parse

CASES: list[dict[str, Any]] = json.loads(
    (Path(__file__).parent / "support" / "sse_cases.json").read_text()
)


def stream_of(case: dict[str, Any]) -> bytes:
    return bytes(case["bytes"]) if "bytes" in case else case["stream"].encode()


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_the_parser_follows_the_spec(case: dict[str, Any]) -> None:
    result = parse(stream_of(case))
    events = [
        {"type": event.type, "data": event.data, "id": event.last_event_id}
        for event in result.events
    ]
    assert events == case["events"]
    assert result.retry == case["retry"]
