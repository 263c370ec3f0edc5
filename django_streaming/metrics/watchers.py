"""The watchers of an SSE stream and of a chat answer: what each tells the metrics, its span
and the log line when it ends."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from django_streaming import tracing

from . import _metrics, logger, view_label

if TYPE_CHECKING:
    from django.http import HttpRequest

    from .registry import Metrics

__all__ = ["AnswerWatch", "StreamWatch"]


class StreamWatch:
    """One SSE stream, seen from outside: opened, its first event, its totals handed over at
    each heartbeat and at its end (then a log line, and its span ends with the reason)."""

    __slots__ = ("bytes", "events", "first", "metrics", "opened", "parent", "span", "view")

    def __init__(self, request: HttpRequest | None) -> None:
        self.view = view_label(request)
        # Decided once, at the start: a stream counted open is counted closed.
        self.metrics: Metrics | None = None
        self.parent = tracing.parent_context(request)
        self.span: Any = None
        self.opened = 0.0
        self.first: float | None = None
        self.events = 0  # the totals already counted
        self.bytes = 0

    def open(self) -> Any:
        """The stream starts: returns its span (to make current while its source runs)."""
        self.opened = time.monotonic()
        metrics = self.metrics = _metrics()
        if metrics is not None:
            metrics.streams_open.labels(self.view).inc()
        self.span = tracing.start_span(
            "sse " + self.view, self.parent, {"django_streaming.view": self.view}
        )
        return self.span

    def first_event(self) -> None:
        self.first = time.monotonic() - self.opened
        metrics = self.metrics
        if metrics is not None:
            metrics.time_to_first_event.labels(self.view).observe(self.first)

    def progress(self, events: int, sent: int) -> None:
        """The stream's totals so far: what is new since the last call is counted."""
        metrics = self.metrics
        if metrics is not None and (events > self.events or sent > self.bytes):
            metrics.events_sent.labels(self.view).inc(events - self.events)
            metrics.bytes_sent.labels(self.view).inc(sent - self.bytes)
        self.events, self.bytes = events, sent

    def end(self, reason: str, events: int, sent: int) -> None:
        self.progress(events, sent)
        duration = time.monotonic() - self.opened
        metrics = self.metrics
        if metrics is not None:
            metrics.streams_open.labels(self.view).dec()
            metrics.streams_ended.labels(self.view, reason).inc()
            metrics.stream_duration.labels(self.view).observe(duration)
        tracing.end_span(
            self.span,
            {
                "django_streaming.end_reason": reason,
                "django_streaming.events": events,
                "django_streaming.bytes": sent,
            },
            error=reason if reason == "error" else None,
        )
        if logger.isEnabledFor(logging.INFO):
            logger.info(
                "Stream of %s ended (%s) after %.3f s: %d events, %d bytes.",
                self.view,
                reason,
                duration,
                events,
                sent,
                extra={
                    "kind": "stream",
                    "view": self.view,
                    "reason": reason,
                    "duration": duration,
                    "events": events,
                    "bytes": sent,
                    "time_to_first_event": self.first,
                },
            )


