"""Take the docs' screenshots: ``python docs/screenshot.py [NAME ...] [--out FOLDER]``
(``make screenshots`` takes them all).

* ``chat``: ``docs/chat.png``, the README's picture: the example project (under uvicorn on a
  free loopback port, with a throw-away database) after one question.
* ``widget-NAME``: ``docs/images/widget-NAME.png``, the widget with one set of options
  (``SHOTS`` below) on a page of its own, served by a small site in this process with
  ``EchoModel`` answering, after one question. One line of ``SHOTS`` adds a shot:
  ``Shot("NAME", 'tag options', ...)``; its fields say what else it needs (a colour scheme,
  a language, files to attach, what the model answers).

Every shot has the same size (``VIEWPORT``); the tests take some of them and check it.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import django  # noqa: E402
from django.conf import settings  # noqa: E402

from django_streaming import ApprovalRequest, ChatMessage, ChatPart, ToolCall  # noqa: E402
from django_streaming.chat.demo import EchoModel  # noqa: E402

VIEWPORT = {"width": 720, "height": 560}
QUESTION = "How do I stream an LLM answer from Django?"

#: What the model answers to a shot's conversation.
Reply = Callable[[list[ChatMessage]], AsyncIterator[ChatPart]]


async def echo(messages: list[ChatMessage]) -> AsyncIterator[ChatPart]:
    """The demo model's answer, quickly."""
    async for token in EchoModel(delay=0.002).stream(messages[-1].text):
        yield token


def saying(answer: str) -> Reply:
    """A model that answers ``answer`` (markdown), whatever the question (code, math...)."""

    async def reply(messages: list[ChatMessage]) -> AsyncIterator[ChatPart]:
        yield answer

    return reply


async def ask_approval(messages: list[ChatMessage]) -> AsyncIterator[ChatPart]:
    """A tool call that waits for the user's Approve or Deny."""
    yield "I can rename this chat for you; please approve."
    rename = ToolCall("rename_chat", {"title": "Trip to Lisbon"}, title="Rename the chat")
    yield rename
    yield ApprovalRequest(rename.id)


@dataclass(frozen=True)
class Shot:
    """One picture of the widget: ``{% chat_widget "..." OPTIONS %}`` after one question."""

    name: str  # the file: docs/images/widget-NAME.png
    options: str = 'title="Ask me"'  # the tag's options, as a template writes them
    question: str = QUESTION
    reply: Reply = echo
    color_scheme: Literal["light", "dark"] = "light"
    lang: str = "en"  # the page's language (and its direction: "ar" and "he" are RTL)
    files: tuple[str, ...] = ()  # attached to the question, relative to the repository
    pending: tuple[str, ...] = ()  # attached after the answer, shown waiting in the composer


SHOTS = [
    Shot("default"),
    Shot("dark", color_scheme="dark"),
    Shot("attachments", pending=("docs/chat.png",)),
    Shot("tool-approval", question="Rename this chat to Trip to Lisbon", reply=ask_approval),
]
SHOTS_BY_NAME = {f"widget-{shot.name}": shot for shot in SHOTS}


