"""The vendored front-end libraries (static/django_streaming/vendor/): each keeps its licence and
a note of its version and origin, and the static files go through a manifest storage."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import override_settings

STATIC = Path(__file__).resolve().parents[1] / "django_streaming" / "static" / "django_streaming"


@pytest.mark.parametrize("folder", ["highlight.js", "katex"])
def test_vendored_libraries_keep_their_licence_and_origin(folder: str) -> None:
    vendor = STATIC / "vendor" / folder
    assert (vendor / "LICENSE").read_text().strip()
    note = (vendor / "README.md").read_text()
    version = re.search(r"^# \S+ (\d+\.\d+\.\d+) \(vendored\)$", note, re.MULTILINE)
    assert version, "the note names the version"
    assert f"@{version[1]}" in note, "and how it was fetched"
    docs = (STATIC.parents[2] / "docs" / "chat.md").read_text()
    assert f"{version[1]}" in docs, "the docs name the version shipped"


def test_katex_stylesheet_names_only_fonts_that_ship() -> None:
    vendor = STATIC / "vendor" / "katex"
    fonts = set(re.findall(r"url\(([^)]+)\)", (vendor / "katex.min.css").read_text()))
    assert len(fonts) == 20
    assert all(font.endswith(".woff2") and (vendor / font).is_file() for font in fonts)


def test_collectstatic_with_a_manifest_storage(tmp_path: Path) -> None:
    storages = {
        "staticfiles": {
            "BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage",
        }
    }
    with override_settings(STORAGES=storages, STATIC_ROOT=tmp_path):
        call_command("collectstatic", interactive=False, verbosity=0)
    assert list(tmp_path.glob("django_streaming/vendor/katex/katex.min.*.css"))
    assert (
        tmp_path / "django_streaming" / "vendor" / "highlight.js" / "es" / "core.min.js"
    ).exists()
