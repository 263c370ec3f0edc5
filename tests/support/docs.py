"""The documentation's own files, for tests that run what the docs say as it stands there."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs"

_FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
# A first line naming the block's file: `# mysite/settings.py`, `// app.js`,
# `{# chat/templates/chat/index.html #}` or `<!-- page.html -->`, with an optional note in
# parentheses: "(add at the end)" makes the block an addition to the file.
_FILE_COMMENT = re.compile(
    r"^(?:#|//|\{#|<!--)\s*(?P<path>[\w.-]+(?:/[\w.-]+)*\.\w+)\s*(?:\((?P<note>[^)]*)\))?"
    r"\s*(?:#\}|-->)?\s*$"
)


@dataclass(frozen=True)
class CodeBlock:
    """A fenced block of a page: its language, its text, and the file it names, if any."""

    language: str
    text: str
    path: str | None = None
    #: Whether the block goes at the end of its file ("(add at the end)") instead of being it.
    append: bool = False


def code_blocks(page: Path) -> list[CodeBlock]:
    """The fenced code blocks of a markdown page, in order (MyST directives left out)."""
    blocks = []
    for language, text in _FENCE.findall(page.read_text()):
        if language.startswith("{"):
            continue
        first = _FILE_COMMENT.match(text.split("\n", 1)[0])
        path = first.group("path") if first else None
        append = bool(first and first.group("note") == "add at the end")
        blocks.append(CodeBlock(language.strip(), text, path, append))
    return blocks


def snippet(name: str) -> str:
    """A file of ``docs/snippets/``, which the docs include with ``literalinclude``."""
    return (DOCS / "snippets" / name).read_text()
