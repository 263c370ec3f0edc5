"""The widget's words: every one translated in each shipped locale, the compiled catalogues in
step with their sources, and chat-strings.js's English defaults the same as the server's."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from django_streaming.widget_strings import (
    DEFAULT_PLACEHOLDER,
    DEFAULT_TITLE,
    TITLE_CONTEXT,
    WIDGET_STRINGS,
    widget_strings,
)
from tests.support.tools import require

ROOT = Path(__file__).resolve().parent.parent
LOCALE = ROOT / "django_streaming" / "locale"
LANGUAGES = ("fr", "de", "es", "ar")
#: Every message the widget has: (context, English).
MESSAGES = {
    (TITLE_CONTEXT, DEFAULT_TITLE),
    (None, DEFAULT_PLACEHOLDER),
    *((None, english) for english in WIDGET_STRINGS.values()),
}


def catalogue(language: str, kind: str) -> dict[tuple[str | None, str], str]:
    path = LOCALE / language / "LC_MESSAGES" / f"django.{kind}"
    with path.open("rb") as file:
        read = read_po(file) if kind == "po" else read_mo(file)
    # (Plural messages would be tuples; the widget has none.)
    return {
        (message.context, str(message.id)): str(message.string) for message in read if message.id
    }


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_string_is_translated_with_its_placeholders(language: str) -> None:
    translated = catalogue(language, "po")
    assert set(translated) == MESSAGES
    for (_, english), text in translated.items():
        assert text, f"{language}: {english!r} has no translation"
        placeholders = sorted(re.findall(r"\{\w+\}", english))
        assert sorted(re.findall(r"\{\w+\}", text)) == placeholders, (language, english, text)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_committed_mo_is_compiled_from_the_po(language: str) -> None:
    assert catalogue(language, "mo") == catalogue(language, "po"), (
        f"django_streaming/locale/{language}: the .mo differs from the .po; run `make messages`"
    )


def test_chat_strings_js_has_the_same_english_defaults() -> None:
    node = require("node")
    module = (ROOT / "django_streaming/static/django_streaming/chat-strings.js").as_uri()
    script = (
        f'import {{ DEFAULT_STRINGS }} from "{module}";'
        " console.log(JSON.stringify(DEFAULT_STRINGS))"
    )
    printed = subprocess.run(
        [node, "--input-type=module", "-e", script],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    assert json.loads(printed) == WIDGET_STRINGS


def test_no_overrides_is_the_translations() -> None:
    assert widget_strings() == widget_strings({})
