"""The settings path of the memory store before it moved: ``MemoryStore`` now lives in
``django_streaming.backends.memory``, and ``"django_streaming.stores.memory.MemoryStore"`` in
a ``STORE`` setting keeps working."""

from django_streaming.backends.memory import MemoryStore

__all__ = ["MemoryStore"]
