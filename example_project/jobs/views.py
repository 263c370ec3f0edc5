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
# The session key of their tasks' result ids, by job: how many still run.
RESULTS_SESSION_KEY = "job_results"
#: How many jobs one visitor may have running at once: the worker is shared.
MAX_RUNNING_JOBS = 3


def job_list(request: HttpRequest, *, refused: str = "", status: int = 200) -> HttpResponse:
    jobs = request.session.get(JOBS_SESSION_KEY, [])
    context = {"jobs": jobs, "refused": refused, "max_running": MAX_RUNNING_JOBS}
    return render(request, "jobs/list.html", context, status=status)


def running_jobs(request: HttpRequest) -> dict[str, str]:
    """The visitor's jobs whose task has not finished, by job id."""
    results: dict[str, str] = request.session.get(RESULTS_SESSION_KEY, {})
    return {
        job_id: result_id
        for job_id, result_id in results.items()
        if not import_reports.get_result(result_id).is_finished
    }


@require_POST
def start_job(request: HttpRequest) -> HttpResponse:
    running = running_jobs(request)
    if len(running) >= MAX_RUNNING_JOBS:
        refused = f"You have {len(running)} jobs running; start another once one has finished."
        return job_list(request, refused=refused, status=429)
    job_id = str(uuid.uuid4())
    request.session[JOBS_SESSION_KEY] = [job_id, *request.session.get(JOBS_SESSION_KEY, [])][:20]
    result = import_reports.enqueue(job_id=job_id)
    request.session[RESULTS_SESSION_KEY] = {**running, job_id: str(result.id)}
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
