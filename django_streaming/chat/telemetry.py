"""What an answer's watcher (``django_streaming.metrics.AnswerWatch``) learns from each item
``generate()`` yields: its first text, its model and provider (an adapter's ``Metadata``), and
its tool calls' starts and ends (their spans)."""

from __future__ import annotations

from typing import Any

from django_streaming.metrics import AnswerWatch

from .parts import Metadata, ToolCall, ToolDenied, ToolError, ToolInputError, ToolResult

__all__ = ["watch_item"]


def watch_item(watch: AnswerWatch, item: Any) -> None:
    watch.items += 1
    if type(item) is str:
        if watch.first_text is None and item:
            watch.text()
    elif isinstance(item, Metadata):
        watch.learn(item.data.get("model"), item.provider)
    elif watch.span is not None:
        if isinstance(item, ToolCall):
            watch.tool_call(item.id, item.name)
        elif isinstance(item, ToolResult) and not item.preliminary:
            watch.tool_done(item.id)
        elif isinstance(item, ToolError):
            watch.tool_done(item.id, error="tool_error")
        elif isinstance(item, ToolDenied):
            watch.tool_done(item.id, error="tool_denied")
        elif isinstance(item, ToolInputError):
            watch.tool_call(item.id, item.name)
            watch.tool_done(item.id, error="tool_input_error")
