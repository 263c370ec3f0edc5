"""``Generation``: a resumable stream's generator, run as a task of its own that writes each
event to the store. With a shared store (Redis) it also keeps its latest events in this
process's memory, once they are stored, for the readers here (``tail.py``)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterable, Callable
from dataclasses import replace
from typing import Any

from django_streaming import metrics, shutdown
from django_streaming.backends.memory import MemoryStore
from django_streaming.sse import Event
from django_streaming.stores import EndStatus, StreamStore
from django_streaming.threads import use_pool

from .ids import event_id

__all__ = ["LOCAL_COPY_LEN", "Generation", "local_copy"]

logger = logging.getLogger("django_streaming")

#: How many of its latest events a generation keeps for readers in its process. A reader
#: further behind reads the store instead.
LOCAL_COPY_LEN = 100

#: Seconds a generation that ended waits for its stop waiter and lease renewal to end.
STRAGGLERS_TIMEOUT = 2.0

# The in-memory copies of the generations running in this process, by store and stream id.
_local_copies: dict[tuple[int, str], MemoryStore] = {}


def _copy_key(store: StreamStore, stream_id: str) -> tuple[int, str]:
    return id(store), stream_id  # the generation holds its store: the id stays unique


def local_copy(store: StreamStore, stream_id: str) -> MemoryStore | None:
    """The copy of ``stream_id``'s latest events, while its generation runs in this process."""
    return _local_copies.get(_copy_key(store, stream_id))


def _encode_with_id(item: object, stream_id: str, seq: int) -> bytes:
    if isinstance(item, Event):
        return replace(item, id=event_id(stream_id, seq)).encode()
    if isinstance(item, bytes):
        raise TypeError(
            "A resumable stream numbers its events, so it cannot send ready-made bytes: "
            "yield text, JSON data or Event."
        )
    return Event(data=item, id=event_id(stream_id, seq)).encode()  # type: ignore[arg-type]


