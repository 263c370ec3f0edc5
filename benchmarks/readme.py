"""A code block of the README, between ``<!-- NAME:start -->`` and ``<!-- NAME:end -->``, for
what runs it as it stands there: the soak server's garbage-collector lines, the nginx test's
configuration."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def readme_block(name: str, language: str) -> str:
    """The code of the README's ``name`` block, without the indentation of its list item."""
    pattern = rf"<!-- {re.escape(name)}:start -->\s*```{language}\n(.*?)```"
    block = re.search(pattern, README.read_text(), re.DOTALL)
    if block is None:
        raise RuntimeError(f"the README's {name} block is gone")
    return textwrap.dedent(block.group(1))
