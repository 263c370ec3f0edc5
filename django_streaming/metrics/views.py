"""The Prometheus endpoint: the default registry (every metric of the process, django-streaming's
and any other library's), or with ``PROMETHEUS_MULTIPROC_DIR`` the sum of every worker's."""

from __future__ import annotations

import os

from django.http import HttpRequest, HttpResponse, JsonResponse

from . import enabled

__all__ = ["metrics_view"]


def metrics_view(request: HttpRequest) -> HttpResponse:
    """The metrics in Prometheus' text format; a 404 (JSON) when metrics are off."""
    if not enabled():
        return JsonResponse(
            {
                "error": {
                    "code": "metrics_off",
                    "message": "Metrics are off: DJANGO_STREAMING['METRICS'] is False, or "
                    "prometheus_client is not installed.",
                }
            },
            status=404,
        )
    from prometheus_client import REGISTRY, CollectorRegistry, generate_latest, multiprocess
    from prometheus_client.exposition import CONTENT_TYPE_LATEST

    registry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Each worker writes its values to files there; this reads them all, whichever
        # worker answers the scrape.
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