def configure_site() -> None:
    """The shots' site: a page and a chat endpoint per shot, its static files served by
    ``django_streaming.asgi`` with ``DEBUG`` on."""
    settings.configure(
        DEBUG=True,
        SECRET_KEY="screenshots-only",
        ALLOWED_HOSTS=["127.0.0.1"],
        ROOT_URLCONF=__name__,
        INSTALLED_APPS=["django.contrib.staticfiles", "django_streaming"],
        TEMPLATES=[
            {"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True}
        ],
        STATIC_URL="/static/",
        USE_TZ=True,
    )
    django.setup()


PAGE = """{% load django_streaming %}<!doctype html>
<html lang="LANG" dir="DIR"><head><meta charset="utf-8">
<meta name="color-scheme" content="light dark"><title>NAME</title>
<style>body { margin: 1rem; font-family: system-ui, sans-serif; }
.ds-chat { --ds-chat-height: calc(100vh - 2rem); }</style></head>
<body>{% chat_widget "/chat/NAME/" OPTIONS %}</body></html>"""


def page_view(request: Any, name: str) -> Any:
    from django.http import HttpResponse
    from django.template import Context, Template

    shot = SHOTS_BY_NAME[f"widget-{name}"]
    direction = "rtl" if shot.lang.split("-")[0] in ("ar", "he", "fa", "ur") else "ltr"
    source = (
        PAGE.replace("LANG", shot.lang)
        .replace("DIR", direction)
        .replace("NAME", name)
        .replace("OPTIONS", shot.options)
    )
    return HttpResponse(Template(source).render(Context({"request": request})))


def urls() -> list[Any]:
    from django.urls import path
    from django.views.decorators.csrf import csrf_exempt

    from django_streaming import ChatStreamView

    class ShotChat(ChatStreamView):
        async def generate(self, messages: list[ChatMessage]) -> AsyncIterator[ChatPart]:
            async for part in SHOTS_BY_NAME[f"widget-{self.kwargs['name']}"].reply(messages):
                yield part

    return [
        path("shot/<str:name>/", page_view),
        path("chat/<str:name>/", csrf_exempt(ShotChat.as_view())),
    ]


def __getattr__(attribute: str) -> Any:
    # This module is the site's URLconf; its patterns are made when Django first asks.
    if attribute == "urlpatterns":
        return urls()
    raise AttributeError(attribute)


def attach(page: Any, files: tuple[str, ...]) -> None:
    if files:
        page.locator(".ds-chat input[type=file]").set_input_files([ROOT / f for f in files])


def ask(page: Any, question: str, files: tuple[str, ...] = ()) -> None:
    """Ask ``question`` (with ``files`` attached) and wait for the whole answer."""
    page.wait_for_function("document.querySelector('[data-ds-chat]')?.dsChat")
    attach(page, files)
    page.get_by_label("Message").fill(question)
    page.get_by_label("Message").press("Enter")
    page.wait_for_function(
        "document.querySelector('.ds-chat__log').getAttribute('aria-busy') === 'false'"
        " && document.querySelector('.ds-chat__message--assistant')"
        " && [...document.images].every((image) => image.complete)"
    )


def shoot_widget(browser: Any, url: str, shot: Shot, out: Path) -> Path:
    context = browser.new_context(
        base_url=url, viewport=VIEWPORT, color_scheme=shot.color_scheme, reduced_motion="reduce"
    )
    page = context.new_page()
    response = page.goto(f"/shot/{shot.name}/")
    if response is None or not response.ok:
        raise RuntimeError(
            f"the page of the shot {shot.name!r} failed: {response and response.status}"
        )
    ask(page, shot.question, shot.files)
    if shot.pending:
        attach(page, shot.pending)
        page.wait_for_function("[...document.images].every((image) => image.complete)")
    target = out / "images" / f"widget-{shot.name}.png"
    target.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(target))
    context.close()
    return target


def missing_fonts() -> list[str]:
    """What the example's answer shows that no installed font draws (it would be boxes)."""
    import shutil
    import subprocess

    if shutil.which("fc-list") is None:
        return []
    wanted = {"Chinese and Japanese": ":lang=zh", "colour emoji": ":charset=2705"}
    return [
        name
        for name, pattern in wanted.items()
        if not subprocess.run(["fc-list", pattern], capture_output=True, text=True).stdout.strip()
    ]


def shoot_example_chat(browser: Any, out: Path) -> Path:
    from tests.support.servers import example_project_server

    with (
        tempfile.TemporaryDirectory() as folder,
        example_project_server(Path(folder) / "db.sqlite3", tokens_per_second=120) as server,
    ):
        page = browser.new_page(base_url=server.url, viewport={"width": 1000, "height": 900})
        page.goto("/")
        page.get_by_role("button", name="New chat").click()
        page.wait_for_function("document.querySelector('[data-ds-chat]')?.dsChat")
        page.get_by_label("Message", exact=True).fill(QUESTION)
        page.get_by_label("Message", exact=True).press("Enter")
        page.wait_for_function(
            "document.querySelector('.ds-chat__log').getAttribute('aria-busy') === 'false'"
            " && document.querySelector('.ds-chat__message--assistant table')"
        )
        target = out / "chat.png"
        page.screenshot(path=str(target))
        page.close()
    return target


def main(argv: list[str] | None = None) -> None:
    names = [*SHOTS_BY_NAME, "chat"]
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help=f"default: all of {', '.join(names)}")
    parser.add_argument("--out", type=Path, default=ROOT / "docs", help="default: docs/")
    arguments = parser.parse_args(argv)
    chosen = arguments.names or names
    unknown = [name for name in chosen if name not in names]
    if unknown:
        parser.error(f"no shot named {', '.join(unknown)}; there are {', '.join(names)}")
    os.environ.pop("DJANGO_SETTINGS_MODULE", None)
    configure_site()

    from playwright.sync_api import sync_playwright

    from django_streaming.asgi import get_asgi_application
    from tests.browser.chromium import launch
    from tests.support.servers import uvicorn_server

    with uvicorn_server(app=get_asgi_application()) as server, sync_playwright() as playwright:
        browser = launch(playwright)
        for name in chosen:
            missing = missing_fonts() if name == "chat" else []
            if missing:
                message = (
                    f"chat: not taken, no font for {' or '.join(missing)} here (fonts-noto-cjk, "
                    "fonts-noto-color-emoji on Debian): the example's answer would show boxes"
                )
                if name in arguments.names:
                    raise SystemExit(message)
                print(message, file=sys.stderr)
                continue
            if name == "chat":
                target = shoot_example_chat(browser, arguments.out)
            else:
                target = shoot_widget(browser, server.url, SHOTS_BY_NAME[name], arguments.out)
            print(f"wrote {target}")
        browser.close()


if __name__ == "__main__":
    main()
