"""STYLE.md 13, checked with the imports themselves: the store and log interfaces
(``stores/``) and the backends (``backends/``) import nothing of the engine or the views
above them, the interfaces import no backend (but the two settings aliases), and the agent
adapters sit above the chat view, which runs them by dotted name (``chat/agent.py``)."""

from __future__ import annotations

import ast
from pathlib import Path

import django_streaming

PACKAGE = Path(django_streaming.__file__).parent
ABOVE = {"channels", "resumable", "views", "responses", "chat", "agents", "templatetags", "asgi"}
#: ``stores/redis.py`` and ``stores/memory.py`` keep the settings paths of before the move.
ALIASES = {"stores/redis.py", "stores/memory.py"}


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


def test_stores_and_backends_import_nothing_above_them() -> None:
    upwards = {
        str(path.relative_to(PACKAGE)): sorted(imported(path) & ABOVE)
        for folder in ("stores", "backends")
        for path in (PACKAGE / folder).rglob("*.py")
        if imported(path) & ABOVE
    }
    assert upwards == {}


def test_the_interfaces_import_no_backend() -> None:
    down = [
        str(path.relative_to(PACKAGE))
        for path in (PACKAGE / "stores").glob("*.py")
        if str(path.relative_to(PACKAGE)) not in ALIASES and "backends" in imported(path)
    ]
    assert down == []


def test_the_chat_view_imports_no_agent_adapter() -> None:
    """The adapters sit above the chat view, which runs them by dotted name (chat/agent.py):
    an import the other way, lazy or not, made a circle (agents import chat.views)."""
    up = [
        str(path.relative_to(PACKAGE))
        for path in (PACKAGE / "chat").rglob("*.py")
        if "agents" in imported(path)
    ]
    assert up == []
