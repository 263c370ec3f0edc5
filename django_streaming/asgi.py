"""``get_asgi_application()``: Django's ASGI application, made for many open streams.

Two things change from Django's own handler:

* **No thread per request.** Django gives each request a thread of its own (a
  ``ThreadSensitiveContext``) that lasts until its response ends, so each open stream holds an
  OS thread, and each sync middleware method costs a hop to it and back (a dozen hops per
  request with ``startproject``'s middleware). Here the middleware chain and the view run as a
  WSGI server runs them, in one hop to the bounded pool of ``threads.py``, which the streams'
  own sync work shares; an async view (or async-only middleware) runs on the event loop
  through ``async_to_sync``, as under WSGI, holding a thread of the pool while it runs. Once
  the response is returned no thread is held, and the request's database connections are
  closed (or given back to Django's psycopg pool) as ``request_finished`` would.
* **No reference cycle per client that leaves** (Django 5.2 and 6.0). Django's
  ``ASGIHandler.handle()`` watches for the client's disconnect in a task that raises
  ``RequestAborted``, then re-raises that error to ignore it. The error's traceback holds
  ``handle()``'s frame, which holds the task, which holds the error: the request, the response
  and all they refer to wait for a full garbage collection, which with a thousand open
  streams stops the event loop for 200-300 ms every few seconds (`make soak`). ``handle()``
  only waits for the first of its two tasks to finish, so a watch that ends without an error
  does the same job and leaves nothing behind. Django 6.1 rewrote ``handle()`` around a task
  group that needs the error, and leaves no such cycle: there the watch is Django's.

And one thing is added, for development: with ``DEBUG`` on, it serves the static files too, as
``manage.py runserver`` does.
"""

from __future__ import annotations

from typing import Any

import django
from asgiref.sync import sync_to_async
from django.apps import apps
from django.conf import settings
from django.core.handlers.asgi import ASGIHandler as DjangoASGIHandler
from django.http import HttpRequest
from django.http.response import HttpResponseBase

from .threads import pool_context

__all__ = ["ASGIHandler", "get_asgi_application"]

# Django versions whose handle() waits for the first task to finish (asyncio.wait).
_DISCONNECT_NEEDS_NO_ERROR = django.VERSION < (6, 1)


class ASGIHandler(DjangoASGIHandler):
    """Django's ASGI handler, with the middleware and view in one hop to a shared pool of
    threads, and (before Django 6.1) a disconnect watch that ends without an error."""

    def __init__(self) -> None:
        # Not Django's __init__: it builds the async chain, one hop per sync middleware method.
        self.load_middleware(is_async=False)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        # In place of Django's ThreadSensitiveContext, whose thread would last as long as the
        # response: the request's sync work goes to the pool.
        with pool_context():
            await self.handle(scope, receive, send)

    async def get_response_async(self, request: HttpRequest) -> HttpResponseBase:
        # The whole sync chain in one hop, as under WSGI.
        return await sync_to_async(self.get_response)(request)

    def make_view_atomic(self, view: Any) -> Any:
        # An SSEView that does no I/O before it streams runs in this thread as it is, instead
        # of through async_to_sync (a trip to the event loop and back).
        return super().make_view_atomic(getattr(view, "sync_view", view))

    # One branch per Django version: a run of the tests takes only its own (make matrix runs both).
    if _DISCONNECT_NEEDS_NO_ERROR:  # pragma: no branch

        async def listen_for_disconnect(self, receive: Any) -> None:
            message = await receive()
            if message["type"] != "http.disconnect":
                # As Django's: handle() lets this one through.
                raise AssertionError(f"Invalid ASGI message after request body: {message['type']}")


def get_asgi_application() -> DjangoASGIHandler:
    """Use in place of ``django.core.asgi.get_asgi_application()`` in your ``asgi.py``.

    When ``settings.DEBUG`` is on and ``django.contrib.staticfiles`` is installed, the
    application also serves the static files under ``STATIC_URL`` (the chat widget's CSS and
    JS among them) through Django's ``ASGIStaticFilesHandler``, as ``manage.py runserver``
    does, so ``uvicorn mysite.asgi:application`` works in development as it is. With ``DEBUG``
    off it serves none: in production, ``collectstatic`` and your web server or WhiteNoise
    serve them. ``DEBUG`` is read once, here.
    """
    django.setup(set_prefix=False)
    handler = ASGIHandler()
    if settings.DEBUG and apps.is_installed("django.contrib.staticfiles"):
        from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

        # Static requests take Django's own handler (a thread each): development only.
        return ASGIStaticFilesHandler(handler)
    return handler
