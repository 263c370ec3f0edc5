from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("progress/", include("demo.urls")),
    path("jobs/", include("jobs.urls")),
    path("", include("chat.urls")),
]
