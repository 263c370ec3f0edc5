"""System checks for the ``DJANGO_STREAMING`` setting, with stable ids."""

from __future__ import annotations

from collections.abc import Callable, Sequence
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
    for key, valid, expected, check_id in RULES:
        value = user_config.get(key, DEFAULTS[key])  # type: ignore[literal-required]
        if not valid(value):
            messages.append(
                Error(
                    f"DJANGO_STREAMING[{key!r}] must be {expected}, not {value!r}.",
                    id=f"django_streaming.{check_id}",
                )
            )
    return messages


def is_positive_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0


def is_non_negative_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def is_positive_int(value: object) -> bool:
    return is_non_negative_int(value) and value != 0


#: Each setting's rule: its key, its test, what it must be, and the id of its check.
RULES: list[tuple[str, Callable[[object], bool], str, str]] = [
    (
        "HEARTBEAT_INTERVAL",
        lambda value: value is None or is_positive_number(value),
        "a positive number of seconds or None",
        "E002",
    ),
    (
        "RETRY",
        lambda value: value is None or is_non_negative_int(value),
        "a non-negative int of milliseconds or None",
        "E003",
    ),
    ("MAX_BODY_BYTES", is_positive_int, "a positive int", "E004"),
    ("MAX_MESSAGES", is_positive_int, "a positive int", "E005"),
    ("MAX_MESSAGE_CHARS", is_positive_int, "a positive int", "E006"),
]
