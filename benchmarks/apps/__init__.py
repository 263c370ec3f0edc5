"""The apps the benchmarks serve, each its own settings module where it is a Django site."""

from __future__ import annotations

from pathlib import Path


def apply_gc_lines() -> None:
    """Run the deployment page's garbage-collector lines (``docs/snippets/gc.py``) as they
    stand there, as a site deployed the way that page advises would."""
    exec((Path(__file__).parents[2] / "docs" / "snippets" / "gc.py").read_text(), {})
