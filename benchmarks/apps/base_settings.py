"""What the benchmark sites share: a bare Django, no middleware, no database."""

from __future__ import annotations

import os
import sys
from typing import Any

# `python -m benchmarks` serves its Django rows unwatched by default (BENCH_WATCH=0), as a
# default install is: without prometheus_client and opentelemetry-api, which then cannot be
# imported here (this runs before django_streaming is imported), and the logger at WARNING.
if os.environ.get("BENCH_WATCH") == "0":
    sys.modules["prometheus_client"] = None  # type: ignore[assignment]
    sys.modules["opentelemetry"] = None  # type: ignore[assignment]

SECRET_KEY = "benchmarks"
DEBUG = False
ALLOWED_HOSTS = ["*"]
INSTALLED_APPS = ["django_streaming"]
MIDDLEWARE: list[str] = []
DATABASES: dict[str, Any] = {}
# Thousands of streams from one load client on one address: no per-owner cap (it would count
# them all against 127.0.0.1).
DJANGO_STREAMING: dict[str, Any] = {"HEARTBEAT_INTERVAL": 15.0, "MAX_ACTIVE_PER_OWNER": None}
# `python -m benchmarks.metrics` runs each row with metrics on and off.
if os.environ.get("BENCH_METRICS") == "0":
    DJANGO_STREAMING["METRICS"] = False
