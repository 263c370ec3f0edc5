"""One subscriber's stream: what it missed (from its cursor, if the server signed it for these
channels), then the live events of its channels, each framed once for every subscriber of the
same channels in the process."""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext

from django_streaming import metrics, tracing
from django_streaming.sse import Event
from django_streaming.stores.channel_log import FeedLost

from .log import ChannelLog, Cursor, Deliver, Entry, Head, frame
from .signing import CursorKey, sign_cursor, verify_cursor

__all__ = ["MAX_BACKLOG", "subscribe", "subscribers"]

logger = logging.getLogger("django_streaming")

#: Live events waiting for a subscriber that does not read; past this, it is dropped (its
#: EventSource reconnects and resumes from its cursor).
MAX_BACKLOG = 10_000

# The subscribers of each channel in this process (its servers may run loops in threads).
_subscribers: Counter[str] = Counter()
_subscribers_lock = threading.Lock()


def subscribers() -> dict[str, int]:
    """How many subscribers each channel has in this process now (the admin's live page)."""
    with _subscribers_lock:
        return dict(_subscribers)


def cursor_now(key: CursorKey, epoch: str, seq: int) -> str:
    """The signed cursor of a subscriber at ``seq`` now."""
    return sign_cursor(key, Cursor.now(epoch, seq).encode())


def read_cursor(key: CursorKey, last_event_id: str) -> Cursor | None:
    """The cursor ``last_event_id`` holds if the server signed it for ``key``'s channels."""
    signed = verify_cursor(key, last_event_id)
    return None if signed is None else Cursor.parse(signed)


def reset_event(key: CursorKey, head: Head, reason: str) -> bytes:
    return Event(
        event="reset", data={"reason": reason}, id=cursor_now(key, head.epoch, head.seq)
    ).encode()


async def subscribe(
    log: ChannelLog,
    channels: Sequence[str],
    last_event_id: str | None,
    *,
    history: bool = False,
    tagged: bool = False,
    view: str = metrics.UNKNOWN_VIEW,
    guard: Callable[[Deliver], AbstractAsyncContextManager[object]] | None = None,
) -> AsyncGenerator[bytes, None]:
    """The stream of a subscriber to ``channels`` that last got ``last_event_id``. A new one
    (None) gets what is published from now on, after what the channels still keep if
    ``history``. A cursor the server did not sign for these channels gets ``event: reset``.
    With ``tagged``, each event names its channel in a ``channel:`` field. ``view`` labels
    its metrics. ``guard(deliver)`` is entered once listening, for as long as the stream
    lives (``guard.py``: its presence, and disconnects, delivered as a ``FeedLost`` whose
    body is the stream's last words)."""
    key = CursorKey.of(channels)  # derived once: each cursor then costs a copy of it
    backlog: deque[Entry | None] = deque()
    waiter: asyncio.Future[None] | None = None

    def deliver(entry: Entry | None) -> None:
        backlog.append(entry)
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async with (
        _watched(log.listen(channels, deliver), view, channels) as head,
        guard(deliver) if guard is not None else nullcontext(),
    ):
        epoch, last = head.epoch, head.seq
        cursor = None if last_event_id is None else read_cursor(key, last_event_id)
        if last_event_id is None and history:
            kept = await log.replay(channels, 0, last, int(time.time()))
            opening = f"id: {cursor_now(key, epoch, last)}\n\n".encode()  # as below
            yield b"".join(frame(entry, epoch, key, tagged) for entry in kept.entries) + opening
        elif last_event_id is None:
            # No event, only an id: the browser's lastEventId, should it reconnect before the
            # first event, so that it misses nothing published meanwhile.
            yield f"id: {cursor_now(key, epoch, last)}\n\n".encode()
        elif cursor is None or cursor.epoch != epoch or cursor.seq > last:
            yield reset_event(key, head, "The events since your last one are no longer kept.")
        else:
            missed = await log.replay(channels, cursor.seq, last, cursor.time)
            if missed.lost:
                yield reset_event(key, head, "Some events since your last one are no longer kept.")
            elif missed.entries:
                yield b"".join(frame(entry, epoch, key, tagged) for entry in missed.entries)
        while True:
            if len(backlog) > MAX_BACKLOG:
                logger.warning("A channel subscriber fell %s events behind: dropped.", MAX_BACKLOG)
                return
            chunk: list[bytes] = []
            while backlog:
                entry = backlog.popleft()
                if isinstance(entry, FeedLost):  # the store stayed away (or a disconnect()):
                    if entry.body:  # the client resumes from its last cursor (what this
                        yield entry.body  # chunk held comes in its replay)
                    return
                if entry is None:  # the live feed was interrupted: catch up from the log
                    now = await log.head()
                    if now.epoch == epoch and now.seq < last:  # numbers will be given again
                        now = await log.forget_epoch(epoch)
                    if now.epoch != epoch or now.seq < last:
                        # It lost events (restarted empty, evicted its counter, failed over to
                        # a replica that was behind): what it has now is all new to us.
                        epoch, last = now.epoch, min(last, now.seq) if now.epoch == epoch else 0
                        chunk.append(reset_event(key, now, "The store lost its events."))
                    missed = await log.replay(channels, last, sys.maxsize, int(time.time()))
                    if missed.lost:
                        chunk.append(reset_event(key, now, "Some events are no longer kept."))
                    for replayed in missed.entries:
                        chunk.append(frame(replayed, epoch, key, tagged))
                        last = replayed.seq
                elif entry.seq > last:
                    chunk.append(frame(entry, epoch, key, tagged))
                    last = entry.seq
                    if entry.published:  # the first subscriber here to write it measures
                        metrics.delivery_lag(entry.published)
                        entry.published = 0.0
            if chunk:
                yield b"".join(chunk)
                continue
            waiter = asyncio.get_running_loop().create_future()
            await waiter
            waiter = None


@asynccontextmanager
async def _watched(
    listening: AbstractAsyncContextManager[Head], view: str, channels: Sequence[str]
) -> AsyncIterator[Head]:
    """``listening``, counted as a subscriber of ``view`` and of each of ``channels``, in a
    span that ends with how the subscription ended: ``client_left``, ``dropped`` (it fell
    behind), ``error``."""
    span = tracing.start_span(
        "subscribe " + view,
        None,
        {"django_streaming.view": view, "django_streaming.channels": len(channels)},
    )
    counted = metrics.subscriber_joined(view)
    names = set(channels)
    with _subscribers_lock:
        _subscribers.update(names)
    reason = "dropped"  # unless the client leaves first, or it fails
    try:
        async with listening as head:
            yield head
    except (GeneratorExit, asyncio.CancelledError):
        reason = "client_left"
        raise
    except Exception:
        reason = "error"
        raise
    finally:
        with _subscribers_lock:
            _subscribers.subtract(names)
            for name in names:
                if _subscribers[name] <= 0:
                    del _subscribers[name]
        if counted:
            metrics.subscriber_left(view)
        tracing.end_span(
            span,
            {"django_streaming.end_reason": reason},
            error="error" if reason == "error" else None,
        )
