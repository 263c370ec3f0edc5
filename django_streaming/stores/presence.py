"""``PresenceLog``: the interface of a store's presence and disconnects, below the engine that
uses them (``channels/guard.py``) and above the backends that implement them
(``backends/memory/presence.py``, ``backends/redis/presence.py``).

Presence: an entry per subscription (a *member*: a random id) of a channel, under a *label*
(who it is: a user's id, or what the view chose; ``""`` for the anonymous, counted but not
listed). On a store shared by workers each entry has a lease that its worker renews, so the
entries of a worker that died expire with it.

Disconnects: a *target* names the subscriptions to end, ``"<channel>/<user>"``, either part
empty for any (a channel's name has no ``/``). Sending one sets a fresh token under the target
and tells every process that watches; a subscription that was setting up meanwhile compares
the tokens of its targets before and after, so that it misses none.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Protocol

__all__ = ["ANONYMOUS", "PresenceLog", "Renewed", "Revoked", "Target"]

#: The label of the subscribers who are counted but not listed.
ANONYMOUS = ""

#: ``"<channel>/<user>"``, either part empty for any.
Target = str

#: By channel: the labels gone (expired), and those back (listed again).
Renewed = dict[str, tuple[list[str], list[str]]]

#: Called with each target disconnected while watching; ``None`` after the store's feed was
#: interrupted, when some may have been missed (compare the tokens again).
Revoked = Callable[[Target | None], None]


class PresenceLog(Protocol):
    """Who reads which channel, and disconnects. ``MemoryStore`` and ``RedisStore`` each
    have one, as their channel log's ``presence``."""

    #: Seconds an entry lives without being renewed (every third of it), or None when the
    #: entries live and die with the process (nothing to renew).
    lease: float | None

    async def join(self, channel: str, label: str, member: str) -> bool:
        """Add ``member`` to ``channel`` under ``label``; whether it is the label's first."""
        ...

    async def leave(self, channel: str, label: str, member: str) -> bool:
        """Remove ``member``; whether ``label`` has no entry left on ``channel``."""
        ...

    async def renew(self, members: Mapping[str, Sequence[tuple[str, str]]]) -> Renewed:
        """Renew the leases of ``members`` (``(label, member)`` pairs by channel); return, by
        channel, the labels found expired (the entries of a worker that died), now removed,
        each reported once across all workers, and the labels listed again (renewed after
        their expiry was found: this worker stalled past its lease)."""
        ...

    async def members(self, channel: str) -> dict[str, int]:
        """The live entries of ``channel``: how many under each label."""
        ...

    def members_sync(self, channel: str) -> dict[str, int]:
        """``members()`` from any thread, no event loop needed."""
        ...

    def disconnect(self, target: Target) -> None:
        """End the subscriptions ``target`` names, in every process, from any thread."""
        ...

    async def adisconnect(self, target: Target) -> None: ...

    async def tokens(self, targets: Sequence[Target]) -> list[str | None]:
        """The token of each target's last disconnect (recent ones at least), or None."""
        ...

    def watch(self, revoked: Revoked) -> AbstractAsyncContextManager[None]:
        """Call ``revoked`` with each target disconnected while in the block (once watching:
        what came before is for ``tokens()`` to tell)."""
        ...
