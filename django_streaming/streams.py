"""The engine between a user's generator and the server: framing, heartbeats, errors, clean-up.

``EventStream`` runs the user's iterator in one task of its own (the *pump*) and hands the
encoded bytes to whoever serves the response (the *writer*: Django's ASGI handler, or a WSGI
server through ``bridges.SyncIterator``). Keeping the two apart is what lets a heartbeat go out
while the generator is stuck in an ``await``, without a timer or a task per event:

* the pump resolves the future the writer waits on, or buffers the chunk if the writer is busy;
* one timer per stream, re-armed at most once per heartbeat interval, adds a comment when nothing
  was written for that long;
* when the writer is cancelled (the client went away) or closed, it cancels the pump, which
  throws ``CancelledError`` into the generator at its current ``await`` so its ``finally`` runs,
  and waits for it before returning, so no task outlives the response;
* a writer that has not come back for the next chunk within ``send_timeout`` seconds is stuck
  on a client that stopped reading: the same timer cancels the pump and the writer's task.

The pump sends the generator's sync work to the pool of ``threads.py``, never to the request's
thread, so a stream that waits holds neither a thread nor a database connection.

Events that are ready together are written together, and the buffer is bounded, so a fast
generator cannot outrun a slow client.

Served by ``django_streaming.asgi`` (``serve()``), the writer does not wake per chunk either:
one callback per turn of the loop sends, for every stream that has chunks, what it gathered in
that turn, with the server's ``send`` stepped in place. At 10,000 subscribers of a channel that
is one call of ``send`` per connection and event, as the tightest ASGI app would make, and
fewer when the loop falls behind, since the events that arrived meanwhile go out together.
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
import types
from collections.abc import AsyncIterable, AsyncIterator, Callable, Coroutine, Generator
from typing import TYPE_CHECKING, Any, TypeAlias

from . import shutdown, tracing
from .conf import DEFAULTS
from .sse import encode
from .threads import release_request_thread, use_pool

if TYPE_CHECKING:
    from .metrics import StreamWatch

__all__ = ["HEARTBEAT", "OPENING", "EventStream", "Send"]

# The last body message sent, for the next send of the same chunk (an event framed once for
# all the subscribers of a channel): servers only read what they are sent.
_last_message: dict[str, Any] = {"type": "http.response.body", "body": None, "more_body": True}

#: An ASGI ``send``: a coroutine function.
Send: TypeAlias = Callable[[dict[str, Any]], Coroutine[Any, Any, None]]

#: A comment: it keeps proxies and clients from timing out and dispatches nothing.
HEARTBEAT = b": heartbeat\n\n"
#: Sent first, so the client and any proxy see the stream open before the first event is ready.
OPENING = b": stream open\n\n"
# Past this many buffered bytes the pump waits for the writer to catch up.
HIGH_WATER_MARK = 64 * 1024

logger = logging.getLogger("django_streaming")


class EventStream(AsyncIterator[bytes]):
    """The bytes of an event stream for ``source``'s items, as an async iterator.

    ``on_error`` turns an exception raised by ``source`` (or by encoding one of its items) into
    the bytes of a final event; the stream then ends normally. Whoever iterates it must call
    ``aclose()`` when done, as Django's ASGI handler does (``aclosing``) even when cancelled: it
    stops the source at its current ``await`` and waits for its clean-up.

    ``__anext__()`` hands out a future that the pump or the heartbeat resolves: no coroutine or
    generator frame per event, and the waiting is a plain ``await future`` in the server's task.
    """

    __slots__ = (
        "__weakref__",
        "_bytes",
        "_chunk_size",
        "_chunks",
        "_closed",
        "_done",
        "_drained",
        "_due",
        "_events",
        "_finished",
        "_flushing",
        "_heartbeat",
        "_loop",
        "_opening",
        "_pump",
        "_reason",
        "_send",
        "_send_timeout",
        "_sender",
        "_sending",
        "_shutdown_retry",
        "_size",
        "_start",
        "_timer",
        "_waiter",
        "_watch",
        "_writer",
        "_written_at",
    )  # fmt: skip

    def __init__(
        self,
        source: AsyncIterable[Any],
        *,
        heartbeat: float | None,
        retry: int | None = None,
        on_error: Callable[[Exception], bytes],
        send_timeout: float | None = None,
        shutdown_retry: int | tuple[int, int] = DEFAULTS["SHUTDOWN_RETRY"],
        watch: StreamWatch | None = None,
    ) -> None:
        # Handed to the pump when it starts and dropped here: ``on_error`` is usually a method of
        # the response that holds this stream, and a cycle would leave both to the collector.
        self._start: tuple[AsyncIterable[Any], Callable[[Exception], bytes]] | None = (
            source,
            on_error,
        )
        self._heartbeat = heartbeat
        self._send_timeout = send_timeout
        self._shutdown_retry = shutdown_retry
        self._opening = f"retry: {retry}\n\n".encode() if retry is not None else OPENING
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pump: asyncio.Task[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._chunks: list[bytes] = []  # empty whenever a waiter is pending
        self._size = 0
        self._waiter: asyncio.Future[bytes] | None = None  # the writer, waiting for a chunk
        self._drained: asyncio.Future[None] | None = None  # the pump, waiting for room
        self._finished = False  # the source is done; buffered chunks may remain
        self._closed = False
        self._written_at = 0.0  # when the writer last got a chunk
        self._writer: asyncio.Task[Any] | None = None
        # Served with serve(): the server's ASGI send, called from wherever a chunk is ready;
        # the task that finishes a send the server made wait; what serve() waits for.
        self._send: Send | None = None
        self._sender: Generator[Any, dict[str, Any], None] | None = None
        self._chunk_size: int | None = None
        self._sending: asyncio.Task[None] | None = None
        self._done: asyncio.Future[None] | None = None
        self._due = False  # in this turn's flush
        self._flushing: list[EventStream] = []  # that flush's streams (serve() sets it)
        # What the operator sees (metrics, a span, a log line): the source's events and their
        # bytes, counted here and handed over at each tick and at the end; why it ended.
        self._watch = watch
        self._events = 0
        self._bytes = 0
        self._reason: str | None = None

    def __anext__(self) -> asyncio.Future[bytes]:
        loop = self._loop
        if loop is None:
            loop = self._start_pump()
            if self._pump is not None:
                return self._resolved(self._opening)
        if self._chunks:
            return self._resolved(self._take())
        future = loop.create_future()
        if self._finished or self._closed:
            future.set_exception(StopAsyncIteration())
        else:
            self._waiter = future
        return future

    def _start_pump(self) -> asyncio.AbstractEventLoop:
        loop = self._loop = asyncio.get_running_loop()
        start, self._start = self._start, None
        if start is not None:
            if self._watch is None:
                self._pump = loop.create_task(self._run(*start))
            else:  # the source runs under the stream's span
                with tracing.current(self._watch.open()):
                    self._pump = loop.create_task(self._run(*start))
            self._writer = asyncio.current_task()
            shutdown.register(self)
            periods = [p for p in (self._heartbeat, self._send_timeout) if p is not None]
            if periods:
                self._timer = loop.call_at(loop.time() + min(periods), self._tick)
        return loop

    async def serve(self, send: Send, chunk_size: int | None = None) -> bool:
        """Write the whole stream with the ASGI ``send`` (every message but the last, which
        is the caller's), in messages of at most ``chunk_size`` bytes, then close it, as
        iterating and closing it would; but the caller's task does not wake per chunk. What
        the pump makes, or whoever ``push()``-es, is sent at the end of the loop's turn by one
        callback for every stream served on the loop (``_flush()``), each stream's chunks of
        the turn joined in one message. A send the server makes wait (its client reads
        slowly) is finished in a task of its own, the chunks meanwhile buffered, so that
        whoever wrote never waits.

        True when the stream ended by itself, so the caller sends the last message; False
        when it was abandoned (``client_left()``, a send timeout). Cancelled, it closes the
        stream."""
        self._send = send
        self._sender = sender = _sends(send)
        next(sender)  # to its first yield
        self._chunk_size = chunk_size
        self._flushing = _due.streams
        loop = self._start_pump()
        done = self._done = loop.create_future()
        try:
            if self._pump is not None:
                self._write(self._opening)
                self._settle()
            else:  # closed before it started
                done.set_result(None)
            await done
            return not self._closed
        finally:
            await self.aclose()

    def client_left(self, _: object = None) -> None:
        """The client of a served stream went away (a done callback of whatever watched for
        that): stop the source, and let ``serve()`` return without sending more; or, not
        served yet, return at once."""
        done = self._done
        if done is not None and done.done():
            return  # serve() is over: nothing to stop
        self._abandon()
        if done is not None:
            done.set_result(None)

    def push(self, chunk: bytes) -> bool:
        """Write ``chunk`` (events the source made, framed) as if the source had yielded it,
        without waking the source: a source that learns of an event in a callback (a channel
        subscriber, told by the listener) writes it from there. False when the stream cannot
        take it now (it ended, or a slow client left too much buffered): the source then
        yields it, which waits for room."""
        if self._closed or self._finished or self._size >= HIGH_WATER_MARK:
            return False
        if self._watch is not None:
            self._events += chunk.count(b"\n\n")
            self._bytes += len(chunk)
        self._deliver(chunk)
        return True

    def _write(self, chunk: bytes) -> None:
        """Buffer ``chunk`` for this turn's flush (``_flush()``), which sends what each served
        stream buffered in one message: chunks ready in the same turn of the loop (several
        events of a channel that fell behind) go out together, as a woken writer would take
        them, but no task wakes per stream."""
        if self._closed:  # (an error's last event, say, after the client left)
            return
        self._chunks.append(chunk)
        self._size += len(chunk)
        if not self._due and self._sending is None:
            self._due = True
            due = self._flushing
            if not due:
                self._loop.call_soon(_flush, due)  # type: ignore[union-attr]
            due.append(self)

    def _send_chunk(self, chunk: bytes) -> None:
        """Send ``chunk`` now (no send waits), in pieces of at most ``chunk_size``; what a
        send that waits leaves is buffered for the task that finishes it."""
        size = self._chunk_size
        if size is None or len(chunk) <= size:
            self._send_now(chunk)
            return
        pieces = self._pieces(chunk)
        for number, piece in enumerate(pieces):
            if not self._send_now(piece):  # the rest waits for the send that waits
                rest = b"".join(pieces[number + 1 :])
                if rest and not self._closed:
                    self._chunks.append(rest)
                    self._size += len(rest)
                return

    def _send_now(self, body: bytes) -> bool:
        """Send ``body`` with the server's ``send``, stepped here rather than awaited: True
        when it was sent at once; else it waits in a task of its own (or it failed)."""
        global _last_message
        message = _last_message
        if message["body"] is not body:  # one message for all the subscribers of an event
            message = _last_message = {
                "type": "http.response.body",
                "body": body,
                "more_body": True,
            }
        try:
            waiting = self._sender.send(message)  # type: ignore[union-attr]
        except Exception as error:  # the server's (its client left, say): serve() raises it
            self._failed(error)
            return False
        if waiting is _SENT:  # the usual case
            return True
        self._sending = self._loop.create_task(self._finish_sending(waiting))  # type: ignore[union-attr]
        return False

    def _pieces(self, chunk: bytes) -> list[bytes]:
        size = self._chunk_size
        if size is None or len(chunk) <= size:
            return [chunk]
        return [chunk[start : start + size] for start in range(0, len(chunk), size)]

    async def _finish_sending(self, waiting: Any) -> None:
        """Finish the send the server made wait, then send what was buffered meanwhile."""
        send = self._send
        assert send is not None
        try:
            assert self._sender is not None
            await _until_sent(self._sender, waiting)
            while self._chunks and not self._closed:
                for piece in self._pieces(self._take()):
                    await send({"type": "http.response.body", "body": piece, "more_body": True})
        except asyncio.CancelledError:
            return  # closed (the client left, a send timeout): serve() is done with it
        except Exception as error:  # the server's (its client left, say): serve() raises it
            self._failed(error)
            return
        finally:
            self._sending = None
        self._settle()

    def _failed(self, error: BaseException) -> None:
        """A send failed: the stream is abandoned, and serve() raises ``error``."""
        self._abandon()
        done = self._done
        if done is not None and not done.done():
            done.set_exception(error)

    def _settle(self) -> None:
        """Let serve() return once the source is done and everything is sent."""
        done = self._done
        if (
            self._finished
            and self._sending is None
            and not self._chunks
            and done is not None
            and not done.done()
        ):
            done.set_result(None)

    async def aclose(self) -> None:
        """Stop the source at its current ``await`` and wait for its ``finally`` to run."""
        self._abandon()
        pump = self._pump
        if pump is not None and not pump.done():
            await asyncio.wait((pump,))
        sending = self._sending
        if sending is not None:
            sending.cancel()
            await asyncio.wait((sending,))
        # The writer's task is done with this stream; kept, it would hold the response that
        # holds this stream (its result, as Django's handler returns it): a cycle per request,
        # left to the garbage collector.
        self._writer = None
        watch, self._watch = self._watch, None
        if watch is not None and pump is not None:
            watch.end(self._reason or "completed", self._events, self._bytes)

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The loop serving this stream, once it started."""
        return self._loop

    def hint_reconnect(self) -> None:
        """Tell the client to reconnect soon (the server is stopping) with a ``retry:`` field,
        drawn from the ``shutdown_retry`` range so that clients come back spread out."""
        if not (self._finished or self._closed):
            retry = self._shutdown_retry
            if not isinstance(retry, int):
                retry = random.randint(*retry)
            self._deliver(f": server shutting down\nretry: {retry}\n\n".encode())

    def shut_down(self) -> None:
        """End the stream now: stop the source, send what is buffered, and finish."""
        if self._reason is None and not self._finished:
            self._reason = "shutdown"
        if self._pump is not None:
            self._pump.cancel()

    def _abandon(self) -> None:
        if self._reason is None and not self._finished:
            self._reason = "client_left"
        self._closed = True
        self._start = None
        if self._timer is not None:
            self._timer.cancel()
        if self._pump is not None:
            self._pump.cancel()

    def _resolved(self, chunk: bytes) -> asyncio.Future[bytes]:
        assert self._loop is not None
        self._written_at = self._loop.time()
        future = self._loop.create_future()
        future.set_result(chunk)
        return future

    def _deliver(self, chunk: bytes) -> None:
        """Hand ``chunk`` to the writer: served, into this turn's flush; else to the writer
        waiting for it, or into the buffer it takes next."""
        if self._send is not None:
            self._write(chunk)
            return
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            self._waiter = None
            self._written_at = self._loop.time()  # type: ignore[union-attr]
            waiter.set_result(chunk)
        else:
            self._chunks.append(chunk)
            self._size += len(chunk)

    def _take(self) -> bytes:
        chunks = self._chunks
        chunk = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        chunks.clear()
        self._size = 0
        drained = self._drained
        if drained is not None and not drained.done():
            drained.set_result(None)
        self._written_at = self._loop.time()  # type: ignore[union-attr]
        return chunk

    async def _run(
        self, source: AsyncIterable[Any], on_error: Callable[[Exception], bytes]
    ) -> None:
        loop = self._loop
        assert loop is not None
        chunks = self._chunks
        iterator = aiter(source)
        first = True
        watch = self._watch
        pushing: Callable[[Callable[[bytes], bool] | None], None] | None = getattr(
            source, "push_to", None
        )
        try:
            try:
                if self._send is None:
                    # Served (serve()), the stream is django_streaming.asgi's, whose requests'
                    # calls go to the pool already, and hold no thread of their own.
                    await release_request_thread()
                    use_pool()
                if pushing is not None:
                    pushing(self.push)
                async for item in iterator:
                    # The hot path, inlined: most items are one line of text for a waiting writer.
                    if type(item) is str and "\n" not in item and "\r" not in item:
                        chunk = ("data: " + item + "\n\n").encode()
                    else:
                        chunk = encode(item)
                    if watch is not None:  # counted only for the operator's eyes
                        # Bytes made elsewhere (a channel's, a resumable stream's) may hold several.
                        self._events += chunk.count(b"\n\n") if type(item) is bytes else 1
                        self._bytes += len(chunk)
                        if first:
                            first = False
                            watch.first_event()
                    if self._send is not None:
                        self._write(chunk)
                    else:
                        waiter = self._waiter
                        if waiter is not None and not waiter.done():
                            self._waiter = None
                            self._written_at = loop.time()
                            waiter.set_result(chunk)
                            continue
                        chunks.append(chunk)
                        self._size += len(chunk)
                    if self._size >= HIGH_WATER_MARK:
                        self._drained = loop.create_future()
                        await self._drained
            finally:
                # Runs the generator's finally when we stop early (a bad item, a cancel).
                aclose = getattr(iterator, "aclose", None)
                if aclose is not None:
                    await aclose()
        except Exception as error:
            self._reason = self._reason or "error"
            chunk = on_error(error)
            self._bytes += len(chunk)
            self._deliver(chunk)
        except asyncio.CancelledError:
            # Only this stream cancels its pump. Ending quietly rather than keeping the error
            # on the task matters: its traceback holds this frame, which holds the task, and
            # such a cycle waits for a full garbage collection, a pause of the whole loop.
            pass
        finally:
            self._finished = True
            if pushing is not None:
                pushing(None)  # (it held this stream)
            if self._timer is not None:
                self._timer.cancel()
            waiter, self._waiter = self._waiter, None
            if waiter is not None and not waiter.done():
                # (Not kept: the error's traceback will hold the writer's frame.)
                waiter.set_exception(StopAsyncIteration())
            self._settle()

    def _tick(self) -> None:
        """The stream's one timer, re-armed at most once per interval: a heartbeat when the
        writer has waited ``heartbeat`` seconds for a chunk, the end when it has been writing
        one for ``send_timeout`` seconds."""
        loop = self._loop
        assert loop is not None
        heartbeat, send_timeout = self._heartbeat, self._send_timeout
        now = loop.time()
        if self._send is not None:  # served: writing while a send waits
            writing = self._sending is not None
        else:  # iterated: the writer has a chunk and has not come back for the next
            waiter = self._waiter
            writing = waiter is None or waiter.done()
        if writing:
            if send_timeout is not None and now >= self._written_at + send_timeout:
                self._stalled(send_timeout)
                return
        elif heartbeat is not None and now >= self._written_at + heartbeat:
            self._deliver(HEARTBEAT)
            self._written_at = now  # (served, it goes out at the end of this turn)
            writing = True
        deadlines = [
            deadline
            for deadline in (
                None if heartbeat is None else self._written_at + heartbeat,
                None if send_timeout is None or not writing else self._written_at + send_timeout,
            )
            if deadline is not None and deadline > now
        ]
        due = min(deadlines) if deadlines else now + (heartbeat or send_timeout or 0)
        if self._watch is not None:  # a long stream's counts, before its end
            self._watch.progress(self._events, self._bytes)
        self._timer = loop.call_at(due, self._tick)

    def _stalled(self, send_timeout: float) -> None:
        logger.warning(
            "A client read nothing for %s s (SEND_TIMEOUT): its stream was ended.", send_timeout
        )
        self._reason = self._reason or "send_timeout"
        if self._send is not None:  # served: serve() returns, its send task cancelled
            self.client_left()
            return
        self._abandon()
        if self._writer is not None:
            self._writer.cancel()


#: What ``_sends()`` yields once a send is done.
_SENT = object()


@types.coroutine
def _sends(send: Send) -> Generator[Any, dict[str, Any], None]:
    """The server's ``send`` of each message sent in, in turn: it yields ``_SENT`` once one is
    done, or what the send waits for when it waits (for the task that finishes it:
    ``_until_sent()``). Stepping this costs less than stepping each send's coroutine, whose
    end is a ``StopIteration`` raised and caught, where ``yield from`` takes its result."""
    message = yield _SENT
    while True:
        yield from send(message)
        message = yield _SENT


@types.coroutine
def _until_sent(sender: Generator[Any, Any, None], waiting: Any) -> Generator[Any, Any, None]:
    """Await the send ``sender`` (``_sends()``) is in, which waits for ``waiting``: a task
    that awaits this runs it on from there as if it had awaited it from the start, a
    cancellation thrown into it."""
    while waiting is not _SENT:
        try:
            sent = yield waiting
        except BaseException as error:  # thrown in (a cancellation): passed on to it
            waiting = sender.throw(error)
        else:
            waiting = sender.send(sent)


class _Due(threading.local):
    """The served streams with chunks for this turn's flush, per thread (per loop)."""

    def __init__(self) -> None:
        self.streams: list[EventStream] = []


_due = _Due()


def _flush(due: list[EventStream]) -> None:
    """Send what each stream of ``due`` buffered this turn, in one message each.

    This is every served event's path, so the usual case is taken here rather than through
    ``_take()`` and ``_send_chunk()``: one chunk within ``chunk_size``, and no pump ever made
    to wait for room; the clock is read once for the turn."""
    streams = due[:]
    due.clear()
    now = streams[0]._loop.time()  # type: ignore[union-attr]
    for stream in streams:
        stream._due = False
        if not stream._closed:  # (it has chunks: only this flush takes them)
            chunks = stream._chunks
            size = stream._chunk_size
            if (
                len(chunks) == 1
                and stream._drained is None
                and (size is None or len(chunks[0]) <= size)
            ):
                chunk = chunks.pop()
                stream._size = 0
                stream._written_at = now
                stream._send_now(chunk)
            else:
                stream._send_chunk(stream._take())
        if stream._finished:
            stream._settle()
