"""A server-sent events parser that follows the WHATWG HTML standard step by step.

It is written from the spec, not from our encoder, so that tests can check the encoder's output
means what it should to a browser.
https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_LINE = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True)
class ParsedEvent:
    type: str
    data: str
    last_event_id: str


@dataclass
class ParseResult:
    events: list[ParsedEvent] = field(default_factory=list)
    retry: int | None = None
    comments: list[str] = field(default_factory=list)


def parse(stream: bytes) -> ParseResult:
    text = stream.decode("utf-8", errors="replace")
    if text.startswith("\ufeff"):
        text = text[1:]
    result = ParseResult()
    data = ""
    event_type = ""
    last_event_id = ""
    id_buffer = ""
    lines = _LINE.split(text)
    # The last piece has no line terminator yet: a real parser would wait for more bytes.
    for line in lines[:-1]:
        if line == "":
            last_event_id = id_buffer
            if data == "":
                event_type = ""
                continue
            if data.endswith("\n"):
                data = data[:-1]
            result.events.append(ParsedEvent(event_type or "message", data, last_event_id))
            data = ""
            event_type = ""
            continue
        if line.startswith(":"):
            result.comments.append(line[1:])
            continue
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "event":
            event_type = value
        elif name == "data":
            data += value + "\n"
        elif name == "id":
            if "\0" not in value:
                id_buffer = value
        elif name == "retry" and value and all("0" <= char <= "9" for char in value):
            result.retry = int(value)
    return result
