"""Start a job, watch its page: a progress bar and a log of steps, live, fed by a channel."""

from __future__ import annotations

import uuid
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST

from django_streaming import ChannelView

from .tasks import import_reports, job_channel

# The session key listing the jobs this visitor started: only they may watch them.
JOBS_SESSION_KEY = "jobs"


def job_list(request: HttpRequest) -> HttpResponse:
    return render(request, "jobs/list.html", {"jobs": request.session.get(JOBS_SESSION_KEY, [])})


@require_POST
def start_job(request: HttpRequest) -> HttpResponseRedirect:
    job_id = str(uuid.uuid4())
    request.session[JOBS_SESSION_KEY] = [job_id, *request.session.get(JOBS_SESSION_KEY, [])][:20]
    import_reports.enqueue(job_id=job_id)
    return HttpResponseRedirect(reverse("job", args=[job_id]))


def job_page(request: HttpRequest, job_id: uuid.UUID) -> HttpResponse:
    return render(request, "jobs/job.html", {"job_id": str(job_id)})


class JobEvents(ChannelView):
    """The job's progress so far (a reload shows it all), then live."""

    history = True

    def get_channels(self, request: HttpRequest, *args: Any, **kwargs: Any) -> list[str]:
        return [job_channel(str(kwargs["job_id"]))]

    async def can_read(self, request: HttpRequest, channel: str) -> bool:
        jobs = await request.session.aget(JOBS_SESSION_KEY, [])
        return channel.removeprefix("job-") in jobs
