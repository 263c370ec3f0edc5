"""``ChannelView``: an ``SSEView`` that streams what is published to its channels."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, ClassVar

from django.http import HttpRequest, HttpResponseBase, JsonResponse

from django_streaming import metrics
from django_streaming.bridges import maybe_await
from django_streaming.responses import error_response
from django_streaming.stores import get_store
from django_streaming.views import (
    LAST_EVENT_ID_MAX_LENGTH,
    SSEView,
    _last_event_id,
    last_event_id_problem,
)

from .guard import Guard, validate_label
from .log import MAX_CHANNELS, ChannelLog, validate_channel_name
from .signing import CursorKey
from .subscription import read_cursor, subscribe

__all__ = ["ChannelView"]


class ChannelView(SSEView):
    """Streams every event published to its channels (``publish()``, ``apublish()``) after
    the client connected, in publish order, each with an ``id:`` that is a cursor over all of
    them: an ``EventSource`` that reconnects (sending ``Last-Event-ID``) gets every event it
    missed exactly once, then the live ones, or ``event: reset`` first when some of what it
    missed is no longer kept.

    .. code-block:: python

        class OrderStatus(LoginRequiredMixin, ChannelView):
            def get_channels(self, request, *args, **kwargs):
                return [f"order-{kwargs['pk']}"]

            async def can_read(self, request, channel):
                order = await Order.objects.aget(pk=channel.removeprefix("order-"))
                return order.customer_id == (await request.auser()).pk

    With ``multiplex = True``, a client picks some of the view's channels in the query
    (``?channel=a&channel=b``): only channels ``get_channels()`` returns, at most
    ``max_channels``, each checked by ``can_read()``; every event then carries a ``channel:``
    field naming its channel, so that one connection serves several subscriptions of a page
    (``streams.js`` merges and dispatches them).

    A page can subscribe from the moment it was rendered: ``channel_cursor()`` of the
    channels it reads, in the query as ``?since=``, stands for the ``Last-Event-ID`` until the
    client has one (a reconnect's header wins); it must be a cursor of exactly the channels
    this request reads (else a 400, ``invalid_since``).

    With ``presence = True``, each subscriber is counted on its channels (``presence()``),
    and its label's first subscription and last publish ``join`` and ``leave`` events there.
    ``disconnect()`` ends subscriptions on every worker: their clients reconnect, and
    ``can_read()`` decides again.

    Needs an ASGI server: each subscriber waits on the event loop.
    """

    #: The channels of every request, unless ``get_channels()`` says otherwise.
    channels: ClassVar[list[str]] = []
    #: Whether a new subscriber (no ``Last-Event-ID``) first gets what its channels still
    #: keep: a job's progress so far, when its page is reloaded. Otherwise it gets what is
    #: published from the moment it connected.
    history: ClassVar[bool] = False
    #: Whether a client may ask for some of ``get_channels()`` in the query (``?channel=``),
    #: and gets each event with a ``channel:`` field naming its channel.
    multiplex: ClassVar[bool] = False
    #: The most channels one request of a multiplexing view may read (past it, a 400). Any
    #: view reads at most ``MAX_CHANNELS`` (16), so that the cursor of a subscription, which
    #: holds a position in each, stays within 256 characters: a larger value counts as that.
    max_channels: ClassVar[int] = MAX_CHANNELS
    #: The ``?since=`` of this request, when it has no ``Last-Event-ID``.
    since: str | None = None
    #: Whether subscribers are counted on their channels (``presence()``), with ``join`` and
    #: ``leave`` events published there when a label's first subscription opens and its last
    #: one ends.
    presence: ClassVar[bool] = False
    #: This request's subscription's revocation and presence (set by ``aget()``).
    guard: Guard | None = None

    def get_channels(self, request: HttpRequest, *args: Any, **kwargs: Any) -> list[str]:
        """The channels this request subscribes to; the ``channels`` attribute by default."""
        return list(self.channels)

    def can_read(self, request: HttpRequest, channel: str) -> Any:
        """Whether ``request`` may read ``channel`` (a bool, or an awaitable of one); a refusal
        is a 403 before anything streams. Everyone may, by default."""
        return True

    def user_id(self, request: HttpRequest) -> Any:
        """Who this subscriber is for ``disconnect(user=...)`` (a str, or None; or an
        awaitable of one), and its presence label by default: the logged-in user's ``pk`` as
        a string, None for the anonymous."""
        return _user_pk(request)

    def presence_label(self, request: HttpRequest, user_id: str | None) -> Any:
        """Who this subscriber is listed as in ``presence()`` and the ``join``/``leave``
        events (a str of at most 200 characters, or None; or an awaitable of one):
        ``user_id`` by default. None counts it as anonymous, not listed."""
        return user_id

    handlers_are_async = True

    async def aget(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        """Subscribe to the channels of ``get_channels()`` that ``can_read()`` allows."""
        refused = self.read_last_event_id(request)
        if refused is not None:
            return refused
        channels = list(dict.fromkeys(self.get_channels(request, *args, **kwargs)))
        if self.multiplex:
            chosen = self.chosen_channels(request, channels)
            if isinstance(chosen, HttpResponseBase):
                return chosen
            channels = chosen
        if not channels:
            return error_response(400, "no_channels", "This stream has no channels to read.")
        if len(channels) > MAX_CHANNELS:
            return _too_many(MAX_CHANNELS, len(channels))
        for channel in channels:
            try:
                validate_channel_name(channel)
            except ValueError as error:
                return error_response(400, "invalid_channel", str(error))
        log = get_store().channel_log
        user = await maybe_await(self.user_id(request))
        label = None
        if self.presence:
            label = validate_label(await maybe_await(self.presence_label(request, user)))
        # Before can_read(): a disconnect() while it decides is seen once subscribed.
        self.guard = await Guard.before_checks(log, channels, user, label)
        for channel in channels:
            if not await maybe_await(self.can_read(request, channel)):
                return error_response(
                    403, "forbidden_channel", f"You may not read the channel {channel!r}."
                )
        if self.since is not None:
            if read_cursor(CursorKey.of(channels), self.since) is None:
                return error_response(
                    400,
                    "invalid_since",
                    "?since= is not a cursor of the channels this stream reads: give it "
                    "channel_cursor() of exactly these channels.",
                )
            self.last_event_id = self.since  # then as a reconnect with it
        await log.heads(channels)  # a store that is down is a 503 now, not an error event later
        return self.stream_response(self.subscription(log, channels))

    def read_last_event_id(self, request: HttpRequest) -> JsonResponse | None:
        """``SSEView``'s, then, without one, the cursor of ``?since=`` into ``since`` (checked
        against the channels once they are known), or a 400 for one that cannot be a cursor."""
        header = _last_event_id(request)
        if (
            header is not None
            and len(header) > LAST_EVENT_ID_MAX_LENGTH
            and last_event_id_problem(header[:LAST_EVENT_ID_MAX_LENGTH]) is None
        ):
            # Longer than any cursor of ours, yet a header: a cursor that cannot be read, so
            # event: reset as for any other (not a 400 its client meets at each reconnect).
            self.last_event_id = ""
            return None
        refused = super().read_last_event_id(request)
        if refused is not None or self.last_event_id is not None:
            return refused
        # The raw query string first: most requests have no since (request.GET costs more).
        if "since=" in request.META.get("QUERY_STRING", ""):
            since = request.GET.get("since")
            if since is not None:
                problem = last_event_id_problem(since, "?since=")
                if problem:
                    return error_response(400, "invalid_since", problem)
                self.since = since
        return None

    def chosen_channels(
        self, request: HttpRequest, allowed: list[str]
    ) -> list[str] | HttpResponseBase:
        """A multiplexing view's channels: those of ``?channel=`` (all of ``allowed`` without
        one), or a 4xx saying which one cannot be read."""
        asked = list(dict.fromkeys(request.GET.getlist("channel"))) or allowed
        most = min(self.max_channels, MAX_CHANNELS)
        if len(asked) > most:
            return _too_many(most, len(asked))
        known = set(allowed)
        for channel in asked:
            if channel not in known:
                return error_response(
                    404, "unknown_channel", f"This stream has no channel {channel[:200]!r}."
                )
        return asked

    def subscription(self, log: ChannelLog, channels: list[str]) -> AsyncIterator[bytes]:
        """The stream of what is published to ``channels``, replayed from ``last_event_id``.
        Wrap it to end a subscriber's stream early, say."""
        return subscribe(
            log,
            channels,
            self.last_event_id,
            history=self.history,
            tagged=self.multiplex,
            view=metrics.view_label(getattr(self, "request", None)),
            guard=None if self.guard is None else self.guard.watch,
        )


def _too_many(most: int, asked: int) -> JsonResponse:
    return error_response(
        400,
        "too_many_channels",
        f"Ask for at most {most} channels in one stream, not {asked}.",
    )


async def _user_pk(request: HttpRequest) -> str | None:
    auser = getattr(request, "auser", None)
    if auser is None:
        return None
    user = await auser()
    return str(user.pk) if user.is_authenticated else None
