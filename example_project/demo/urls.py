from __future__ import annotations

from django.urls import path

from . import views

urlpatterns = [
    path("", views.ProgressPage.as_view(), name="progress"),
    path("stream/", views.ProgressStream.as_view(), name="progress-stream"),
]
