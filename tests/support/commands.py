"""``manage.py`` commands of the test project, run in a process of their own."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.support.servers import ROOT


def manage_publish(
    redis_url: str, prefix: str, *arguments: str
) -> subprocess.CompletedProcess[str]:
    """``manage.py publish ...`` against the Redis store at ``redis_url`` under ``prefix``."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "TEST_REDIS_URL": redis_url,
        "TEST_REDIS_PREFIX": prefix,
        # A command fails fast when Redis is down, rather than waiting out a failover.
        "TEST_REDIS_FAILOVER_TIMEOUT": "0.3",
    }
    return subprocess.run(
        [sys.executable, "-m", "django", "publish", *arguments],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
