"""``{% load django_streaming %}``: the chat widget, and the cursor of channels at render time."""

from __future__ import annotations

import itertools
import json
import logging
import math
from collections.abc import Iterable, Mapping
from typing import Any

from django import template
from django.http import HttpRequest
from django.middleware.csrf import get_token
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils.html import escape
from django.utils.safestring import SafeString

from django_streaming.channels.cursors import channel_cursor as cursor_of
from django_streaming.conf import get_config
from django_streaming.widget_strings import default_placeholder, default_title, widget_strings

register = template.Library()
logger = logging.getLogger("django_streaming")

_widget_numbers = itertools.count(1)
ROLES = ("system", "user", "assistant")
#: What the widget sends: the whole conversation, or its last message (the AI SDK's shape for
#: a server that keeps the conversation itself).
SENDS = ("all", "last")
#: How a saved answer may have ended short of complete.
STATUSES = ("stopped", "failed")
#: The themes a widget can be held to, whatever the system's colour scheme.
THEMES = ("light", "dark")
_SCRIPT_ESCAPES = {ord("<"): "\\u003C", ord(">"): "\\u003E", ord("&"): "\\u0026"}


@register.simple_tag(takes_context=True)
def chat_widget(
    context: template.Context,
    endpoint: str,
    *,
    title: str | None = None,
    placeholder: str | None = None,
    messages: Iterable[Any] = (),
    markdown: bool = True,
    chat_id: str | None = None,
    resumable: bool = False,
    image_hosts: str | Iterable[str] | None = None,
    send: str = "all",
    math: bool = True,
    highlight: bool = True,
    strings: Mapping[str, str] | None = None,
    theme: str | None = None,
    suggestions: Iterable[str] = (),
    empty_text: str | None = None,
    feedback_url: str | None = None,
) -> SafeString:
    """Render a streaming chat widget that talks to the ``ChatStreamView`` at ``endpoint``.

    ``endpoint`` is a URL name or a path. ``messages`` are shown first, rendered on the server
    and escaped: objects or dicts with ``role`` and ``text`` (or ``content``), and an optional
    ``id``; or whole UI messages (``ChatResult.message``: ``id``, ``role``, ``parts``), drawn as
    a live answer is, tool calls and all. A ``status`` of ``stopped`` or ``failed`` marks the
    message as the live answer would be. The CSS and JS are linked with the request's CSP nonce
    when there is one.

    With ``resumable=True`` (for a resumable ``ChatStreamView`` mounted with ``urls()``), the
    widget resumes an answer still being written when the page loads, and Stop stops the
    generation on the server; the chat needs its ``chat_id`` to be found again.

    An answer's images load only from the page's origin, ``data:`` URLs and ``image_hosts``
    (host names, separated by spaces; by default the ``IMAGE_HOSTS`` setting); any other image
    is shown as a link, so that no address the model wrote is fetched unless the user asks.

    ``send="last"`` posts only the last message (``{"id", "message", "trigger", "messageId"}``,
    as the AI SDK's persistence guide does) for a server that keeps the conversation; by
    default (``"all"``) the whole conversation goes, as ``DefaultChatTransport`` sends it.

    Every word of the widget is in the active language (Django's translations; the app ships
    French, German, Spanish and Arabic); ``strings`` overrides any of them by key (see
    ``django_streaming.widget_strings.WIDGET_STRINGS``); ``title`` and ``placeholder`` default
    to "Chat" and "Send a message…", translated. ``theme`` (``"light"`` or ``"dark"``) holds the
    widget to one theme whatever the system's colour scheme (as ``data-theme`` on an ancestor
    does). ``suggestions`` (texts) are shown as buttons, under ``empty_text`` if given, while the
    chat has no message; clicking one sends it.

    Formulas (``$...$``, ``$$...$$``, ``\\(...\\)``, ``\\[...\\]``) are drawn by KaTeX and
    fenced code is highlighted by highlight.js, each loaded only when an answer first needs it;
    ``math=False`` shows formulas as their source (as code), ``highlight=False`` leaves code plain.

    Each finished message has actions (edit a question, regenerate the last answer, copy a
    message, good and bad response); a vote dispatches a ``ds-chat:feedback`` event, and with
    ``feedback_url`` (a URL name or a path) is POSTed there as ``{"messageId", "vote"}`` JSON.
    """
    if resumable and not chat_id:
        raise template.TemplateSyntaxError(
            "chat_widget: resumable=True needs a chat_id, so that a reloaded page finds the "
            "answer in progress."
        )
    if send not in SENDS:
        raise template.TemplateSyntaxError(
            f"chat_widget: send must be one of {', '.join(map(repr, SENDS))}, not {send!r}."
        )
    if theme not in (None, *THEMES):
        raise template.TemplateSyntaxError(
            f"chat_widget: theme must be one of {', '.join(map(repr, THEMES))}, not {theme!r}."
        )
    try:
        words = widget_strings(strings)
    except ValueError as error:
        raise template.TemplateSyntaxError(f"chat_widget: {error}") from None
    prompts = _suggestions(suggestions)
    request = _request(context)
    return SafeString(
        render_to_string(
            "django_streaming/chat_widget.html",
            {
                "endpoint": _resolve(endpoint),
                # Text, never markup: escaped even when a template literal made it "safe".
                "title": escape(default_title() if title is None else title),
                "placeholder": escape(
                    default_placeholder() if placeholder is None else placeholder
                ),
                "strings": {key: escape(text) for key, text in words.items()},
                # Inert in a script element, as the saved parts are.
                "strings_json": SafeString(json.dumps(words).translate(_SCRIPT_ESCAPES)),
                "theme": theme,
                "suggestions": [escape(prompt) for prompt in prompts],
                "empty_text": None if empty_text is None else escape(empty_text),
                "messages": [_message(message, index) for index, message in enumerate(messages)],
                "markdown": markdown,
                "chat_id": chat_id,
                "resumable": resumable,
                "widget_id": f"ds-chat-{next(_widget_numbers)}",
                "csrf_token_value": get_token(request) if request is not None else None,
                "csp_nonce": _csp_nonce(context),
                # The browser refuses larger attachments before sending them.
                "max_file_bytes": get_config()["MAX_FILE_BYTES"],
                "image_hosts": " ".join(_image_hosts(image_hosts)),
                "send_last": send == "last",
                "math": math,
                "highlight": highlight,
                "feedback_url": None if feedback_url is None else _resolve(feedback_url),
            },
        )
    )


