"""``get_asgi_application()``: Django's ASGI application, minus a reference cycle per client
that leaves.

Django's ``ASGIHandler.handle()`` (5.2 and 6.0) watches for the client's disconnect in a task
that raises ``RequestAborted``, then re-raises that error to ignore it. The error's traceback
now holds ``handle()``'s frame, which holds the task, which holds the error: the request,
the response and all they refer to stay in memory until a full garbage collection. With
streams, where most requests end by the client leaving, those collections come every few
seconds and walk every live object with the event loop stopped (200-300 ms with a thousand
open streams, `make soak`). ``handle()`` only waits for the first of its two tasks to finish,
so a watch that ends without an error does the same job and leaves nothing behind.

Django 6.1 rewrote ``handle()`` around a task group that needs the error, so there, and in
later versions, this returns Django's own handler unchanged.
"""

from __future__ import annotations

from typing import Any

import django
from django.core.handlers.asgi import ASGIHandler as DjangoASGIHandler

__all__ = ["ASGIHandler", "get_asgi_application"]

# Django versions whose handle() waits for the first task to finish (asyncio.wait).
_DISCONNECT_NEEDS_NO_ERROR = django.VERSION < (6, 1)


class ASGIHandler(DjangoASGIHandler):
    """Django's ASGI handler, whose disconnect watch ends without an error."""

    async def listen_for_disconnect(self, receive: Any) -> None:
        message = await receive()
        if message["type"] != "http.disconnect":
            # As Django's: handle() lets this one through.
            raise AssertionError(f"Invalid ASGI message after request body: {message['type']}")


def get_asgi_application() -> DjangoASGIHandler:
    """Use in place of ``django.core.asgi.get_asgi_application()`` in your ``asgi.py``."""
    django.setup(set_prefix=False)
    if _DISCONNECT_NEEDS_NO_ERROR:
        return ASGIHandler()
    return DjangoASGIHandler()  # pragma: no cover - Django 6.1 and later