class Generation:
    """Runs ``source`` as a task of its own, writing its events to ``store`` under
    ``stream_id``, until it ends, is stopped, or runs longer than ``max_duration`` seconds."""

    def __init__(
        self,
        store: StreamStore,
        stream_id: str,
        source: AsyncIterable[object],
        *,
        key: str | None,
        max_duration: float,
        on_error: Callable[[Exception], Event],
        view: str = metrics.UNKNOWN_VIEW,
    ) -> None:
        self.store = store
        self.view = view  # its label in the metrics
        self.counted = False  # in the metrics, when it started
        self.stream_id = stream_id
        self.source = source
        self.key = key
        self.max_duration = max_duration
        self.on_error = on_error
        self.status: EndStatus | None = None
        self.task: asyncio.Task[None] | None = None
        self._cancel_reason: EndStatus | None = None
        self._copy: MemoryStore | None = None

    def start(self) -> asyncio.Task[None]:
        self.task = asyncio.get_running_loop().create_task(self._run())
        self.counted = metrics.generation_started(self.view)
        shutdown.generations.add(self)
        self.task.add_done_callback(lambda _: shutdown.generations.discard(self))
        if self.store.liveness_interval is not None:  # a shared store: keep a copy here
            self._copy = MemoryStore(max_len=LOCAL_COPY_LEN)
            self._copy.create_now(self.stream_id, owner="")
            place = _copy_key(self.store, self.stream_id)
            _local_copies[place] = self._copy
            self.task.add_done_callback(lambda _: _local_copies.pop(place, None))
        return self.task

    def cancel(self, reason: EndStatus) -> None:
        """Stop the generator at its current ``await``; the stream ends with ``reason``."""
        if self.task is not None and not self.task.done() and self._cancel_reason is None:
            self._cancel_reason = reason
            self.task.cancel()

    async def _run(self) -> None:
        # Not the request's thread (it ends with the request) nor an async_to_sync caller's.
        use_pool()
        loop = asyncio.get_running_loop()
        store, stream_id, copy = self.store, self.stream_id, self._copy
        watch = loop.create_task(store.wait_for_stop(stream_id))
        watch.add_done_callback(self._on_stop_request)
        deadline = loop.call_later(self.max_duration, self._on_deadline)
        lease = _Lease(store, stream_id)
        status: EndStatus = "completed"
        iterator = aiter(self.source)
        seq = 0
        try:
            try:
                async for item in iterator:
                    seq += 1
                    entry = [(seq, _encode_with_id(item, stream_id, seq))]
                    await store.append(stream_id, entry)
                    if copy is not None:  # only once stored: what a reader saw, a resume finds
                        await copy.append(stream_id, entry)
            finally:
                aclose = getattr(iterator, "aclose", None)
                if aclose is not None:
                    await aclose()
        except asyncio.CancelledError:
            status = self._cancel_reason or "interrupted"
            if self._cancel_reason is None:
                raise  # not ours: the loop is going away
        except Exception as error:
            status = "error"
            try:
                error_entry = [(seq + 1, _encode_with_id(self.on_error(error), stream_id, seq + 1))]
                if copy is not None:  # the readers here learn of the error even if the store failed
                    await copy.append(stream_id, error_entry)
                await store.append(stream_id, error_entry)
            except Exception:
                logger.exception("Could not store the error event of stream %s", stream_id)
        finally:
            self.status = status
            if self.counted:
                metrics.generation_ended(self.view, status)
            deadline.cancel()
            watch.cancel()
            lease.cancel()
            try:
                await store.finish(stream_id, status, key=self.key)
            except Exception:
                logger.exception("Could not store the end of stream %s", stream_id)
            finally:
                if copy is not None:
                    await copy.finish(stream_id, status)
                # Nothing of the generation outlives it: the stop waiter and a renewal in
                # flight give their connections back before it ends (a store closed right
                # after would leave them open).
                await _ended([*lease.tasks(), watch], STRAGGLERS_TIMEOUT)

    def _on_stop_request(self, watch: asyncio.Task[None]) -> None:
        if not watch.cancelled() and watch.exception() is None:
            self.cancel("cancelled")

    def _on_deadline(self) -> None:
        logger.warning(
            "Stream %s ran for its maximum of %s s and was cancelled.",
            self.stream_id,
            self.max_duration,
        )
        self.cancel("cancelled")


#: Seconds between cancellations of a task that goes on (``_ended()``).
CANCEL_AGAIN_AFTER = 0.1


async def _ended(tasks: list[asyncio.Task[Any]], timeout: float) -> None:
    """Wait at most ``timeout`` seconds for ``tasks``, cancelled, to end, cancelling again
    those that go on: before Python 3.11 nothing can tell that redis-py dropped a
    cancellation (``backends/redis/errors.py``), and such a task would wait for ever."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    pending = {task for task in tasks if not task.done()}
    while pending and loop.time() < deadline:
        _, pending = await asyncio.wait(
            pending, timeout=min(CANCEL_AGAIN_AFTER, deadline - loop.time())
        )
        for task in pending:
            task.cancel()


class _Lease:
    """Renews the generating worker's lease three times per the store's liveness interval."""

    def __init__(self, store: StreamStore, stream_id: str) -> None:
        self.store = store
        self.stream_id = stream_id
        self.interval = None if store.liveness_interval is None else store.liveness_interval / 3
        self.loop = asyncio.get_running_loop()
        self.renewal: asyncio.Task[None] | None = None
        self.timer = (
            None if self.interval is None else self.loop.call_later(self.interval, self._renew)
        )

    def _renew(self) -> None:
        assert self.interval is not None
        if self.renewal is None or self.renewal.done():
            self.renewal = self.loop.create_task(self._keep_alive())
        self.timer = self.loop.call_later(self.interval, self._renew)

    async def _keep_alive(self) -> None:
        try:
            await self.store.keep_alive(self.stream_id)
        except Exception:
            logger.warning("Could not renew the lease of stream %s", self.stream_id, exc_info=True)

    def cancel(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
        if self.renewal is not None:
            self.renewal.cancel()

    def tasks(self) -> list[asyncio.Task[None]]:
        """The renewal in flight, if any."""
        return [] if self.renewal is None else [self.renewal]
