from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

# What pytest's ``pythonpath`` gives this process, for the servers and commands it starts.
_EXAMPLE = str(Path(__file__).resolve().parent.parent / "example_project")
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [_EXAMPLE, os.environ.get("PYTHONPATH")]))


@pytest.fixture
def token() -> str:
    return uuid.uuid4().hex
