"""A long task's progress, streamed with SSEView and read with the browser's EventSource."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from django.http import HttpRequest
from django.views.generic import TemplateView

from django_streaming import Event, SSEView, StreamItem


class ProgressPage(TemplateView):
    template_name = "demo/progress.html"


class ProgressStream(SSEView):
    """Pretends to process 50 files, one every 100 ms, and reports each step."""

    steps = 50
    pace = 0.1

    async def stream(
        self, request: HttpRequest, *args: Any, **kwargs: Any
    ) -> AsyncIterator[StreamItem]:
        # A reconnecting EventSource sends the id of the last step it saw: resume after it.
        start = int(self.last_event_id) + 1 if (self.last_event_id or "").isdigit() else 0
        for step in range(start, self.steps):
            await asyncio.sleep(self.pace)
            done = step + 1
            yield Event(
                event="progress",
                id=str(step),
                data={"done": done, "total": self.steps, "file": f"report-{done:02}.csv"},
            )
        yield Event(event="complete", data={"total": self.steps})
