"""A background job that reports its progress to a channel as it goes."""

from __future__ import annotations

import time

try:
    from django.tasks import task  # Django 6.0 and later
except ImportError:  # Django 5.2: the backport of the same API
    from django_tasks import task  # type: ignore[no-redef]

from django_streaming import publish


def job_channel(job_id: str) -> str:
    return f"job-{job_id}"


@task()
def import_reports(job_id: str, files: int = 20, pace: float = 0.15) -> int:
    """Pretends to import ``files`` reports, ``pace`` seconds each, publishing each step."""
    channel = job_channel(job_id)
    publish(channel, {"done": 0, "total": files, "step": "Started."}, event="progress")
    for done in range(1, files + 1):
        time.sleep(pace)  # the work
        step = f"Imported report-{done:02}.csv"
        publish(channel, {"done": done, "total": files, "step": step}, event="progress")
    publish(channel, {"total": files}, event="done")
    return files
