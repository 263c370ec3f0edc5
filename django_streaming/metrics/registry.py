"""Every Prometheus metric of django-streaming, built once per process in the default registry
(the one ``django-prometheus`` and ``prometheus_client``'s own endpoints read), and only when
metrics are on: importing this module costs nothing, ``get()`` builds them."""

from __future__ import annotations

import threading

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["Metrics", "get"]

#: Seconds: from a few milliseconds (a first event) to minutes (a long answer).
TIME_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
#: Tokens (text deltas) per second of an answer.
RATE_BUCKETS = (1, 2, 5, 10, 20, 30, 50, 75, 100, 150, 200, 300, 500, 1000)
#: Seconds from publish to written: sub-millisecond when all is well.
LAG_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class Metrics:
    """The metrics, as attributes; names follow Prometheus' conventions (``_total``,
    ``_seconds``, ``_bytes``), labels are bounded (a view's URL name or dotted path, a status,
    a reason), never a chat, a channel or a user."""

    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        def counter(name: str, text: str, labels: tuple[str, ...] = ()) -> Counter:
            return Counter(f"django_streaming_{name}", text, labels, registry=registry)

        def gauge(name: str, text: str, labels: tuple[str, ...] = ()) -> Gauge:
            # livesum: across worker processes, the sum of the live ones (multiprocess mode).
            return Gauge(
                f"django_streaming_{name}", text, labels, registry=registry,
                multiprocess_mode="livesum",
            )  # fmt: skip

        def histogram(
            name: str, text: str, buckets: tuple[float, ...], labels: tuple[str, ...] = ("view",)
        ) -> Histogram:
            return Histogram(
                f"django_streaming_{name}", text, labels, registry=registry, buckets=buckets
            )

        view = ("view",)
        # SSE streams (every response: plain, resumable, chat, channels).
        self.streams_open = gauge("streams_open", "SSE streams open now.", view)
        self.streams_ended = counter(
            "streams_ended_total",
            "SSE streams ended, by reason: completed, client_left, error, send_timeout, shutdown.",
            ("view", "reason"),
        )
        self.events_sent = counter(
            "events_sent_total", "Events (SSE blocks) the streams' sources produced.", view
        )
        self.bytes_sent = counter(
            "sent_bytes_total", "Bytes handed to the server, heartbeats included.", view
        )
        self.time_to_first_event = histogram(
            "time_to_first_event_seconds",
            "From a stream's start to its source's first event.",
            TIME_BUCKETS,
        )
        self.stream_duration = histogram(
            "stream_duration_seconds", "How long the streams lasted.", TIME_BUCKETS
        )
        # Chat answers.
        self.answers_in_progress = gauge(
            "answers_in_progress", "Chat answers being generated now.", view
        )
        self.answers = counter(
            "answers_total",
            "Chat answers ended, by status (completed, cancelled, error) and finish reason.",
            ("view", "status", "finish_reason"),
        )
        self.time_to_first_text = histogram(
            "answer_time_to_first_text_seconds",
            "From an answer's start to its first text delta.",
            TIME_BUCKETS,
        )
        self.answer_duration = histogram(
            "answer_duration_seconds", "From an answer's start to its end.", TIME_BUCKETS
        )
        self.tokens_per_second = histogram(
            "answer_tokens_per_second",
            "Text deltas per second of an answer, from its first to its end.",
            RATE_BUCKETS,
        )
        self.tokens = counter(
            "answer_tokens_total",
            "Tokens of the answers' usage (finish metadata), by type: input, output.",
            ("view", "type"),
        )
        # Resumable generations.
        self.generations_running = gauge(
            "generations_running", "Resumable generations running in this process now.", view
        )
        self.generations_started = counter(
            "generations_started_total", "Resumable generations started.", view
        )
        self.generations_ended = counter(
            "generations_ended_total",
            "Resumable generations ended, by status: completed, cancelled, error, interrupted.",
            ("view", "status"),
        )
        self.resumes = counter("resumes_total", "Resumable streams resumed by a client.", view)
        self.stops = counter("stops_total", "Stop requests that named a running stream.", view)
        self.refusals = counter(
            "too_many_streams_total", "Streams refused for MAX_ACTIVE_PER_OWNER (429).", view
        )
        # Channels.
        self.subscribers = gauge("channel_subscribers", "Channel subscribers connected now.", view)
        self.delivery_lag = histogram(
            "channel_delivery_lag_seconds",
            "From an event's publish (its arrival in this process, with Redis) to its write, "
            "for the first subscriber that writes it.",
            LAG_BUCKETS,
            labels=(),
        )
        # Below the engine: the stores.
        self.store_errors = counter(
            "store_errors_total", "Errors of the stream store, by kind.", ("kind",)
        )
        self.pubsub_reconnects = counter(
            "pubsub_reconnects_total", "Redis pub/sub connections lost and subscribed anew."
        )
        self.listener_channels = gauge(
            "listener_channels", "Channels the Redis pub/sub listeners are subscribed to."
        )


_lock = threading.Lock()
_metrics: Metrics | None = None


def get() -> Metrics:
    """The process's metrics, built on first use."""
    global _metrics
    with _lock:  # once per change of the setting (the hooks cache what this returns)
        if _metrics is None:
            _metrics = Metrics()
        return _metrics
