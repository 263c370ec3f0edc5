"""One subscriber's stream: what it missed (from its cursor, if the server signed it for these
channels), then the live events of its channels, each framed once for every subscriber of the
same channels in the process."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import Counter, deque
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Callable,
    Mapping,
    Sequence,
)
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext

from django_streaming import metrics, tracing
from django_streaming.sse import Event
from django_streaming.stores.channel_log import FeedLost

from .log import ChannelLog, Cursor, Deliver, Entry, Head, Positions, frame
from .signing import CursorKey, verify_cursor

__all__ = ["MAX_BACKLOG", "Subscription", "subscribe", "subscribers"]

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


def cursor_now(key: CursorKey, heads: Mapping[str, Head]) -> str:
    """The signed cursor of a subscriber at ``heads`` (each of ``key``'s channels) now."""
    return Positions(key, heads).signed_now()


def read_cursor(key: CursorKey, last_event_id: str) -> Cursor | None:
    """The cursor ``last_event_id`` holds if the server signed it for ``key``'s channels."""
    signed = verify_cursor(key, last_event_id)
    return None if signed is None else Cursor.parse(signed, len(key.names))


def reset_event(positions: Positions, reason: str) -> bytes:
    return Event(event="reset", data={"reason": reason}, id=positions.signed_now()).encode()


def _resumed(
    cursor: Cursor | None, key: CursorKey, heads: Mapping[str, Head], ttl: float
) -> dict[str, int] | None:
    """Where the subscriber of ``cursor`` resumes each channel (after which number), or None
    when it cannot: not a cursor of ours, or some of what it missed is surely gone (a
    channel's epoch changed, or it stands behind the cursor)."""
    if cursor is None:
        return None
    after = {}
    for channel, position in zip(key.names, cursor.positions, strict=True):
        head = heads[channel]
        if position.epoch == head.epoch and position.seq <= head.seq:
            after[channel] = position.seq
        elif not position.epoch and time.time() - cursor.time < ttl:
            # No counter when the cursor was made: all of its events since are of its epoch
            # now (unless one came and went, which takes its TTL).
            after[channel] = 0
        else:
            return None
    return after


def subscribe(
    log: ChannelLog,
    channels: Sequence[str],
    last_event_id: str | None,
    *,
    history: bool = False,
    tagged: bool = False,
    view: str = metrics.UNKNOWN_VIEW,
    guard: Callable[[Deliver], AbstractAsyncContextManager[object]] | None = None,
) -> Subscription:
    """The stream of a subscriber to ``channels`` that last got ``last_event_id``. A new one
    (None) gets what is published from now on, after what the channels still keep if
    ``history``. A cursor the server did not sign for these channels gets ``event: reset``.
    With ``tagged``, each event names its channel in a ``channel:`` field. ``view`` labels
    its metrics. ``guard(deliver)`` is entered once listening, for as long as the stream
    lives (``guard.py``: its presence, and disconnects, delivered as a ``FeedLost`` whose
    body is the stream's last words)."""
    return Subscription(
        lambda subscription: _events(
            subscription, log, channels, last_event_id, history, tagged, view, guard
        )
    )


class Subscription(AsyncIterator[bytes]):
    """A subscriber's stream (``subscribe()``), as an async iterator of chunks of events.

    Served by an ``EventStream``, it writes each live event straight to it (``push_to()``)
    when it is caught up, from the listener's loop over the channel's subscribers: no task
    of this subscriber wakes for it. Whatever needs a wait (a replay, a catch-up, a client
    that reads slowly) goes through the iterator, in order."""

    __slots__ = ("_events", "_push")

    def __init__(self, events: Callable[[Subscription], AsyncGenerator[bytes, None]]) -> None:
        self._push: Callable[[bytes], bool] | None = None
        self._events = events(self)

    def __anext__(self) -> Awaitable[bytes]:
        return self._events.__anext__()

    async def aclose(self) -> None:
        await self._events.aclose()

    def push_to(self, push: Callable[[bytes], bool] | None) -> None:
        """Write caught-up live events with ``push`` (``EventStream.push``) from now on;
        None: no more."""
        self._push = push


async def _events(
    subscription: Subscription,
    log: ChannelLog,
    channels: Sequence[str],
    last_event_id: str | None,
    history: bool,
    tagged: bool,
    view: str,
    guard: Callable[[Deliver], AbstractAsyncContextManager[object]] | None,
) -> AsyncGenerator[bytes, None]:
    key = CursorKey.of(channels)  # derived once: each cursor then costs a copy of it
    backlog: deque[Entry | None] = deque()
    waiter: asyncio.Future[None] | None = None
    positions: Positions | None = None

    def deliver(entry: Entry | None) -> None:
        # Caught up (nothing waiting, the iterator idle), the next event of its channel
        # goes straight out: framed (once per cursor, for all who share it) and pushed.
        if (
            not backlog
            and waiter is not None
            and type(entry) is Entry
            and (push := subscription._push) is not None
            and positions is not None
            and not waiter.done()
        ):
            left = positions.step(entry)
            if left is not None:
                if push(frame(entry, positions, tagged)):
                    if entry.published:  # the first subscriber here to write it measures
                        metrics.delivery_lag(entry.published)
                        entry.published = 0.0
                    return
                positions.advance(entry.channel, left)  # no room: as any other
        backlog.append(entry)
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async with (
        _watched(log.listen(channels, deliver), view, channels) as heads,
        guard(deliver) if guard is not None else nullcontext(),
    ):
        positions = Positions(key, heads)
        if last_event_id is None and history:
            start = {channel: Head(head.epoch, 0) for channel, head in heads.items()}
            kept = await log.replay(dict.fromkeys(channels, 0), heads)
            yield _framed(kept.entries, Positions(key, start), tagged) + (
                f"id: {positions.signed_now()}\n\n".encode()  # as below
            )
        elif last_event_id is None:
            # No event, only an id: the browser's lastEventId, should it reconnect before the
            # first event, so that it misses nothing published meanwhile.
            yield f"id: {positions.signed_now()}\n\n".encode()
        else:
            cursor = read_cursor(key, last_event_id)
            after = _resumed(cursor, key, heads, log.ttl)
            if cursor is None or after is None:
                yield reset_event(positions, "The events since your last one are no longer kept.")
            else:
                missed = await log.replay(after, heads)
                if missed.lost:
                    yield reset_event(
                        positions, "Some events since your last one are no longer kept."
                    )
                else:
                    resumed = Positions(
                        key, {c: Head(heads[c].epoch, seq) for c, seq in after.items()}
                    )
                    if missed.entries:
                        yield _framed(missed.entries, resumed, tagged)
                    positions = resumed
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
                if entry is not None:
                    position = positions[entry.channel]
                    same = entry.epoch == position.epoch
                    if same and entry.seq <= position.seq:
                        continue  # had already (replayed, or live before the replay)
                    # The next number; or the first of a new epoch, the feed uninterrupted
                    # (an interruption comes as None first): nothing of the old one missed.
                    if entry.seq == (position.seq + 1 if same else 1):
                        positions.advance(entry.channel, entry.head)
                        chunk.append(frame(entry, positions, tagged))
                        if entry.published:  # the first subscriber here to write it measures
                            metrics.delivery_lag(entry.published)
                            entry.published = 0.0
                        continue
                # The live feed was interrupted, skipped a number, or the channel changed its
                # epoch: catch up from the log.
                chunk.extend(await _catch_up(log, positions, tagged))
            if chunk:
                yield b"".join(chunk)
                continue
            waiter = asyncio.get_running_loop().create_future()
            await waiter
            waiter = None


def _framed(entries: list[Entry], positions: Positions, tagged: bool) -> bytes:
    """``entries``, each framed at ``positions`` advanced to it."""
    chunk = []
    for entry in entries:
        positions.advance(entry.channel, entry.head)
        chunk.append(frame(entry, positions, tagged))
    return b"".join(chunk)


async def _catch_up(log: ChannelLog, positions: Positions, tagged: bool) -> list[bytes]:
    """What the subscriber at ``positions`` missed, read from the log, with ``reset`` first
    if some of it is gone: a channel whose store went backwards (a failover to a replica
    that was behind) or lost its counter (a new epoch: what the old one had is gone), or
    whose events were trimmed or evicted. What each channel keeps follows, as after a
    reset on a reconnect from the reset's cursor."""
    heads = await log.heads(positions.key.names)
    after: dict[str, int] = {}
    changed = set()
    for channel, position in positions.items():
        head = heads[channel]
        if position.epoch and head.epoch == position.epoch and head.seq < position.seq:
            # Numbers will be given again: discredit them (every cursor of the epoch).
            head = heads[channel] = await log.forget_epoch(channel, position.epoch)
        if head.epoch == position.epoch or not position.epoch:
            after[channel] = position.seq
        else:
            after[channel] = 0
            changed.add(channel)
    missed = await log.replay(after, heads)
    chunk = []
    if changed or missed.lost:
        # The reset's cursor stands just before what follows it in each such channel.
        first: dict[str, int] = {}
        for entry in missed.entries:
            first.setdefault(entry.channel, entry.seq - 1)
        for channel in changed | missed.lost:
            head = heads[channel]
            positions.advance(channel, Head(head.epoch, first.get(channel, head.seq)))
        lost = changed - missed.lost
        reason = "The store lost events." if lost else "Some events are no longer kept."
        chunk.append(reset_event(positions, reason))
    chunk.append(_framed(missed.entries, positions, tagged))
    return chunk


@asynccontextmanager
async def _watched(
    listening: AbstractAsyncContextManager[dict[str, Head]], view: str, channels: Sequence[str]
) -> AsyncIterator[dict[str, Head]]:
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
