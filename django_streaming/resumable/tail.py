"""``tail()``: a reader of a resumable stream, from any worker: the stored events after an id,
the live ones as they are stored, then how the stream ended."""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Callable, Iterable
from typing import Any

from django_streaming.stores import EndStatus, Entry, StreamStore

from .generation import local_copy

__all__ = ["StreamGap", "tail"]

logger = logging.getLogger("django_streaming")


class StreamGap(Exception):
    """The events a reader asked for were dropped (the store keeps at most ``max_len``)."""


async def tail(
    store: StreamStore,
    stream_id: str,
    *,
    after: int,
    ending: Callable[[EndStatus], Iterable[Any]],
) -> AsyncGenerator[Any, None]:
    """The stored events of ``stream_id`` after ``after``, then its live events as they are
    stored, then ``ending(status)``. A generation whose worker stopped renewing its lease is
    marked ``interrupted``. While the generation runs in this process, its copy of the latest
    events stands in for the store."""
    interval = store.liveness_interval
    status: EndStatus | None = None
    copy = local_copy(store, stream_id)
    while copy is not None:
        entries, status = await copy.read(stream_id, after, timeout=interval)
        if (entries and entries[0][0] > after + 1) or (
            not entries and status is None and local_copy(store, stream_id) is not copy
        ):
            # Further behind than the copy reaches, or its generation ended without running
            # (cancelled at once): the store has the rest.
            status = None
            break
        if entries:
            after = entries[-1][0]
            yield _joined(entries)
        if status is not None:
            break
    if status is None:
        async with store.follow(stream_id) as reader:
            while True:
                entries, status = await reader.read(after, timeout=interval)
                if entries:
                    if entries[0][0] > after + 1:
                        raise StreamGap(
                            f"Events {after + 1} to {entries[0][0] - 1} of stream {stream_id} "
                            "are no longer stored: the store keeps a limited number per stream."
                        )
                    after = entries[-1][0]
                    yield _joined(entries)
                if status is not None:
                    break
                if not entries and interval is not None and not await store.is_alive(stream_id):
                    logger.warning("Stream %s lost its worker: marking it interrupted.", stream_id)
                    await store.finish(stream_id, "interrupted")
    for item in ending(status):
        yield item


def _joined(entries: list[Entry]) -> bytes:
    return entries[0][1] if len(entries) == 1 else b"".join(data for _, data in entries)
