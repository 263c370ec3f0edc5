"""ASGI entry point: ``uvicorn example_project.asgi:application``."""

from __future__ import annotations

import os

from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

from django_streaming.asgi import get_asgi_application  # Django's, minus a cycle per disconnect

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_project.settings")

application = get_asgi_application()
if not os.environ.get("REDIS_URL"):
    # Channels in this process's memory: the task worker must publish from here too.
    from jobs.worker import start_in_process

    start_in_process()
# The example's static files from the ASGI app itself, with DEBUG on or off (it runs with no
# web server in front); in production a web server or WhiteNoise serves them.
application = ASGIStaticFilesHandler(application)
