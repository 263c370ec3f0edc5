"""The memory backend: resumable streams (``MemoryStore``) and channels
(``MemoryChannelLog``) in this process's memory. The default; one process only."""

from .channel_log import MemoryChannelLog
from .store import MemoryStore

__all__ = ["MemoryChannelLog", "MemoryStore"]
