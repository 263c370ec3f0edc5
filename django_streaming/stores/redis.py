"""The settings path of the Redis store before it moved: ``RedisStore`` now lives in
``django_streaming.backends.redis``, and ``"django_streaming.stores.redis.RedisStore"`` in a
``STORE`` setting keeps working."""

from django_streaming.backends.redis import RedisStore

__all__ = ["RedisStore"]
