"""The tools some tests need (Chromium, nginx, Redis, PostgreSQL, Node): skipped on a laptop
without them, required in CI."""

from __future__ import annotations

import os
import shutil

import pytest

IN_CI = bool(os.environ.get("CI"))


def require(tool: str, path: str | None = None) -> str:
    """The path of ``tool``; skip without it on a laptop, fail without it in CI."""
    found = path if path and os.path.exists(path) else shutil.which(tool)
    if found:
        return found
    if IN_CI:
        pytest.fail(f"{tool} is required in CI (CI is set) but was not found")
    pytest.skip(f"{tool} is not installed; .ci/run installs it")
