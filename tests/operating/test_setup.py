"""Setting metrics up: the checks (through ``run_checks()``), the names (Prometheus'
conventions, none shared with django-prometheus in one registry), and metrics that are off."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from django.core.checks import run_checks
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.parser import text_string_to_metric_families
from pytest_django.fixtures import Settings as SettingsWrapper

from django_streaming import metrics
from django_streaming.metrics.registry import Metrics
from tests.support.servers import RunningServer, uvicorn_server


def ids(settings: SettingsWrapper, value: dict[str, object]) -> list[str]:
    settings.DJANGO_STREAMING = value
    found = [message.id or "" for message in run_checks()]
    return [found_id for found_id in found if found_id.startswith("django_streaming.")]


def test_metrics_must_be_a_bool(settings: SettingsWrapper) -> None:
    assert ids(settings, {"METRICS": "yes"}) == ["django_streaming.E040"]
    assert ids(settings, {"METRICS": False}) == []


def test_metrics_asked_for_without_prometheus_client(
    settings: SettingsWrapper, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *args: None if name == "prometheus_client" else real(name, *args),
    )
    assert ids(settings, {"METRICS": True}) == ["django_streaming.W040"]
    assert ids(settings, {}) == []  # on by default only where it is installed


def test_a_multiprocess_directory_that_is_not_one(
    settings: SettingsWrapper, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "missing"))
    assert ids(settings, {}) == ["django_streaming.E041"]
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    assert ids(settings, {}) == []


#: What django-prometheus registers in the default registry (a sample of its names, of each
#: kind), to build ours beside.
DJANGO_PROMETHEUS = [
    (Counter, "django_http_requests_before_middlewares_total", ()),
    (Histogram, "django_http_requests_latency_seconds_by_view_method", ("view", "method")),
    (Counter, "django_http_responses_streaming_total", ()),
    (Gauge, "django_migrations_unapplied_total", ("connection",)),
    (Counter, "django_http_responses_total_by_status_view_method", ("status", "view", "method")),
]


def test_names_follow_prometheus_and_share_a_registry_with_django_prometheus() -> None:
    registry = CollectorRegistry()
    for kind, name, labels in DJANGO_PROMETHEUS:
        kind(name, "theirs", labels, registry=registry)
    ours = Metrics(registry)
    names = {
        metric.name: metric.type
        for collector in vars(ours).values()
        for metric in collector.describe()
    }
    assert len(names) == len(vars(ours)) == 23
    for name, kind in names.items():
        assert name.startswith("django_streaming_")
        if kind == "counter":
            assert not name.endswith("_total")  # prometheus_client adds it to the samples
        if kind == "histogram":
            assert name.endswith(("_seconds", "_per_second"))
    assert all(not name.startswith("django_streaming") for _, name, _ in DJANGO_PROMETHEUS)


def test_without_prometheus_client_metrics_are_off(
    monkeypatch: pytest.MonkeyPatch, settings: SettingsWrapper
) -> None:
    monkeypatch.setitem(sys.modules, "django_streaming.metrics.registry", None)
    settings.DJANGO_STREAMING = {"METRICS": True}  # clears the cache
    assert not metrics.enabled()
    metrics.store_error("unavailable")  # no-ops
    metrics.pubsub_reconnect()
    metrics.listener_channels(object(), 1)
    metrics.delivery_lag(0.0)
    metrics.resumed("v")
    monkeypatch.undo()
    settings.DJANGO_STREAMING = {}  # clears the cache again
    assert metrics.enabled()


@pytest.fixture
def beside_django_prometheus(settings: SettingsWrapper) -> Iterator[RunningServer]:
    """The operating app under uvicorn with django-prometheus's middleware around it."""
    settings.ROOT_URLCONF = "tests.operating.app"
    settings.MIDDLEWARE = [
        "django_prometheus.middleware.PrometheusBeforeMiddleware",
        *settings.MIDDLEWARE,
        "django_prometheus.middleware.PrometheusAfterMiddleware",
    ]
    with uvicorn_server() as running:
        yield running


def test_beside_django_prometheus_its_endpoint_shows_both(
    beside_django_prometheus: RunningServer,
) -> None:
    """django-prometheus's middleware around the streams, and its own endpoint: it shows its
    metrics and ours, from the one default registry (no name taken twice: prometheus_client
    would refuse it), each counting the stream it saw."""
    url = beside_django_prometheus.url
    body = httpx.get(url + "/events/?n=3", timeout=10).content
    assert body.count(b"data: ") == 3
    scrape = httpx.get(url + "/django-metrics/", timeout=10)
    assert scrape.status_code == 200
    samples = [
        sample
        for family in text_string_to_metric_families(scrape.text)
        for sample in family.samples
    ]

    def counted(name: str, **labels: str) -> bool:
        return any(
            sample.name == name and labels.items() <= sample.labels.items() and sample.value >= 1
            for sample in samples
        )

    assert counted("django_http_requests_total_by_view_transport_method_total", view="op-events")
    assert counted("django_streaming_streams_ended_total", view="op-events", reason="completed")
