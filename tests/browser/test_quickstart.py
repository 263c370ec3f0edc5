"""The quick start, as a reader follows it: a real ``startproject`` built from the page's own
code blocks (``docs/quickstart.md``, each naming its file on its first line), served by the
page's own command, chatted with in Chromium. The docs cannot drift from what runs.

The shell block's commands run as written, but for ``pip install`` (the package is installed
here already) and with this interpreter for ``python`` and ``django-admin``.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect

from tests.support.docs import DOCS, CodeBlock, code_blocks
from tests.support.servers import RunningServer, subprocess_server

QUICKSTART = DOCS / "quickstart.md"
QUESTION = "How do I stream from Django?"


#: What the test suite adds to the environment, which a reader's shell has not.
TESTS_OWN = ("DJANGO_SETTINGS_MODULE", "PYTHONPATH")
#: The environment of the project's servers (a subprocess_server adds it to the tests').
SERVER_ENV = {"DJANGO_SETTINGS_MODULE": "mysite.settings", "PYTHONPATH": ""}


def reader_env() -> dict[str, str]:
    """A reader's shell: no test settings, no example project on the path."""
    return {key: value for key, value in os.environ.items() if key not in TESTS_OWN}


def command(line: str) -> list[str] | None:
    """The argv of one line of the page's shell blocks, with this interpreter; None to skip."""
    words = shlex.split(line, comments=True)
    if not words or words[0] == "pip":
        return None
    if words[0] == "python":
        return [sys.executable, *words[1:]]
    if words[0] == "django-admin":
        return [sys.executable, "-m", "django", *words[1:]]
    if words[0] == "uvicorn":
        return [sys.executable, "-m", "uvicorn", *words[1:]]
    raise AssertionError(f"the quick start's shell line {line!r} is not one this test can run")


def run_shell(block: CodeBlock, cwd: Path) -> Path:
    """Run a shell block's lines in ``cwd`` (following its ``cd``); the directory it ends in."""
    for line in block.text.splitlines():
        if line.startswith("cd "):
            cwd = cwd / line.removeprefix("cd ").strip()
            continue
        argv = command(line)
        if argv is not None:
            subprocess.run(argv, cwd=cwd, env=reader_env(), check=True, timeout=120)
    return cwd


def write_files(blocks: list[CodeBlock], project: Path) -> None:
    for block in blocks:
        assert block.path is not None
        target = project / block.path
        target.parent.mkdir(parents=True, exist_ok=True)
        if block.append:
            assert target.exists(), f"{block.path} is added to, but nothing made it"
            target.write_text(target.read_text() + "\n\n" + block.text)
        else:
            target.write_text(block.text)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    blocks = code_blocks(QUICKSTART)
    setup = [block for block in blocks if block.language == "sh" and "startproject" in block.text]
    assert len(setup) == 1, "the quick start has one shell block that makes the project"
    project = run_shell(setup[0], tmp_path_factory.mktemp("quickstart"))
    write_files([block for block in blocks if block.path], project)
    return project


def run_command() -> list[str]:
    """The page's command that serves the project, on a socket of this test's."""
    [line] = [
        line
        for block in code_blocks(QUICKSTART)
        if block.language == "sh"
        for line in block.text.splitlines()
        if line.startswith("uvicorn ")
    ]
    argv = command(line)
    assert argv is not None
    return [*argv, "--fd", "{fd}"]


@pytest.fixture(scope="module")
def server(project: Path) -> Iterator[RunningServer]:
    # As a reader's shell, in which DJANGO_SETTINGS_MODULE is unset and asgi.py sets it.
    with subprocess_server(run_command(), env=SERVER_ENV, cwd=project) as running:
        yield running


def console_error(message: ConsoleMessage, problems: list[str]) -> None:
    """Keep an error the console shows (a static file's 404, a MIME type refused), but the
    browser's own request for a favicon, which the page has none of."""
    if message.type == "error" and not message.location["url"].endswith("/favicon.ico"):
        problems.append(f"{message.text} ({message.location['url']})")


@pytest.fixture
def page(browser: Browser, server: RunningServer) -> Iterator[Page]:
    context = browser.new_context(base_url=server.url)
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda message: console_error(message, problems))
    yield page
    context.close()
    assert problems == [], f"errors in the page: {problems}"


def test_the_quick_start_project_streams_an_answer_in_the_widget(page: Page) -> None:
    static: dict[str, tuple[int, str]] = {}
    page.on(
        "response",
        lambda r: (
            static.update({r.url.rsplit("/", 1)[-1]: (r.status, r.headers["content-type"])})
            if "/static/django_streaming/" in r.url
            else None
        ),
    )
    page.goto("/")
    page.wait_for_function("document.querySelector('[data-ds-chat]')?.dsChat")
    assert static["chat.css"][0] == 200
    assert static["chat.css"][1].startswith("text/css")
    assert static["chat.js"][0] == 200
    assert "javascript" in static["chat.js"][1]
    # Styled by its CSS (a flex column with a border), not a bare form.
    assert page.locator(".ds-chat").evaluate("e => getComputedStyle(e).display") == "flex"
    page.get_by_label("Message").fill(QUESTION)
    page.get_by_label("Message").press("Enter")
    answer = page.locator(".ds-chat__message--assistant").last
    expect(answer).to_contain_text(f"You asked: “{QUESTION}”", timeout=15_000)
    expect(page.locator(".ds-chat__log")).to_have_attribute("aria-busy", "false", timeout=15_000)
    expect(answer).to_contain_text("Put your own model client in generate()")


def test_the_quick_start_countdown_streams_events(server: RunningServer) -> None:
    with httpx.stream("GET", f"{server.url}/countdown/", timeout=10) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        first = next(line for line in response.iter_lines() if line.startswith("data:"))
    assert json.loads(first.removeprefix("data:")) == {"left": 10}


def test_runserver_serves_the_quick_start_project_and_its_static_files(project: Path) -> None:
    argv = [sys.executable, "manage.py", "runserver", "127.0.0.1:{port}", "--noreload"]
    with subprocess_server(argv, env=SERVER_ENV, cwd=project) as running:
        assert "data-ds-chat" in httpx.get(f"{running.url}/", timeout=10).text
        script = httpx.get(f"{running.url}/static/django_streaming/chat.js", timeout=10)
    assert script.status_code == 200
    assert "javascript" in script.headers["content-type"]
