"""The server-sent events wire format, as the WHATWG HTML standard defines it.

This module imports nothing from Django so it can be used, and tested, on its own.
https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, TypeAlias

__all__ = ["Event", "JSONData", "encode", "encode_data"]

#: What ``data`` may hold: text, or a value that is sent as compact JSON.
JSONData: TypeAlias = str | dict[str, Any] | list[Any] | int | float | bool

# The three line terminators a conforming parser splits on. ``str.splitlines`` is no use here:
# it also splits on \v, \f, U+2028 and others, which the parser keeps as part of the line.
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_JSON_TYPES = (dict, list, int, float)  # bool is an int


@dataclass(frozen=True, slots=True)
class Event:
    """One server-sent event.

    ``data`` is text (split into one ``data:`` line per line) or a ``dict``, ``list``, number or
    bool (sent as compact JSON). ``comment`` lines are ignored by clients; they keep a connection
    busy without dispatching anything. Invalid fields raise ``ValueError`` or ``TypeError`` here,
    at construction, so the error points at the code that built the event.
    """

    data: JSONData | None = None
    event: str | None = None
    id: str | None = None
    retry: int | None = None
    comment: str | None = None

    def __post_init__(self) -> None:
        if self.data is not None and not isinstance(self.data, (str, *_JSON_TYPES)):
            raise TypeError(
                "Event data must be str, dict, list, int, float or bool, "
                f"not {type(self.data).__name__}."
            )
        if self.event is not None:
            _check_single_line("event", self.event)
        if self.id is not None:
            _check_single_line("id", self.id)
            if "\0" in self.id:
                raise ValueError("Event id must not contain NUL: clients ignore such an id.")
        if self.retry is not None and (
            not isinstance(self.retry, int) or isinstance(self.retry, bool) or self.retry < 0
        ):
            raise ValueError(
                f"Event retry must be a non-negative int of milliseconds, not {self.retry!r}."
            )
        if self.comment is not None and not isinstance(self.comment, str):
            raise TypeError(f"Event comment must be str, not {type(self.comment).__name__}.")

    def encode(self) -> bytes:
        """Return the event's UTF-8 bytes, ending with the blank line that dispatches it."""
        lines: list[str] = []
        if self.comment is not None:
            lines.extend(": " + line for line in _LINE_BREAK.split(self.comment))
        if self.id is not None:
            lines.append("id: " + self.id)
        if self.event is not None:
            lines.append("event: " + self.event)
        if self.retry is not None:
            lines.append(f"retry: {self.retry}")
        if self.data is not None:
            lines.append(_data_lines(self.data))
        lines.append("\n")
        return "\n".join(lines).encode()


def encode_data(data: JSONData) -> bytes:
    """Encode ``data`` (text or a JSON value) as the data of an event of its own."""
    if isinstance(data, (str, _JSON_TYPES)):
        return (_data_lines(data) + "\n\n").encode()
    raise TypeError(
        "Stream items must be str, dict, list, int, float, bool, Event or bytes, "
        f"not {type(data).__name__}."
    )


def encode(item: Event | bytes | JSONData) -> bytes:
    """Encode one stream item: an ``Event``, ready-made ``bytes``, or the data of an event."""
    if isinstance(item, bytes):
        return item
    if isinstance(item, Event):
        return item.encode()
    return encode_data(item)


def _data_lines(data: JSONData) -> str:
    if not isinstance(data, str):
        try:
            data = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        except ValueError as error:
            raise ValueError(f"Event data is not valid JSON: {error}.") from None
        return "data: " + data  # JSON text never holds a raw line break
    if "\n" not in data and "\r" not in data:
        return "data: " + data
    return "\n".join("data: " + line for line in _LINE_BREAK.split(data))


def _check_single_line(field: str, value: str) -> None:
    if not isinstance(value, str):
        raise TypeError(f"Event {field} must be str, not {type(value).__name__}.")
    if "\n" in value or "\r" in value:
        raise ValueError(f"Event {field} must not contain CR or LF: it would end the field early.")
