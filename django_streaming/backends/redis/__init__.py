"""The Redis backend: resumable streams (``RedisStore``), channels (``RedisChannelLog``),
one pub/sub listener per event loop, the Lua scripts, and the construction of every client.
Needs the ``redis`` extra (``pip install django-streaming[redis]``).

.. code-block:: python

    DJANGO_STREAMING = {
        "STORE": {
            "BACKEND": "django_streaming.backends.redis.RedisStore",
            "OPTIONS": {"url": "redis://127.0.0.1:6379/0"},
        },
    }
"""

from .channel_log import RedisChannelLog
from .store import RedisStore

__all__ = ["RedisChannelLog", "RedisStore"]
