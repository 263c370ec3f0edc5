"""The test project as an ASGI application, for servers started in a subprocess."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
application = get_asgi_application()

from django_streaming.asgi import get_asgi_application as get_streaming_application  # noqa: E402

#: The same project through ``django_streaming.asgi``.
streaming_application = get_streaming_application()
