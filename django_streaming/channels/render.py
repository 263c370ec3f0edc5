"""``render_event()``: HTML from a template as one event, for htmx's SSE extensions."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.template.loader import render_to_string

from django_streaming.sse import Event

__all__ = ["render_event"]


def render_event(
    template_name: str,
    context: dict[str, Any] | None = None,
    *,
    event: str | None = None,
    request: HttpRequest | None = None,
) -> Event:
    """The rendered template as one event, named ``event``. Multi-line HTML arrives intact
    (each line is a ``data:`` line, joined again by the browser). On Django 6, a partial
    (``"page.html#row"``) renders alone."""
    html = render_to_string(template_name, context, request=request)
    return Event(data=html, event=event)
