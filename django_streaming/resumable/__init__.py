"""Resumable streams: the generation runs as a task of its own and writes every event to the
stream store; each response, the first one included, only tails the store.

So a client that goes away does not stop the generation, a client that comes back gets what it
missed, and a stop request reaches the generation through the store, from any worker.

* ``ids.py``: stream and event ids;
* ``generation.py``: ``Generation``, the task that runs the generator into the store (and,
  with a shared store, keeps a copy of its latest events for the readers in its process);
* ``tail.py``: ``tail()``, a reader, on any worker;
* ``mixin.py``: ``ResumableMixin``, the URLs and async handlers of a resumable view.
"""

from .generation import LOCAL_COPY_LEN, Generation
from .ids import event_id, new_stream_id, parse_event_id
from .mixin import ResumableMixin
from .tail import StreamGap, tail

__all__ = [
    "LOCAL_COPY_LEN",
    "Generation",
    "ResumableMixin",
    "StreamGap",
    "event_id",
    "new_stream_id",
    "parse_event_id",
    "tail",
]
