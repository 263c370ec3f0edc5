"""``docs/screenshot.py`` (``make screenshots``) still takes the docs' pictures: a shot of the
widget is a PNG of the size the docs show. The committed pictures are not compared pixel by
pixel (fonts differ between machines); ``make screenshots`` retakes them."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from tests.browser.chromium import CHROMIUM
from tests.support.docs import DOCS
from tests.support.tools import require

pytestmark = pytest.mark.slow
SCRIPT = DOCS / "screenshot.py"


def take(*arguments: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    return subprocess.run(
        [sys.executable, str(SCRIPT), *arguments],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_the_script_shoots_the_widget_at_the_docs_size(tmp_path: Path) -> None:
    require("chromium", CHROMIUM)
    taken = take("widget-tool-approval", "--out", str(tmp_path))
    assert taken.returncode == 0, taken.stderr
    for name in ("tool-approval",):
        shot = tmp_path / "images" / f"widget-{name}.png"
        assert png_size(shot) == (720, 560)
        assert shot.stat().st_size > 10_000  # a drawn widget, not a blank page


def test_every_widget_picture_of_the_docs_is_shown_and_exists() -> None:
    page = (DOCS / "chat.md").read_text()
    for picture in (DOCS / "images").glob("widget-*.png"):
        assert f"images/{picture.name}" in page, picture.name
        assert png_size(picture) == (720, 560)


def test_an_unknown_shot_is_refused_by_name(tmp_path: Path) -> None:
    taken = take("widget-nope", "--out", str(tmp_path))
    assert taken.returncode == 2
    assert "no shot named widget-nope" in taken.stderr
