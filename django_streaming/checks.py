"""System checks for the ``DJANGO_STREAMING`` setting, with stable ids."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning

from .conf import DEFAULTS

__all__ = ["check_settings"]


def check_settings(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    user_config = getattr(settings, "DJANGO_STREAMING", {})
    if not isinstance(user_config, dict):
        return [
            Error(
                f"DJANGO_STREAMING must be a dict, not {type(user_config).__name__}.",
                id="django_streaming.E001",
            )
        ]
    messages: list[CheckMessage] = []
    unknown = sorted(set(user_config) - set(DEFAULTS), key=str)
    if unknown:
        messages.append(
            Warning(
                f"DJANGO_STREAMING has unknown keys: {', '.join(map(repr, unknown))}.",
                hint=f"Known keys are {', '.join(DEFAULTS)}.",
                id="django_streaming.W001",
            )
        )
    heartbeat = user_config.get("HEARTBEAT_INTERVAL", DEFAULTS["HEARTBEAT_INTERVAL"])
    if heartbeat is not None and not is_positive_number(heartbeat):
        messages.append(
            Error(
                "DJANGO_STREAMING['HEARTBEAT_INTERVAL'] must be a positive number of seconds "
                f"or None, not {heartbeat!r}.",
                id="django_streaming.E002",
            )
        )
    retry = user_config.get("RETRY", DEFAULTS["RETRY"])
    if retry is not None and not is_non_negative_int(retry):
        messages.append(
            Error(
                "DJANGO_STREAMING['RETRY'] must be a non-negative int of milliseconds or None, "
                f"not {retry!r}.",
                id="django_streaming.E003",
            )
        )
    for number, key in enumerate(("MAX_BODY_BYTES", "MAX_MESSAGES", "MAX_MESSAGE_CHARS"), start=4):
        value = user_config.get(key, DEFAULTS[key])  # type: ignore[literal-required]
        if not is_non_negative_int(value) or value == 0:
            messages.append(
                Error(
                    f"DJANGO_STREAMING[{key!r}] must be a positive int, not {value!r}.",
                    id=f"django_streaming.E00{number}",
                )
            )
    return messages


def is_positive_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0


def is_non_negative_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
