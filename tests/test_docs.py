"""The documentation stays true to the code: every setting with its real default, every check
id the code can emit, every public name, every snippet the tests run (as django-htmx's
``tests/test_docs.py`` keeps its docs)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import django_streaming
from django_streaming import checks
from django_streaming.conf import DEFAULTS
from tests.support.docs import DOCS

PACKAGE = Path(django_streaming.__file__).parent


def sections(page: str) -> dict[str, str]:
    """Each ``## `name` `` section of a page, by name."""
    text = (DOCS / page).read_text()
    parts = re.split(r"^## `([^`]+)`\n", text, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def as_data(value: object) -> object:
    return list(value) if isinstance(value, tuple) else value


SETTINGS = sections("settings.md")


def test_the_settings_page_has_every_key_and_no_other() -> None:
    assert list(SETTINGS) == list(DEFAULTS)


@pytest.mark.parametrize("key", list(DEFAULTS))
def test_each_setting_shows_its_real_default_type_and_check(key: str) -> None:
    section = SETTINGS[key]
    default = re.search(r"^- Default: `(.+)`$", section, re.MULTILINE)
    assert default, f"{key}: no '- Default: `...`' line"
    assert as_data(ast.literal_eval(default.group(1))) == as_data(DEFAULTS[key])  # type: ignore[literal-required]
    assert re.search(r"^- Type: `.+`", section, re.MULTILINE), f"{key}: no '- Type:' line"
    rule_ids = [
        f"django_streaming.{check_id}" for name, *_, check_id in checks.RULES if name == key
    ]
    own_checks = {"STORE": "django_streaming.E008", "CHANNELS": "django_streaming.E013"}
    expected = rule_ids or [own_checks[key]]
    assert re.findall(r"^- Check: `(.+)`$", section, re.MULTILINE) == expected


def emitted_check_ids() -> set[str]:
    """The ids written in the package's source, and those its rules table builds."""
    source = "\n".join(path.read_text() for path in PACKAGE.rglob("*.py"))
    written = set(re.findall(r"django_streaming\.[EW]\d{3}", source))
    return written | {f"django_streaming.{check_id}" for *_, check_id in checks.RULES}


def test_the_checks_page_has_every_check_the_code_can_emit_and_no_other() -> None:
    documented = sections("checks.md")
    assert set(documented) == emitted_check_ids()
    for check_id, section in documented.items():
        assert "**Triggered by**" in section, check_id
        assert "**Fix**" in section, check_id


def test_the_api_page_documents_every_public_name() -> None:
    page = (DOCS / "api.md").read_text()
    documented = set(re.findall(r"^\.\. auto\w+:: django_streaming\.(\w+)$", page, re.MULTILINE))
    assert documented >= set(django_streaming.__all__)


def test_every_snippet_is_in_the_docs() -> None:
    pages = "\n".join(page.read_text() for page in DOCS.glob("*.md"))
    # Files only: importing the Python snippets (tests/agents/test_snippets.py) leaves a
    # __pycache__ beside them.
    for snippet in (path for path in (DOCS / "snippets").iterdir() if path.is_file()):
        assert f"{{literalinclude}} snippets/{snippet.name}" in pages, snippet.name


def test_the_readme_fits_on_a_screen_and_names_what_it_must() -> None:
    """A front page, not a manual: what goes beyond belongs on the docs site."""
    readme = (DOCS.parent / "README.md").read_text()
    assert len(readme.splitlines()) <= 150
    for must in ("make demo", "make test", "trust_client_system", "ToolCall", "django-eventstream"):
        assert must in readme, must