@register.simple_tag
def channel_cursor(*channels: str | Iterable[str]) -> str:
    """``channel_cursor()`` of ``channels`` (names, or lists of them: ``{% channel_cursor "news"
    "weather" %}``, ``{% channel_cursor view_channels as cursor %}``): where they stand as the
    page is rendered, for its ``EventSource`` to subscribe from (``?since=``). The cursor is
    URL-safe (letters, digits, ``-``, ``_`` and ``.``)."""
    names: list[str] = []
    for given in channels:
        names.extend([given] if isinstance(given, str) else given)
    return cursor_of(names)


def _suggestions(suggestions: Iterable[str]) -> list[str]:
    if isinstance(suggestions, str):
        raise template.TemplateSyntaxError(
            "chat_widget: suggestions takes a list of texts, not one string."
        )
    prompts = list(suggestions)
    for prompt in prompts:
        if not isinstance(prompt, str) or not prompt.strip():
            raise template.TemplateSyntaxError(
                f"chat_widget: each suggestion must be a non-empty text, not {prompt!r}."
            )
    return prompts


def _request(context: template.Context) -> HttpRequest | None:
    # A RequestContext knows its request even without the "request" context processor.
    request: HttpRequest | None = getattr(context, "request", None) or context.get("request")
    return request


def _resolve(endpoint: str) -> str:
    if "/" in endpoint:
        return endpoint
    try:
        return reverse(endpoint)
    except NoReverseMatch:
        raise template.TemplateSyntaxError(
            f"chat_widget: {endpoint!r} is neither a URL name nor a path (a path has a '/')."
        ) from None


def _image_hosts(hosts: str | Iterable[str] | None) -> list[str]:
    if hosts is None:
        hosts = get_config()["IMAGE_HOSTS"]
    names = hosts.split() if isinstance(hosts, str) else [str(host).strip() for host in hosts]
    for name in names:
        if "/" in name or not name or any(map(str.isspace, name)):
            raise template.TemplateSyntaxError(
                f"chat_widget: image_hosts takes host names such as 'cdn.example.com', "
                f"not {name!r}."
            )
    return [name.lower() for name in names]


def _message(message: Any, index: int) -> dict[str, Any]:
    def field(name: str) -> Any:
        if isinstance(message, Mapping):
            return message.get(name)
        return getattr(message, name, None)

    role = field("role")
    if role not in ROLES:
        raise template.TemplateSyntaxError(
            f"chat_widget: a message's role must be one of {', '.join(ROLES)}, not {role!r}."
        )
    status = field("status")
    if status not in (None, *STATUSES):
        raise template.TemplateSyntaxError(
            f"chat_widget: a message's status must be one of {', '.join(STATUSES)}, not {status!r}."
        )
    parts = field("parts")
    text = field("text")
    if text is None:
        text = field("content")
    if parts is not None:
        if not isinstance(parts, list) or not all(isinstance(part, Mapping) for part in parts):
            raise template.TemplateSyntaxError(
                "chat_widget: a message's parts must be a list of dicts."
            )
        if text is None:  # what shows before the script runs, or without it
            text = "".join(
                str(part.get("text", "")) for part in parts if part.get("type") == "text"
            )
    return {
        "role": role,
        "text": escape("" if text is None else text),
        "id": field("id"),
        "status": status,
        # Inert in a script element: no "<", ">" or "&" can end it or start markup.
        "parts": None
        if parts is None
        else SafeString(_strict_json(parts, field("id"), index).translate(_SCRIPT_ESCAPES)),
    }


def _strict_json(parts: list[Any], message_id: Any, index: int) -> str:
    """JSON that the browser's ``JSON.parse`` reads. Python writes ``NaN`` and ``Infinity`` (a
    saved message read back by ``json.loads`` may hold them), which it refuses: the message could
    not be drawn, so they become ``null``, and a warning says so."""
    try:
        return json.dumps(parts, allow_nan=False)
    except ValueError:
        json.dumps(parts)  # a circular reference stays an error: raised here, not a recursion
    replaced = [0]
    finite = _finite(parts, replaced)
    logger.warning(
        "chat_widget: messages[%d]%s has %d number(s) that JSON cannot hold (NaN or Infinity), "
        "written as null.",
        index,
        "" if message_id is None else f" (id {message_id!r})",
        replaced[0],
    )
    return json.dumps(finite, allow_nan=False)


def _finite(value: Any, replaced: list[int]) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        replaced[0] += 1
        return None
    if isinstance(value, Mapping):
        return {key: _finite(item, replaced) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item, replaced) for item in value]
    return value


def _csp_nonce(context: template.Context) -> str | None:
    # django-csp and Django 6's CSP middleware put the nonce on the request or in the context.
    nonce = context.get("csp_nonce")
    request = _request(context)
    if not nonce and request is not None:
        nonce = getattr(request, "csp_nonce", None)
    return str(nonce) if nonce else None
