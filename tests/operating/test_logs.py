"""One log line per ended stream and per answer, on the ``django_streaming`` logger, with its
fields in ``extra``: read back from real requests to uvicorn, and through the JSON formatter
the operating page shows."""

from __future__ import annotations

import importlib.util
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from django_streaming.metrics import StreamWatch
from django_streaming.streams import EventStream
from tests.support.chat import chat_body
from tests.support.servers import RunningServer, wait_until

SNIPPET = Path(__file__).resolve().parents[2] / "docs" / "snippets" / "json_logging.py"


def json_formatter() -> logging.Formatter:
    spec = importlib.util.spec_from_file_location("json_logging", SNIPPET)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    formatter: logging.Formatter = module.JSONFormatter()
    return formatter


def lines(caplog: pytest.LogCaptureFixture, kind: str) -> list[dict[str, Any]]:
    formatter = json_formatter()
    return [
        json.loads(formatter.format(record))
        for record in caplog.records
        if getattr(record, "kind", None) == kind
    ]


def test_one_line_per_ended_stream(server: RunningServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "django_streaming")
    httpx.get(server.url + "/events/?n=4", timeout=10)
    wait_until(lambda: len(lines(caplog, "stream")) == 1, what="the stream's line")
    line = lines(caplog, "stream")[0]
    assert line["logger"] == "django_streaming"
    assert line["level"] == "INFO"
    assert line["message"].startswith("Stream of op-events ended (completed) after ")
    assert line["view"] == "op-events"
    assert line["reason"] == "completed"
    assert line["events"] == 4
    assert line["bytes"] == 4 * len(b"data: 0\n\n")
    assert 0 <= line["time_to_first_event"] <= line["duration"]


def test_one_line_per_answer(server: RunningServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "django_streaming")
    httpx.post(server.url + "/chat/", json=chat_body("c", "hello"), timeout=10)
    wait_until(lambda: len(lines(caplog, "answer")) == 1, what="the answer's line")
    line = lines(caplog, "answer")[0]
    assert line["view"] == "op-chat"
    assert line["reason"] == "completed"
    assert line["finish_reason"] == "stop"
    assert line["events"] == 5  # what generate() yielded
    assert line["bytes"] == len(b"Hello world")
    assert line["input_tokens"] == 11
    assert line["output_tokens"] == 3
    assert 0 < line["time_to_first_event"] <= line["duration"]
    # Its stream's line too.
    wait_until(lambda: len(lines(caplog, "stream")) == 1, what="the stream's line")
    assert lines(caplog, "stream")[0]["view"] == "op-chat"


def test_the_formatter_keeps_an_exception(caplog: pytest.LogCaptureFixture) -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord(
            "x", logging.ERROR, "", 0, "failed", (), __import__("sys").exc_info()
        )
    assert "ValueError: boom" in json.loads(json_formatter().format(record))["exception"]


async def test_a_stream_shut_down_twice_or_after_its_end_keeps_its_reason() -> None:
    ended: list[str] = []

    class Watch(StreamWatch):
        def end(self, reason: str, events: int, sent: int) -> None:
            ended.append(reason)
            super().end(reason, events, sent)

    async def one() -> AsyncIterator[str]:
        yield "a"

    stream = EventStream(one(), heartbeat=None, on_error=lambda error: b"", watch=Watch(None))
    assert [chunk async for chunk in stream] == [b": stream open\n\n", b"data: a\n\n"]
    stream.shut_down()  # after its end: it completed
    stream.shut_down()
    await stream.aclose()
    await stream.aclose()  # once only
    assert ended == ["completed"]
