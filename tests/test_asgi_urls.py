"""The URLs of ``tests/test_asgi.py``'s requests served to their end."""

from tests.test_asgi import big_urlpatterns as urlpatterns

__all__ = ["urlpatterns"]
