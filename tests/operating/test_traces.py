"""The spans, read back from the OpenTelemetry SDK's in-memory exporter after real requests to
uvicorn: one per SSE stream, per chat answer (GenAI conventions) with its tool calls as
children, per channel subscription; their parents from the request's ``traceparent``."""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import INVALID_SPAN_CONTEXT, NonRecordingSpan, SpanKind, StatusCode
from pytest_django.fixtures import Settings as SettingsWrapper

from django_streaming import metrics, publish, tracing
from tests.support.chat import chat_body
from tests.support.probes import probe
from tests.support.servers import RunningServer, wait_until

from .conftest import spans_named

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
PARENT_ID = "b7ad6b7169203331"
TRACEPARENT = {"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01"}


def one(exporter: InMemorySpanExporter, prefix: str) -> ReadableSpan:
    wait_until(lambda: len(spans_named(exporter, prefix)) == 1, what=f"one span {prefix!r}")
    return spans_named(exporter, prefix)[0]


def parent_of(span: ReadableSpan) -> str | None:
    return None if span.parent is None else format(span.parent.span_id, "016x")


def span_id(span: ReadableSpan) -> str:
    return format(span.context.span_id, "016x")


def test_an_answer_is_a_genai_span_under_its_stream_with_its_tool_calls(
    server: RunningServer, spans: InMemorySpanExporter
) -> None:
    response = httpx.post(
        server.url + "/chat/", json=chat_body("chat-7", "tools"), headers=TRACEPARENT, timeout=10
    )
    assert response.status_code == 200
    stream = one(spans, "sse ")
    answer = one(spans, "chat ")
    assert stream.name == "sse op-chat"
    assert format(stream.context.trace_id, "032x") == TRACE_ID
    assert parent_of(stream) == PARENT_ID
    assert stream.attributes is not None
    assert stream.attributes["django_streaming.end_reason"] == "completed"
    assert answer.name == "chat sim-1"
    assert answer.kind == SpanKind.CLIENT
    assert parent_of(answer) == span_id(stream)
    attributes = dict(answer.attributes or {})
    first_chunk = attributes.pop("gen_ai.response.time_to_first_chunk")
    assert isinstance(first_chunk, float)
    assert first_chunk > 0
    assert attributes == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "sim-1",
        "gen_ai.response.model": "sim-1",
        "gen_ai.conversation.id": "chat-7",
        "gen_ai.response.finish_reasons": ("stop",),
        "gen_ai.usage.input_tokens": 11,
        "gen_ai.usage.output_tokens": 3,
        "django_streaming.status": "completed",
    }
    tools = {span.name: span for span in spans_named(spans, "execute_tool ")}
    tool_spans = spans_named(spans, "execute_tool ")
    assert sorted(span.name for span in tool_spans) == [
        "execute_tool approve",
        "execute_tool delete",
        "execute_tool lookup",
        "execute_tool lookup",
        "execute_tool search",
    ]
    assert {parent_of(span) for span in tool_spans} == {span_id(answer)}
    errors = {
        (span.attributes or {}).get("gen_ai.tool.call.id"): (span.attributes or {}).get(
            "error.type"
        )
        for span in tool_spans
    }
    assert errors == {
        "call-1": None,
        "call-2": "tool_error",
        "call-3": "tool_input_error",
        "call-4": "tool_denied",
        "call-5": None,
    }
    search = tools["execute_tool search"]
    assert dict(search.attributes or {}) == {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": "search",
        "gen_ai.tool.call.id": "call-1",
    }
    assert search.status.status_code == StatusCode.UNSET
    # The call left waiting ends with its answer.
    assert tools["execute_tool approve"].end_time <= answer.end_time  # type: ignore[operator]


def genai_points(reader: InMemoryMetricReader) -> dict[str, list[Any]]:
    """The GenAI metrics' histogram points recorded since the last read, by metric name."""
    data = reader.get_metrics_data()
    found: dict[str, list[Any]] = {}
    for resource in data.resource_metrics if data is not None else ():
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name.startswith("gen_ai."):
                    found.setdefault(metric.name, []).extend(metric.data.data_points)
    return found


def test_an_agent_adapter_names_the_answer_and_its_genai_metrics(
    server: RunningServer, spans: InMemorySpanExporter, otel_metrics: InMemoryMetricReader
) -> None:
    """Without ``start_metadata()``, the model and its provider come from the adapter
    (pydantic-ai's test model here): the span is named after the model, and the GenAI client
    metrics (duration, time to first chunk, tokens by type) carry both."""
    response = httpx.post(server.url + "/agent-chat/", json=chat_body("c", "hi"), timeout=10)
    assert b'"finishReason":"stop"' in response.content
    assert b'"messageMetadata":{"model":"tm-1"}' in response.content  # no provider sent
    answer = one(spans, "chat ")
    assert answer.name == "chat tm-1"
    attributes = dict(answer.attributes or {})
    assert attributes["gen_ai.provider.name"] == "test"
    assert attributes["gen_ai.request.model"] == "tm-1"
    points = genai_points(otel_metrics)
    named = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "test",
        "gen_ai.request.model": "tm-1",
        "gen_ai.response.model": "tm-1",
    }
    [duration] = points["gen_ai.client.operation.duration"]
    assert (dict(duration.attributes), duration.count) == (named, 1)
    assert duration.sum > 0
    [first_chunk] = points["gen_ai.client.operation.time_to_first_chunk"]
    assert (dict(first_chunk.attributes), first_chunk.count) == (named, 1)
    assert 0 < first_chunk.sum <= duration.sum
    tokens = {
        dict(point.attributes)["gen_ai.token.type"]: point.sum
        for point in points["gen_ai.client.token.usage"]
    }
    parts = [
        json.loads(line[6:]) for line in response.text.splitlines() if line.startswith("data: {")
    ]
    [finish] = [part for part in parts if part["type"] == "finish"]
    usage = finish["messageMetadata"]["usage"]
    assert tokens == {"input": usage["inputTokens"], "output": usage["outputTokens"]}


