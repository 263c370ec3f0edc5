"""What the test views report about their generators, for tests to wait on.

Servers in this process (uvicorn and wsgiref in a thread) share it directly; servers in another
process (gunicorn) expose it through the ``probe/<token>/`` view.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field


@dataclass
class Probe:
    started: threading.Event = field(default_factory=threading.Event)
    finished: threading.Event = field(default_factory=threading.Event)
    gate: threading.Event = field(default_factory=threading.Event)  # the test opens it
    cancelled: bool = False
    finished_at: float | None = None

    def finish(self, *, cancelled: bool) -> None:
        self.cancelled = cancelled
        self.finished_at = time.monotonic()
        self.finished.set()


_probes: dict[str, Probe] = {}
_lock = threading.Lock()


def probe(token: str) -> Probe:
    with _lock:
        return _probes.setdefault(token, Probe())
