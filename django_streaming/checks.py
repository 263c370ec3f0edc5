"""System checks for the ``DJANGO_STREAMING`` setting, with stable ids."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable, Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning
from django.utils.module_loading import import_string

from .conf import DEFAULTS
from .stores.base import StreamStore

__all__ = ["check_agents", "check_settings", "check_store_eviction"]


def check_agents(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """Every ``ChatStreamView`` whose ``agent`` is set has an agent an adapter serves."""
    from .chat.agent import adapter_for, supported_agents
    from .chat.views import ChatStreamView

    messages: list[CheckMessage] = []
    views: list[type[ChatStreamView]] = [ChatStreamView]
    while views:
        view = views.pop()
        views.extend(view.__subclasses__())
        agent = view.__dict__.get("agent")
        if agent is not None and adapter_for(agent) is None:
            messages.append(
                Error(
                    f"{view.__module__}.{view.__qualname__}.agent is a "
                    f"{type(agent).__module__}.{type(agent).__qualname__}, which no adapter "
                    "serves.",
                    hint=f"Use {supported_agents()}; or stream it yourself in generate().",
                    obj=view,
                    id="django_streaming.E021",
                )
            )
    return messages


def check_store_eviction(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """A Redis store whose server may evict its keys (``maxmemory-policy``): W030; one whose
    policy cannot be read (an ACL forbids ``CONFIG`` and ``INFO``): W031. A store that cannot
    be reached now is not checked (its calls will say so)."""
    from .stores import StoreUnavailable, get_store

    user_config = getattr(settings, "DJANGO_STREAMING", {})
    if not isinstance(user_config, dict):
        return []  # E001 says why
    store = user_config.get("STORE", DEFAULTS["STORE"])
    if _store_problem(store) or _options_problems(store):
        return []  # E008 or E022 says why
    looking = getattr(get_store(), "eviction_problem", None)
    if looking is None:
        return []
    try:
        problem, known = looking()
    except StoreUnavailable:
        return []
    if not known:
        return [
            Warning(
                "Could not read Redis's maxmemory-policy (CONFIG GET and INFO are not allowed "
                "to this user).",
                hint="Make sure it is noeviction or volatile-*: see docs/deployment.md, Eviction.",
                id="django_streaming.W031",
            )
        ]
    if problem:
        return [Warning(problem, id="django_streaming.W030")]
    return []


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
    store = user_config.get("STORE", DEFAULTS["STORE"])
    store_problem = _store_problem(store)
    if store_problem:
        messages.append(Error(store_problem, id="django_streaming.E008"))
    else:
        messages.extend(
            Error(
                f"DJANGO_STREAMING['STORE']['OPTIONS']: {problem}",
                hint="See the deployment docs for each topology (one server, cluster, "
                "Sentinel, a client factory).",
                id="django_streaming.E022",
            )
            for problem in _options_problems(store)
        )
    channels_problem = _channels_problem(user_config.get("CHANNELS", {}))
    if channels_problem:
        messages.append(Error(channels_problem, id="django_streaming.E013"))
    if user_config.get("METRICS", DEFAULTS["METRICS"]) is True:
        messages += _metrics_problems(explicit="METRICS" in user_config)
    return messages


def _metrics_problems(explicit: bool) -> list[CheckMessage]:
    if importlib.util.find_spec("prometheus_client") is None:
        if not explicit:  # on by default only where it is installed
            return []
        return [
            Warning(
                "DJANGO_STREAMING['METRICS'] is True, but prometheus_client is not installed: "
                "no metrics are kept.",
                hint="pip install 'django-streaming[prometheus]', or set it to False.",
                id="django_streaming.W040",
            )
        ]
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory is not None and not (os.path.isdir(directory) and os.access(directory, os.W_OK)):
        return [
            Error(
                f"PROMETHEUS_MULTIPROC_DIR names {directory!r}, which is not a directory this "
                "process can write: the metrics of several workers cannot be kept there.",
                hint="Create it (empty) before the server starts, or unset the variable.",
                id="django_streaming.E041",
            )
        ]
    return []


def _channels_problem(value: object) -> str | None:
    if not isinstance(value, dict):
        return f"DJANGO_STREAMING['CHANNELS'] must be a dict, not {type(value).__name__}."
    unknown = sorted(set(value) - set(DEFAULTS["CHANNELS"]), key=str)
    if unknown:
        return (
            f"DJANGO_STREAMING['CHANNELS'] has unknown keys: {', '.join(map(repr, unknown))} "
            "(known: 'MAX_LEN', 'TTL')."
        )
    max_len = value.get("MAX_LEN", DEFAULTS["CHANNELS"]["MAX_LEN"])
    if not is_positive_int(max_len):
        return f"DJANGO_STREAMING['CHANNELS']['MAX_LEN'] must be a positive int, not {max_len!r}."
    ttl = value.get("TTL", DEFAULTS["CHANNELS"]["TTL"])
    if not is_positive_number(ttl):
        return (
            "DJANGO_STREAMING['CHANNELS']['TTL'] must be a positive number of seconds, "
            f"not {ttl!r}."
        )
    return None


def _store_problem(value: object) -> str | None:
    if not isinstance(value, dict) or not isinstance(value.get("BACKEND"), str):
        return f"DJANGO_STREAMING['STORE'] must be a dict with a 'BACKEND' path, not {value!r}."
    if not isinstance(value.get("OPTIONS", {}), dict):
        return "DJANGO_STREAMING['STORE']['OPTIONS'] must be a dict of keyword arguments."
    try:
        backend = import_string(value["BACKEND"])
    except ImportError as error:
        hint = " (pip install 'django-streaming[redis]')" if "redis" in str(error) else ""
        return f"DJANGO_STREAMING['STORE'] backend cannot be imported: {error}{hint}."
    if not (isinstance(backend, type) and issubclass(backend, StreamStore)):
        return f"DJANGO_STREAMING['STORE'] backend {value['BACKEND']!r} is not a StreamStore."
    return None


def _options_problems(store: dict[str, Any]) -> list[str]:
    """What the backend finds wrong in its options (``check_options()``, when it has one:
    ``RedisStore``'s topology), before any connection is tried."""
    backend = import_string(store["BACKEND"])
    check: Callable[[dict[str, Any]], list[str]] | None = getattr(backend, "check_options", None)
    return [] if check is None else check(dict(store.get("OPTIONS", {})))


def is_positive_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0


def is_non_negative_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def is_positive_int(value: object) -> bool:
    return is_non_negative_int(value) and value != 0


def is_retry_range(value: object) -> bool:
    return (
        isinstance(value, (tuple, list))
        and len(value) == 2
        and all(is_non_negative_int(bound) for bound in value)
        and value[0] <= value[1]
    )


def is_host_names(value: object) -> bool:
    """A list (or tuple) of host names: no scheme, path or spaces (``cdn.example.com``)."""
    return isinstance(value, (list, tuple)) and all(
        isinstance(host, str) and host and "/" not in host and not any(map(str.isspace, host))
        for host in value
    )


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
    (
        "MAX_MESSAGE_CHARS",
        lambda value: value is None or is_positive_int(value),
        "a positive int or None",
        "E006",
    ),
    ("MAX_DURATION", is_positive_number, "a positive number of seconds", "E007"),
    (
        "MAX_ACTIVE_PER_OWNER",
        lambda value: value is None or is_positive_int(value),
        "a positive int or None",
        "E009",
    ),
    ("MAX_FINISHED_STREAMS", is_positive_int, "a positive int", "E016"),
    ("METRICS", lambda value: isinstance(value, bool), "True or False", "E040"),
    (
        "SEND_TIMEOUT",
        lambda value: value is None or is_positive_number(value),
        "a positive number of seconds or None",
        "E010",
    ),
    (
        "SHUTDOWN_RETRY",
        lambda value: is_non_negative_int(value) or is_retry_range(value),
        "a non-negative int of milliseconds or a (low, high) pair of them",
        "E011",
    ),
    ("THREADS", is_positive_int, "a positive int", "E012"),
    (
        "MAX_FILE_BYTES",
        lambda value: value is None or is_positive_int(value),
        "a positive int or None",
        "E014",
    ),
    (
        "CLIENT_ADDRESS_HEADER",
        lambda value: value is None or (isinstance(value, str) and value.startswith("HTTP_")),
        'None or the request.META name of a header a trusted proxy sets, such as "HTTP_X_REAL_IP"',
        "E020",
    ),
    (
        "IMAGE_HOSTS",
        is_host_names,
        "a list of host names such as ['cdn.example.com'] (no scheme, path or spaces)",
        "E015",
    ),
]
