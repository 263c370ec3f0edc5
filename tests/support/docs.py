"""The documentation's own files, for tests that run what the docs say as it stands there."""

from __future__ import annotations

from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs"


def snippet(name: str) -> str:
    """A file of ``docs/snippets/``, which the docs include with ``literalinclude``."""
    return (DOCS / "snippets" / name).read_text()