class AnswerWatch:
    """One chat answer: its span (``chat {model}``, GenAI conventions) and its tool calls'
    spans, the time to its first text, its duration and pace, its usage, a log line."""

    __slots__ = (
        "first_text",
        "items",
        "metrics",
        "model",
        "provider",
        "span",
        "started",
        "tools",
        "view",
    )

    def __init__(
        self, request: HttpRequest | None, chat_id: str | None, start: dict[str, Any] | None
    ) -> None:
        self.view = view_label(request)
        self.started = time.monotonic()
        self.first_text: float | None = None
        self.items = 0
        start = start or {}
        model, provider = start.get("model"), start.get("provider")
        self.model = model if isinstance(model, str) and model else None
        self.provider = provider if isinstance(provider, str) and provider else None
        self.span = tracing.start_answer_span(
            tracing.parent_context(request),
            model=self.model,
            provider=self.provider,
            chat_id=chat_id,
        )
        self.tools: dict[str, Any] = {}
        metrics = self.metrics = _metrics()
        if metrics is not None:
            metrics.answers_in_progress.labels(self.view).inc()

    def text(self) -> None:
        """The first text delta came."""
        self.first_text = time.monotonic() - self.started
        metrics = self.metrics
        if metrics is not None:
            metrics.time_to_first_text.labels(self.view).observe(self.first_text)
        tracing.set_attribute(self.span, "gen_ai.response.time_to_first_chunk", self.first_text)

    def learn(self, model: Any, provider: str | None) -> None:
        """The model and its provider, as an agent adapter names them once the model answers
        (``Metadata``): they name the answer unless ``start_metadata()`` did."""
        if self.model is None and isinstance(model, str) and model:
            self.model = model
            tracing.rename(self.span, f"chat {model}", "gen_ai.request.model", model)
        if self.provider is None and provider:
            self.provider = provider
            tracing.set_attribute(self.span, "gen_ai.provider.name", provider)

    def tool_call(self, call_id: str, name: str) -> None:
        """A tool call starts (the answer has a span: ``chat/telemetry.py`` checks)."""
        self.tools[call_id] = tracing.start_tool_span(self.span, call_id, name)

    def tool_done(self, call_id: str, error: str | None = None) -> None:
        tracing.end_span(self.tools.pop(call_id, None), {}, error=error)

    def end(
        self,
        status: str,
        finish_reason: str | None,
        metadata: dict[str, Any],
        deltas: int,
        text: str,
        error: Exception | None,
    ) -> None:
        duration = time.monotonic() - self.started
        usage = metadata.get("usage")
        usage = usage if isinstance(usage, dict) else {}
        input_tokens, output_tokens = _count(usage, "inputTokens"), _count(usage, "outputTokens")
        metrics = self.metrics
        if metrics is not None:
            metrics.answers_in_progress.labels(self.view).dec()
            metrics.answers.labels(self.view, status, finish_reason or "none").inc()
            metrics.answer_duration.labels(self.view).observe(duration)
            if self.first_text is not None and duration > self.first_text:
                pace = deltas / (duration - self.first_text)
                metrics.tokens_per_second.labels(self.view).observe(pace)
            if input_tokens is not None:
                metrics.tokens.labels(self.view, "input").inc(input_tokens)
            if output_tokens is not None:
                metrics.tokens.labels(self.view, "output").inc(output_tokens)
        for call_id in list(self.tools):  # calls left waiting (an approval, a browser tool)
            self.tool_done(call_id)
        model = metadata.get("model") or self.model
        response_model = model if isinstance(model, str) else None
        error_type = type(error).__qualname__ if error is not None else None
        tracing.record_answer(
            model=self.model,
            response_model=response_model,
            provider=self.provider,
            duration=duration,
            first_chunk=self.first_text,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            error=error_type,
        )
        if self.span is not None:
            tracing.end_span(
                self.span,
                {
                    "gen_ai.response.model": response_model,
                    "gen_ai.response.finish_reasons": [finish_reason] if finish_reason else None,
                    "gen_ai.usage.input_tokens": input_tokens,
                    "gen_ai.usage.output_tokens": output_tokens,
                    "django_streaming.status": status,
                },
                error=error_type,
            )
        if logger.isEnabledFor(logging.INFO):
            logger.info(
                "Answer of %s ended (%s, %s) after %.3f s: %d parts.",
                self.view,
                status,
                finish_reason,
                duration,
                self.items,
                extra={
                    "kind": "answer",
                    "view": self.view,
                    "reason": status,
                    "finish_reason": finish_reason,
                    "duration": duration,
                    "events": self.items,
                    "bytes": len(text.encode()),
                    "time_to_first_event": self.first_text,
                    "input_tokens": input_tokens,
                    "output_tokens": output_tokens,
                },
            )


def _count(usage: dict[str, Any], name: str) -> int | None:
    value = usage.get(name)
    return value if isinstance(value, int) and not isinstance(value, bool) else None
