from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.core import checks
from django.core.signals import request_started


class DjangoStreamingConfig(AppConfig):
    name = "django_streaming"
    verbose_name = "django-streaming"
    default_auto_field = "django.db.models.AutoField"  # LiveAnswer's, which has no table

    def ready(self) -> None:
        from .checks import check_agents, check_settings, check_store_eviction

        checks.register(check_settings)
        checks.register(check_agents)
        checks.register(check_store_eviction)
        request_started.connect(_note_a_request, dispatch_uid="django_streaming_served")


def _note_a_request(**kwargs: Any) -> None:
    from .channels import publishing

    publishing.served_a_request = True
    request_started.disconnect(dispatch_uid="django_streaming_served")
