from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from django_streaming.sse import Event, encode
from tests.support.sse_parser import ParsedEvent, parse

single_line = st.text().filter(lambda text: "\r" not in text and "\n" not in text)


def test_text_data() -> None:
    assert Event(data="hello").encode() == b"data: hello\n\n"


@pytest.mark.parametrize("terminator", ["\n", "\r", "\r\n"])
def test_every_line_terminator_starts_a_data_line(terminator: str) -> None:
    encoded = Event(data=f"one{terminator}two").encode()
    assert encoded == b"data: one\ndata: two\n\n"


def test_all_fields_in_order() -> None:
    event = Event(data="x", event="update", id="42", retry=1000, comment="note")
    assert event.encode() == b": note\nid: 42\nevent: update\nretry: 1000\ndata: x\n\n"


def test_multiline_comment_prefixes_every_line() -> None:
    assert Event(comment="a\nb\r\nc").encode() == b": a\n: b\n: c\n\n"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"b": [1, 2], "text": "ü 😀"}, 'data: {"b":[1,2],"text":"ü 😀"}\n\n'),
        ([1, "a\nb"], 'data: [1,"a\\nb"]\n\n'),
        (3, "data: 3\n\n"),
        (2.5, "data: 2.5\n\n"),
        (True, "data: true\n\n"),
    ],
)
def test_json_data(data: Any, expected: str) -> None:
    assert Event(data=data).encode() == expected.encode()
    assert encode(data) == expected.encode()


def test_utf8() -> None:
    assert Event(data="漢字 😀").encode() == "data: 漢字 😀\n\n".encode()


def test_bytes_pass_through() -> None:
    assert encode(b"data: raw\n\n") == b"data: raw\n\n"


@pytest.mark.parametrize("value", [object(), (1, 2), {1, 2}, b"x"])
def test_data_of_another_type_is_a_type_error_naming_it(value: Any) -> None:
    with pytest.raises(TypeError, match=type(value).__name__):
        Event(data=value)


@pytest.mark.parametrize("value", [None, object(), (1, 2), {1, 2}])
def test_stream_item_of_another_type_is_a_type_error_naming_it(value: Any) -> None:
    with pytest.raises(TypeError, match=f"not {type(value).__name__}"):
        encode(value)


def test_nan_is_not_json() -> None:
    with pytest.raises(ValueError, match="not valid JSON"):
        Event(data=float("nan")).encode()


@pytest.mark.parametrize("field", ["event", "id"])
@pytest.mark.parametrize("bad", ["a\nb", "a\rb"])
def test_line_break_in_event_or_id(field: str, bad: str) -> None:
    with pytest.raises(ValueError, match=f"Event {field} must not contain CR or LF"):
        Event(**{field: bad})  # type: ignore[arg-type]


def test_nul_in_id() -> None:
    with pytest.raises(ValueError, match="Event id must not contain NUL"):
        Event(id="a\0b")


@pytest.mark.parametrize("field", ["event", "id", "comment"])
def test_non_str_fields(field: str) -> None:
    with pytest.raises(TypeError, match=f"Event {field} must be str, not int"):
        Event(**{field: 5})  # type: ignore[arg-type]


@pytest.mark.parametrize("retry", [-1, 1.5, "10", True])
def test_retry_must_be_a_non_negative_int(retry: Any) -> None:
    with pytest.raises(ValueError, match="Event retry must be a non-negative int"):
        Event(retry=retry)


def test_public_api() -> None:
    import django_streaming

    assert django_streaming.Event is Event
    with pytest.raises(AttributeError, match="no attribute 'Stream'"):
        django_streaming.Stream  # noqa: B018


def test_module_imports_no_django() -> None:
    code = (
        "import sys, django_streaming.sse\n"
        "assert not [m for m in sys.modules if m.split('.')[0] == 'django'], sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@given(
    data=st.text(),
    event=st.none() | single_line,
    event_id=st.none() | single_line.filter(lambda text: "\0" not in text),
    retry=st.none() | st.integers(min_value=0, max_value=10**12),
    comment=st.none() | st.text(),
)
def test_round_trip_through_a_whatwg_parser(
    data: str, event: str | None, event_id: str | None, retry: int | None, comment: str | None
) -> None:
    encoded = Event(data=data, event=event, id=event_id, retry=retry, comment=comment).encode()
    result = parse(encoded)
    expected_data = data.replace("\r\n", "\n").replace("\r", "\n")
    assert result.events == [ParsedEvent(event or "message", expected_data, event_id or "")]
    assert result.retry == retry


@given(st.lists(st.text(), max_size=5))
def test_consecutive_events_stay_apart(texts: list[str]) -> None:
    result = parse(b"".join(encode(text) for text in texts))
    assert [event.data for event in result.events] == [
        text.replace("\r\n", "\n").replace("\r", "\n") for text in texts
    ]


@given(
    data=st.none() | st.text() | st.integers() | st.booleans() | st.floats() | st.lists(st.text()),
    event=st.none() | st.text(),
    event_id=st.none() | st.text(),
    retry=st.none() | st.integers() | st.floats() | st.text(),
    comment=st.none() | st.text(),
)
def test_any_field_values_encode_to_what_they_say_or_are_refused(
    data: Any, event: Any, event_id: Any, retry: Any, comment: Any
) -> None:
    try:
        encoded = Event(data=data, event=event, id=event_id, retry=retry, comment=comment).encode()
    except (ValueError, TypeError):
        return  # refused with a message; checked field by field above
    result = parse(encoded)
    assert result.retry == retry
    if data is None:
        assert result.events == []
        return
    [parsed] = result.events
    expected = (
        data
        if isinstance(data, str)
        else json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    )
    assert parsed.data == expected.replace("\r\n", "\n").replace("\r", "\n")
    assert parsed.type == (event or "message")
    assert parsed.last_event_id == (event_id or "")
