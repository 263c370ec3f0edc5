from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.chromium import CHROMIUM, launch

IN_CI = bool(os.environ.get("CI"))
# What pytest's ``pythonpath`` gives this process, for the servers and commands it starts.
_EXAMPLE = str(Path(__file__).resolve().parent.parent / "example_project")
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [_EXAMPLE, os.environ.get("PYTHONPATH")]))


def require(tool: str, path: str | None = None) -> str:
    """The path of ``tool``; skip without it on a laptop, fail without it in CI."""
    found = path if path and os.path.exists(path) else shutil.which(tool)
    if found:
        return found
    if IN_CI:
        pytest.fail(f"{tool} is required in CI (CI is set) but was not found")
    pytest.skip(f"{tool} is not installed; .ci/run installs it")


@pytest.fixture
def token() -> str:
    return uuid.uuid4().hex


@pytest.fixture(scope="module")  # closed before other modules' asyncio tests run
def browser() -> Iterator[Browser]:
    executable = require("chromium", CHROMIUM)
    with sync_playwright() as playwright:
        browser = launch(playwright, executable)
        yield browser
        browser.close()
