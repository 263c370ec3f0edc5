"""The database task worker in this process, for when the channels live in its memory.

With ``MemoryStore`` a ``publish()`` reaches the subscribers of its own process only, so the
worker must run where the server runs. With Redis (``REDIS_URL``), run ``manage.py db_worker``
as a process of its own instead, as in production (``make demo`` does either).
"""

from __future__ import annotations

import logging
import threading
import time

from django.utils.crypto import get_random_string

logger = logging.getLogger(__name__)


def start_in_process() -> threading.Thread:
    # django-tasks-db's worker loop, without its signal handling (a thread cannot have any).
    from django_tasks_db.management.commands.db_worker import Worker

    worker = Worker(
        queue_names=["default"],
        interval=0.2,
        batch=False,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id=f"in-process-{get_random_string(8)}",
        excluded_queue_names=[],
    )

    def run_for_ever() -> None:
        while True:
            try:
                worker.run()
            except Exception:  # a locked SQLite database, say: the next round may do better
                logger.exception("The in-process task worker failed; it starts again.")
                time.sleep(1)

    thread = threading.Thread(target=run_for_ever, name="db_worker", daemon=True)
    thread.start()
    return thread
