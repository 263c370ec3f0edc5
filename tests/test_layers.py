"""STYLE.md 13, checked with the imports themselves (lazy ones too): the agent adapters sit
above the chat view, which runs them by dotted name (``chat/agent.py``)."""

from __future__ import annotations

import ast
from pathlib import Path

import django_streaming

PACKAGE = Path(django_streaming.__file__).parent


def imported(path: Path) -> set[str]:
    """The ``django_streaming`` packages right below the top that ``path`` imports."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules = [node.module]
        elif isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        else:
            continue
        for module in modules:
            parts = module.split(".")
            if parts[0] == "django_streaming" and len(parts) > 1:
                names.add(parts[1])
    return names


def test_the_chat_view_imports_no_agent_adapter() -> None:
    """An import from the chat view up to the adapters, lazy or not, made a circle (the
    adapters import the chat view)."""
    up = [
        str(path.relative_to(PACKAGE))
        for path in (PACKAGE / "chat").rglob("*.py")
        if "agents" in imported(path)
    ]
    assert up == []
