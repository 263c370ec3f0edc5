"""OpenTelemetry spans and the GenAI client metrics, when ``opentelemetry-api`` is installed
(``django-streaming[otel]``); without it every function here returns None or does nothing.

The tracer is ``get_tracer("django_streaming")``: a no-op until the project configures an SDK.
A span's parent is the span current where it starts (a server instrumentation's, or the SSE
stream's for what its source does), else the request's ``traceparent`` header. Attributes are
built only for spans that record.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

try:
    from opentelemetry import context as otel_context
    from opentelemetry import metrics as otel_metrics
    from opentelemetry import propagate, trace
    from opentelemetry.trace import SpanKind, Status, StatusCode
except ImportError:  # pragma: no cover - the tests run with the extra (its absence: a test)
    trace = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from django.http import HttpRequest

__all__ = [
    "current",
    "end_span",
    "installed",
    "parent_context",
    "record_answer",
    "set_attribute",
    "start_answer_span",
    "start_span",
    "start_tool_span",
]

TRACER = "django_streaming"

#: The GenAI conventions' advised buckets: seconds for durations, and tokens.
SECONDS_BUCKETS = (
    0.01,
    0.02,
    0.04,
    0.08,
    0.16,
    0.32,
    0.64,
    1.28,
    2.56,
    5.12,
    10.24,
    20.48,
    40.96,
    81.92,
)
TOKEN_BUCKETS = tuple(4.0**power for power in range(14))


def installed() -> bool:
    """Whether ``opentelemetry-api`` is installed."""
    return trace is not None


def parent_context(request: HttpRequest | None) -> Any:
    """The context a span started for ``request`` hangs from: the current one when it has a
    span (an instrumented server), else the request's ``traceparent`` (None: the current)."""
    if trace is None or request is None:
        return None
    if trace.get_current_span().get_span_context().is_valid:
        return None
    # From META, not request.headers: building those costs more than the rest of a view.
    return propagate.extract(request.META, getter=_META)


class _MetaGetter:
    """Reads a propagation header (``traceparent``, ``baggage``) from a WSGI/ASGI ``META``."""

    def get(self, carrier: Mapping[str, Any], key: str) -> list[str] | None:
        value = carrier.get("HTTP_" + key.upper().replace("-", "_"))
        return None if value is None else [value]

    def keys(self, carrier: Mapping[str, Any]) -> list[str]:
        return [key[5:].lower().replace("_", "-") for key in carrier if key.startswith("HTTP_")]


_META: Any = _MetaGetter()


def start_span(name: str, parent: Any, attributes: Mapping[str, Any], kind: Any = None) -> Any:
    """A span started now, under ``parent`` (a context; None: the current one)."""
    if trace is None:
        return None
    span = trace.get_tracer(TRACER).start_span(
        name, context=parent, kind=SpanKind.INTERNAL if kind is None else kind
    )
    if span.is_recording():
        span.set_attributes(attributes)
    return span


def start_answer_span(parent: Any, *, model: Any, provider: Any, chat_id: str | None) -> Any:
    """The span of one chat answer, as the GenAI semantic conventions name an inference:
    ``chat {model}``."""
    if trace is None:
        return None
    model = model if isinstance(model, str) and model else None
    attributes = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": provider if isinstance(provider, str) else None,
        "gen_ai.request.model": model,
        "gen_ai.conversation.id": chat_id,
    }
    return start_span(
        f"chat {model}" if model else "chat",
        parent,
        {key: value for key, value in attributes.items() if value is not None},
        kind=SpanKind.CLIENT,
    )


def start_tool_span(parent_span: Any, call_id: str, name: str) -> Any:
    """A tool call's span, a child of its answer's: ``execute_tool {name}``."""
    return start_span(
        f"execute_tool {name}",
        trace.set_span_in_context(parent_span),
        {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": name,
            "gen_ai.tool.call.id": call_id,
        },
    )


def rename(span: Any, name: str, attribute: str, value: Any) -> None:
    """Name ``span`` anew, with the attribute its new name comes from."""
    if span is not None and span.is_recording():
        span.update_name(name)
        span.set_attribute(attribute, value)


def set_attribute(span: Any, name: str, value: Any) -> None:
    if span is not None and span.is_recording():
        span.set_attribute(name, value)


def end_span(span: Any, attributes: Mapping[str, Any], error: str | None = None) -> None:
    """End ``span`` with ``attributes`` (None values left out); ``error`` is its
    ``error.type``, and makes its status an error."""
    if span is None:
        return
    if span.is_recording():
        span.set_attributes({key: value for key, value in attributes.items() if value is not None})
        if error is not None:
            span.set_attribute("error.type", error)
            span.set_status(Status(StatusCode.ERROR))
    span.end()


@contextmanager
def current(span: Any) -> Iterator[None]:
    """``span`` as the current span within the block (tasks created there inherit it)."""
    if span is None:
        yield
        return
    token = otel_context.attach(trace.set_span_in_context(span))
    try:
        yield
    finally:
        otel_context.detach(token)


class _GenAIMetrics:
    """The GenAI client metrics of the semantic conventions, on the meter
    ``get_meter("django_streaming")`` (a no-op until the project configures an SDK)."""

    def __init__(self) -> None:
        meter = otel_metrics.get_meter(TRACER)
        self.duration = meter.create_histogram(
            "gen_ai.client.operation.duration",
            unit="s",
            description="GenAI operation duration.",
            explicit_bucket_boundaries_advisory=SECONDS_BUCKETS,
        )
        self.first_chunk = meter.create_histogram(
            "gen_ai.client.operation.time_to_first_chunk",
            unit="s",
            description="Time to receive the first chunk of a streaming answer.",
            explicit_bucket_boundaries_advisory=SECONDS_BUCKETS,
        )
        self.tokens = meter.create_histogram(
            "gen_ai.client.token.usage",
            unit="{token}",
            description="Number of input and output tokens used.",
            explicit_bucket_boundaries_advisory=TOKEN_BUCKETS,
        )


_genai: _GenAIMetrics | None = None


def record_answer(
    *,
    model: str | None,
    response_model: str | None,
    provider: str | None,
    duration: float,
    first_chunk: float | None,
    input_tokens: int | None,
    output_tokens: int | None,
    error: str | None,
) -> None:
    """One chat answer in the GenAI client metrics: its duration, its time to the first
    chunk (text), and its tokens by type, each with the operation, provider and models."""
    global _genai
    if trace is None:
        return
    if _genai is None:
        _genai = _GenAIMetrics()
    attributes = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": provider,
        "gen_ai.request.model": model,
        "gen_ai.response.model": response_model,
    }
    attributes = {key: value for key, value in attributes.items() if value is not None}
    _genai.duration.record(
        duration, attributes if error is None else {**attributes, "error.type": error}
    )
    if first_chunk is not None:
        _genai.first_chunk.record(first_chunk, attributes)
    for kind, count in (("input", input_tokens), ("output", output_tokens)):
        if count is not None:
            _genai.tokens.record(count, {**attributes, "gen_ai.token.type": kind})
