from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

from django.http import HttpRequest, HttpResponseBase, StreamingHttpResponse


class WrapStreamMiddleware:
    """Wraps streaming content the way many middlewares do, without ever closing it."""

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response: HttpResponseBase = self.get_response(request)
        if isinstance(response, StreamingHttpResponse) and response.is_async:
            original = response.streaming_content

            async def passthrough() -> AsyncIterator[bytes]:
                async for chunk in original:  # type: ignore[union-attr]
                    yield chunk

            response.streaming_content = passthrough()
        return response
