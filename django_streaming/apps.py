from __future__ import annotations

from django.apps import AppConfig
from django.core import checks


class DjangoStreamingConfig(AppConfig):
    name = "django_streaming"
    verbose_name = "django-streaming"

    def ready(self) -> None:
        from .checks import check_settings

        checks.register(check_settings)
