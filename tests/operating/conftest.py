"""The operating tests' server (uvicorn in a thread, serving ``tests.operating.app``), their
scrape of its metrics, and the spans it ends (the OpenTelemetry SDK's in-memory exporter)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import Histogram, MeterProvider
from opentelemetry.sdk.metrics.export import AggregationTemporality, InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client.parser import text_string_to_metric_families
from pytest_django.fixtures import Settings as SettingsWrapper

from tests.support.servers import RunningServer, uvicorn_server

_exporter = InMemorySpanExporter()


@pytest.fixture(scope="session")
def _tracer_provider() -> InMemorySpanExporter:
    # Once per process: OpenTelemetry takes the first provider set and keeps it.
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(_exporter))
    trace.set_tracer_provider(provider)
    return _exporter


# Delta: each read holds what was recorded since the last one.
_reader = InMemoryMetricReader(preferred_temporality={Histogram: AggregationTemporality.DELTA})


@pytest.fixture(scope="session")
def _meter_provider() -> InMemoryMetricReader:
    # Once per process, as the tracer provider.
    metrics.set_meter_provider(MeterProvider(metric_readers=[_reader]))
    return _reader


@pytest.fixture
def otel_metrics(_meter_provider: InMemoryMetricReader) -> InMemoryMetricReader:
    _meter_provider.get_metrics_data()  # what earlier tests recorded, read and forgotten
    return _meter_provider


@pytest.fixture
def spans(_tracer_provider: InMemorySpanExporter) -> Iterator[InMemorySpanExporter]:
    _tracer_provider.clear()
    yield _tracer_provider
    _tracer_provider.clear()


@pytest.fixture
def server(settings: SettingsWrapper) -> Iterator[RunningServer]:
    settings.ROOT_URLCONF = "tests.operating.app"
    with uvicorn_server() as running:
        yield running


class Scrape:
    """The samples of one scrape of ``/metrics/``, by name and labels."""

    def __init__(self, url: str) -> None:
        response = httpx.get(url + "/metrics/", timeout=10)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/plain")
        self.samples: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
        for family in text_string_to_metric_families(response.text):
            for sample in family.samples:
                self.samples[sample.name, frozenset(sample.labels.items())] = sample.value

    def __call__(self, name: str, **labels: str) -> float:
        return self.samples.get((name, frozenset(labels.items())), 0.0)


def spans_named(exporter: InMemorySpanExporter, prefix: str) -> list[ReadableSpan]:
    return [span for span in exporter.get_finished_spans() if span.name.startswith(prefix)]
