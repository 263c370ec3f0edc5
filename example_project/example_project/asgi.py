"""ASGI entry point: ``uvicorn example_project.asgi:application``."""

from __future__ import annotations

import os

from django.conf import settings
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

from django_streaming.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_project.settings")

# Django's, minus a cycle per disconnect; with DEBUG on (make demo), it serves the static files.
application = get_asgi_application()
if not os.environ.get("REDIS_URL"):
    # Channels in this process's memory: the task worker must publish from here too.
    from jobs.worker import start_in_process

    start_in_process()
if not settings.DEBUG:
    # The example runs with no web server in front, with DEBUG off too (its tests, a try of
    # the production shape): it serves its static files then as well. A real site has its
    # web server or WhiteNoise serve them (docs/deployment.md).
    application = ASGIStaticFilesHandler(application)