def test_a_failed_answer_has_its_error_type(
    server: RunningServer, spans: InMemorySpanExporter
) -> None:
    httpx.post(server.url + "/chat/", json=chat_body("c", "fail"), timeout=10)
    answer = one(spans, "chat ")
    assert (answer.attributes or {})["error.type"] == "ChatError"
    assert answer.status.status_code == StatusCode.ERROR
    assert answer.parent is not None  # its stream's, which has no parent: no traceparent
    assert one(spans, "sse ").parent is None


def test_a_resumable_answer_keeps_the_parent_of_the_request_that_started_it(
    server: RunningServer, spans: InMemorySpanExporter, token: str
) -> None:
    """The generation runs as a task of its own, apart from the response streaming it: its
    span still hangs from the request's trace. A resume is a stream of its own request."""
    state = probe(token)
    state.gate.set()  # it only has to wait for nothing
    with httpx.Client(base_url=server.url, timeout=10) as client:
        started = client.post(
            "/resumable-chat/", json=chat_body("r-" + token, f"wait {token}"), headers=TRACEPARENT
        )
        assert started.status_code == 200
    answer = one(spans, "chat ")
    assert parent_of(answer) == PARENT_ID
    assert format(answer.context.trace_id, "032x") == TRACE_ID
    assert state.started.is_set()


def test_a_channel_subscription_is_a_span_under_its_stream(
    server: RunningServer, spans: InMemorySpanExporter, token: str
) -> None:
    with httpx.stream("GET", f"{server.url}/news/{token}/", headers=TRACEPARENT) as response:
        chunks = response.iter_bytes()  # kept: a generator dropped closes the response
        next(chunks)
        assert b"id: " in next(chunks)
        publish(f"op-{token}", "hello")
        assert b"hello" in next(chunks)
    subscription = one(spans, "subscribe ")
    stream = one(spans, "sse ")
    assert subscription.name == "subscribe op-news"
    assert parent_of(subscription) == span_id(stream)
    assert parent_of(stream) == PARENT_ID
    assert (subscription.attributes or {})["django_streaming.end_reason"] == "client_left"
    assert (stream.attributes or {})["django_streaming.end_reason"] == "client_left"


def test_without_opentelemetry_an_answer_is_still_counted(
    server: RunningServer, spans: InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tracing, "trace", None)
    response = httpx.post(server.url + "/chat/", json=chat_body("c", "tools"), timeout=10)
    assert b'"finishReason":"stop"' in response.content
    assert spans.get_finished_spans() == ()


def test_when_nobody_watches_nothing_is_watched(
    server: RunningServer,
    spans: InMemorySpanExporter,
    monkeypatch: pytest.MonkeyPatch,
    settings: SettingsWrapper,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """No OpenTelemetry, metrics off, the logger above INFO: streams and answers are not
    watched at all (and still work)."""
    monkeypatch.setattr(tracing, "trace", None)
    settings.DJANGO_STREAMING = {"METRICS": False}
    caplog.set_level(logging.WARNING, "django_streaming")
    assert not metrics.watching()
    response = httpx.post(server.url + "/chat/", json=chat_body("c", "tools"), timeout=10)
    assert b'"finishReason":"stop"' in response.content
    assert [record for record in caplog.records if hasattr(record, "kind")] == []


def test_the_traceparent_is_read_from_meta() -> None:
    meta = {"HTTP_TRACEPARENT": "00-x", "HTTP_X_B3_SAMPLED": "1", "REMOTE_ADDR": "::1"}
    assert tracing._META.keys(meta) == ["traceparent", "x-b3-sampled"]
    assert tracing._META.get(meta, "traceparent") == ["00-x"]
    assert tracing._META.get(meta, "baggage") is None


def test_without_opentelemetry_nothing_is_traced(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tracing, "trace", None)
    assert not tracing.installed()
    assert tracing.parent_context(None) is None
    assert tracing.start_span("x", None, {}) is None
    assert tracing.start_answer_span(None, model="m", provider=None, chat_id=None) is None
    tracing.rename(None, "chat m", "gen_ai.request.model", "m")
    tracing.set_attribute(None, "gen_ai.provider.name", "p")
    tracing.end_span(None, {})
    with tracing.current(None):
        pass


def test_a_span_that_does_not_record_is_left_alone() -> None:
    """A sampler that drops the answer hands out a span that records nothing: naming it anew
    sets nothing on it."""

    class Dropped(NonRecordingSpan):
        def update_name(self, name: str) -> None:
            raise AssertionError("renamed a span that does not record")

        def set_attribute(self, key: str, value: Any) -> None:
            raise AssertionError("set an attribute on a span that does not record")

    span = Dropped(INVALID_SPAN_CONTEXT)
    tracing.rename(span, "chat m", "gen_ai.request.model", "m")
    tracing.set_attribute(span, "gen_ai.provider.name", "p")
