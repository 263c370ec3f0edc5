"""The documentation stays true to the code: every setting with its real default, every check
id the code can emit, every public name, every snippet the tests run (as django-htmx's
``tests/test_docs.py`` keeps its docs)."""

from __future__ import annotations

import ast
import builtins
import copy
import importlib
import json
import re
import symtable
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.template import Context, Template
from django.test import AsyncClient
from pytest_django.fixtures import Settings as SettingsWrapper

import django_streaming
from django_streaming import checks
from django_streaming.conf import DEFAULTS
from tests.support.chat import chat_body, parts
from tests.support.docs import DOCS, CodeBlock, code_blocks

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
    assert len(readme.splitlines()) <= 160
    for must in ("make demo", "make test", "trust_client_system", "ToolCall", "django-eventstream"):
        assert must in readme, must


README = DOCS.parent / "README.md"
README_PYTHON = [block for block in code_blocks(README) if block.language == "python"]


def undefined_names(source: str) -> set[str]:
    """The global names ``source`` reads, at its top or in any function or class of it, that
    it neither defines nor imports, and that are not builtins."""
    top = symtable.symtable(source, "<block>", "exec")
    defined = {s.get_name() for s in top.get_symbols() if s.is_assigned() or s.is_imported()}
    read = {s.get_name() for s in top.get_symbols() if s.is_referenced()}
    scopes = list(top.get_children())
    while scopes:
        scope = scopes.pop()
        scopes += scope.get_children()
        read |= {s.get_name() for s in scope.get_symbols() if s.is_referenced() and s.is_global()}
    return read - defined - set(dir(builtins))


def test_the_undefined_name_check_finds_a_name_a_method_calls() -> None:
    source = "class Chat:\n    async def generate(self):\n        yield await run_search(1)\n"
    assert undefined_names(source) == {"run_search"}
    assert undefined_names("urlpatterns = [path('a/', Chat.as_view())]") == {"path", "Chat"}
    assert undefined_names("from x import run_search\n" + source) == set()


@pytest.mark.parametrize("block", README_PYTHON, ids=lambda block: str(block.path))
def test_each_readme_python_block_defines_or_imports_every_name_it_uses(block: CodeBlock) -> None:
    assert block.path, f"a README block names no file: {block.text[:60]!r}"
    assert undefined_names(block.text) == set(), block.text


@pytest.fixture
def readme(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The README's Python blocks, written as the files they name, a package per example (a
    file named again starts the next one), each file imported; the packages, in order. They
    are forgotten after the test."""
    monkeypatch.syspath_prepend(str(tmp_path))
    examples: list[dict[str, str]] = [{}]
    for block in README_PYTHON:
        assert block.path is not None
        if block.path in examples[-1]:
            examples.append({})
        examples[-1][block.path] = block.text
    packages = []
    for number, files in enumerate(examples):
        package = tmp_path / f"readme_example_{number}"
        package.mkdir()
        (package / "__init__.py").write_text("")
        for path, text in files.items():
            (package / path).write_text(text)
        for path in files:
            importlib.import_module(f"{package.name}.{path.removesuffix('.py')}")
        packages.append(package.name)
    yield packages
    for module in [module for module in sys.modules if module.startswith("readme_example_")]:
        del sys.modules[module]


async def read_parts(response: Any) -> list[Any]:
    return parts(b"".join([chunk async for chunk in response.streaming_content]))


async def test_the_readme_examples_run(readme: list[str], settings: SettingsWrapper) -> None:
    countdown, agent = readme
    # The countdown: its first event.
    settings.ROOT_URLCONF = f"{countdown}.urls"
    response: Any = await AsyncClient().get("/countdown/")
    chunks = aiter(response.streaming_content)
    first = await anext(chunks)
    while b"data:" not in first:
        first += await anext(chunks)
    await chunks.aclose()
    assert b'data: {"left":10}' in first
    # The agent: a search, the model's text, a rename waiting for approval; approved, done.
    settings.ROOT_URLCONF = f"{agent}.urls"
    saved: list[dict[str, Any]] = []
    views = sys.modules[f"{agent}.views"]

    async def on_finish(self: Any, result: Any) -> None:
        saved.append(copy.deepcopy(result.message))

    views.Agent.on_finish = on_finish  # what the README leaves to the reader: keep the message
    client = AsyncClient()
    body = chat_body("readme", "hello")
    answer = await read_parts(
        await client.post("/api/chat/", json.dumps(body), content_type="application/json")
    )
    types = [part["type"] for part in answer if part != "[DONE]"]
    assert types.count("tool-output-available") == 1
    assert "tool-approval-request" in types
    text = "".join(part.get("delta", "") for part in answer if part != "[DONE]")
    assert "hello" in text
    [message] = saved
    rename = next(part for part in message["parts"] if part["type"] == "tool-rename_chat")
    rename.update(state="approval-responded", approval={**rename["approval"], "approved": True})
    body["messages"].append(message)
    continued = await read_parts(
        await client.post("/api/chat/", json.dumps(body), content_type="application/json")
    )
    outputs = [part for part in continued if part != "[DONE]" and part["type"].startswith("tool")]
    assert outputs == [
        {"type": "tool-output-available", "toolCallId": rename["toolCallId"],
         "output": {"title": "Search results"}}
    ]  # fmt: skip
    # The widget's tag, on the agent's URL.
    html = Template(next(b.text for b in code_blocks(README) if b.language == "django")).render(
        Context({})
    )
    assert "data-ds-chat" in html
    assert "/api/chat/" in html
