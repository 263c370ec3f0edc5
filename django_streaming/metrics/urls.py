"""``path("metrics/", include("django_streaming.metrics.urls"))``: the Prometheus endpoint."""

from __future__ import annotations

from django.urls import path

from .views import metrics_view

urlpatterns = [path("", metrics_view, name="django_streaming_metrics")]
