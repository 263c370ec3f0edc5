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

ARABIC = (
    "يمكنك بث الإجابة رمزًا برمز:\n\n"
    "```python\nasync for token in model.stream(question):\n    yield token\n```\n"
)
WELCOME = "What can I do for you?"
PROMPTS = ["How many chats do I have?", "Rename this chat to Holiday plans", "What time is it?"]
CODE_AND_MATH = (
    "The mean of $n$ tokens' delays is $\\bar{d} = \\frac{1}{n}\\sum_{i=1}^{n} d_i$:\n\n"
    "```python\ndef mean(delays: list[float]) -> float:\n"
    "    return sum(delays) / len(delays)\n```\n\n"
    "$$\\int_0^1 x^2\\,dx = \\tfrac{1}{3}$$\n"
)

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
    question: str = QUESTION  # "" for the empty chat
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
    Shot("french", 'title="Assistant"', question="Comment diffuser une réponse ?", lang="fr"),
    Shot("arabic", "", question="كيف أبث إجابة النموذج؟", reply=saying(ARABIC), lang="ar"),
    Shot("suggestions", f"empty_text={WELCOME!r} suggestions=prompts", question=""),
    Shot("code-and-math", question="Show me some code and a formula", reply=saying(CODE_AND_MATH)),
    Shot("theme-dark", 'title="Ask me" theme="dark"'),
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
    from django.utils import translation

    shot = SHOTS_BY_NAME[f"widget-{name}"]
    direction = "rtl" if shot.lang.split("-")[0] in ("ar", "he", "fa", "ur") else "ltr"
    source = (
        PAGE.replace("LANG", shot.lang)
        .replace("DIR", direction)
        .replace("NAME", name)
        .replace("OPTIONS", shot.options)
    )
    with translation.override(shot.lang):  # the widget's words in the page's language
        context = Context({"request": request, "prompts": PROMPTS})
        return HttpResponse(Template(source).render(context))


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
    if not question:  # the empty chat
        return
    attach(page, files)
    composer = page.locator(".ds-chat__input")  # "Message" in the page's language
    composer.fill(question)
    composer.press("Enter")
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
    page.wait_for_load_state("networkidle")  # what an answer loads lazily: highlighting, KaTeX
    if shot.pending:
        attach(page, shot.pending)
        page.wait_for_function("[...document.images].every((image) => image.complete)")
    target = out / "images" / f"widget-{shot.name}.png"
    target.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(target))
    context.close()
    return target


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
        # A suggested prompt, its tool call approved, and the chat renamed live; then a question
        # whose answer has code (the simulated model's table has CJK, which few machines draw).
        page.get_by_role("button", name="Rename this chat to Holiday plans").click()
        page.get_by_role("button", name="Approve").click()
        page.wait_for_function(
            "document.querySelector('.ds-chat__title').textContent.includes('Holiday plans')"
            " && document.querySelector('.ds-chat__log').getAttribute('aria-busy') === 'false'"
        )
        page.get_by_label("Message", exact=True).fill("How many chats do I have?")
        page.get_by_label("Message", exact=True).press("Enter")
        page.wait_for_function(
            "document.querySelectorAll('.ds-chat__message--assistant').length >= 2"
            " && document.querySelector('.ds-chat__log').getAttribute('aria-busy') === 'false'"
        )
        page.wait_for_load_state("networkidle")
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
            if name == "chat":
                target = shoot_example_chat(browser, arguments.out)
            else:
                target = shoot_widget(browser, server.url, SHOTS_BY_NAME[name], arguments.out)
            print(f"wrote {target}")
        browser.close()


if __name__ == "__main__":
    main()
