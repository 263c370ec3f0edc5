"""The package's words (the widget's, the admin page's): every one translated in each shipped
locale, the compiled catalogues in step with their sources, and chat-strings.js's English
defaults the same as the server's."""

from __future__ import annotations

import io
import json
import re
import subprocess
from pathlib import Path
from typing import TypeAlias

import pytest
from babel.messages.extract import extract
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from django.utils.translation.template import templatize

from django_streaming.widget_strings import (
    DEFAULT_PLACEHOLDER,
    DEFAULT_TITLE,
    TITLE_CONTEXT,
    WIDGET_STRINGS,
    widget_strings,
)
from tests.support.tools import require

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "django_streaming"
LOCALE = PACKAGE / "locale"
LANGUAGES = ("fr", "de", "es", "ar")
#: A message's (context, English): its English is a (singular, plural) pair when it has plurals.
Key: TypeAlias = tuple[str | None, str | tuple[str, ...]]
#: The widget's messages, which widget_strings.py translates from a table (no literal to find).
WIDGET_MESSAGES: set[Key] = {
    (TITLE_CONTEXT, DEFAULT_TITLE),
    (None, DEFAULT_PLACEHOLDER),
    *((None, english) for english in WIDGET_STRINGS.values()),
}
KEYWORDS = {
    "_": None,
    "gettext": None,
    "gettext_lazy": None,
    "ngettext": (1, 2),
    "pgettext": ((1, "c"), 2),
    "npgettext": ((1, "c"), 2, 3),
}
PLACEHOLDER = re.compile(r"\{\w+\}|%\(\w+\)s")


def marked_in_code() -> set[Key]:
    """What the package's Python and templates mark for translation, found as ``makemessages``
    finds it (templates through Django's ``templatize()``), without gettext installed."""
    found: set[Key] = set()
    sources = [*PACKAGE.rglob("*.py"), *(PACKAGE / "templates").rglob("*.html")]
    for path in sources:
        text = path.read_text()
        if path.suffix == ".html":
            text = templatize(text)
        for _, message, _, context in extract("python", io.BytesIO(text.encode()), KEYWORDS):
            found.add((context, message))
    return found


def catalogue(language: str, kind: str) -> dict[Key, str | tuple[str, ...]]:
    path = LOCALE / language / "LC_MESSAGES" / f"django.{kind}"
    with path.open("rb") as file:
        read = read_po(file) if kind == "po" else read_mo(file)
    # A plural's ids and forms: a tuple from a .po, a list from a .mo.
    return {
        (message.context, _plain(message.id)): _plain(message.string or "")
        for message in read
        if message.id
    }


def _plain(text: str | tuple[str, ...] | list[str]) -> str | tuple[str, ...]:
    return text if isinstance(text, str) else tuple(text)


def test_the_code_marks_the_admin_page_and_the_model() -> None:
    # (So that the test below cannot pass by finding nothing.)
    marked = marked_in_code()
    assert (None, "Live answers") in marked
    assert ("live answers column", "View") in marked
    plural = ("The oldest answer is listed.", "The oldest %(counter)s answers are listed.")
    assert (None, plural) in marked
    assert (None, "Can stop live answers") in marked


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_string_is_translated_with_its_placeholders(language: str) -> None:
    translated = catalogue(language, "po")
    assert set(translated) == WIDGET_MESSAGES | marked_in_code()
    for (_, english), text in translated.items():
        if isinstance(english, tuple):  # each plural form, with no placeholder of its own
            assert isinstance(text, tuple)
            allowed = set(PLACEHOLDER.findall(english[1]))
            for form in text:
                assert form, f"{language}: {english!r} lacks a plural form"
                assert set(PLACEHOLDER.findall(form)) <= allowed, (language, english, form)
            continue
        assert isinstance(text, str)
        assert text, f"{language}: {english!r} has no translation"
        placeholders = sorted(PLACEHOLDER.findall(english))
        assert sorted(PLACEHOLDER.findall(text)) == placeholders, (language, english, text)


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
