from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from django_streaming.chat.messages import ChatMessage, ChatRequestError, parse_chat_request


def parse(payload: Any) -> Any:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return parse_chat_request(body, max_messages=5, max_message_chars=20)


def test_ai_sdk_body() -> None:
    chat = parse(
        {
            "id": "chat-1",
            "trigger": "regenerate-message",
            "messageId": "m2",
            "messages": [
                {
                    "id": "m1",
                    "role": "user",
                    "parts": [
                        {"type": "text", "text": "Hi "},
                        {
                            "type": "file",
                            "url": "https://example.com/x.png",
                            "mediaType": "image/png",
                        },
                        {"type": "text", "text": "there"},
                    ],
                },
                {"id": "m2", "role": "assistant", "parts": [], "metadata": {"x": 1}},
            ],
        }
    )
    assert chat.chat_id == "chat-1"
    assert chat.trigger == "regenerate-message"
    assert chat.message_id == "m2"
    assert chat.messages == [
        ChatMessage("user", "Hi there", "m1"),
        ChatMessage("assistant", "", "m2"),
    ]
    assert chat.messages[0].parts[1]["type"] == "file"  # kept in the parts
    [attachment] = chat.messages[0].files
    assert (attachment.media_type, attachment.url, attachment.data) == (
        "image/png",
        "https://example.com/x.png",
        None,  # not a data: URL
    )
    assert chat.messages[1].metadata == {"x": 1}


def test_simple_body() -> None:
    chat = parse({"messages": [{"role": "system", "content": "Be brief."}]})
    assert chat.messages == [ChatMessage("system", "Be brief.")]
    assert chat.trigger == "submit-message"


@pytest.mark.parametrize(
    ("payload", "status", "code", "message"),
    [
        (b"{not json", 400, "invalid_json", "The body is not valid JSON."),
        (b"\xff\xfe", 400, "invalid_json", "The body is not valid UTF-8."),
        (b"[" * 100_000, 400, "invalid_json", "The body is not valid JSON."),
        ([], 400, "invalid_request", "The body must be a JSON object."),
        ({}, 400, "invalid_request", '"messages" must be a list of messages.'),
        ({"messages": []}, 400, "invalid_request", '"messages" is empty'),
        ({"messages": [1]}, 400, "invalid_request", "messages[0] must be an object."),
        (
            {"messages": [{"role": "robot", "content": "x"}]},
            400,
            "invalid_request",
            "messages[0].role must be one of system, user, assistant, not 'robot'.",
        ),
        ({"messages": [{"role": "user"}]}, 400, "invalid_request", 'messages[0] needs "parts"'),
        (
            {"messages": [{"role": "user", "parts": "x"}]},
            400,
            "invalid_request",
            "messages[0].parts must be a list of objects.",
        ),
        (
            {"messages": [{"role": "user", "parts": [{"type": "text", "text": 1}]}]},
            400,
            "invalid_request",
            "messages[0].parts[0].text must be a string.",
        ),
        (
            {"messages": [{"role": "user", "content": "x", "id": 5}]},
            400,
            "invalid_request",
            "messages[0].id must be a string.",
        ),
        (
            {"messages": [{"role": "user", "content": "x"}], "id": 5},
            400,
            "invalid_request",
            '"id" must be a string.',
        ),
        (
            {"messages": [{"role": "user", "content": "x"}], "trigger": "go"},
            400,
            "invalid_request",
            '"trigger" must be one of',
        ),
        (
            {"messages": [{"role": "user", "content": "x" * 21}]},
            413,
            "message_too_long",
            "messages[0] has 21 characters; at most 20 are accepted.",
        ),
        (
            {"messages": [{"role": "user", "content": "x"}] * 6},
            413,
            "too_many_messages",
            '"messages" has 6 messages; at most 5 are accepted.',
        ),
    ],
)
def test_bad_requests(payload: Any, status: int, code: str, message: str) -> None:
    with pytest.raises(ChatRequestError) as raised:
        parse(payload)
    assert (raised.value.status, raised.value.code) == (status, code)
    assert raised.value.message.startswith(message)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=30,
)
message_like = st.fixed_dictionaries(
    {},
    optional={
        "role": st.sampled_from(["user", "assistant", "system", "robot", 1]),
        "content": json_values,
        "parts": st.lists(
            st.fixed_dictionaries(
                {}, optional={"type": st.sampled_from(["text", "file", 3]), "text": json_values}
            )
        )
        | json_values,
        "id": json_values,
    },
)


@given(
    st.fixed_dictionaries(
        {},
        optional={
            "messages": st.lists(message_like | json_values, max_size=7) | json_values,
            "id": json_values,
            "trigger": st.sampled_from(["submit-message", "regenerate-message", "x"]) | json_values,
            "messageId": json_values,
        },
    )
    | json_values
)
def test_any_json_is_parsed_or_refused_with_a_clear_error(payload: Any) -> None:
    error = refusal(payload)
    assert error is None or (400 <= error.status < 500 and error.message)


@given(st.binary(max_size=200))
def test_any_bytes_are_parsed_or_refused_with_a_clear_error(body: bytes) -> None:
    error = refusal(body)
    assert error is None or error.status == 400


def refusal(payload: Any) -> ChatRequestError | None:
    """The parser's refusal of ``payload``; any other exception fails the test."""
    try:
        parse(payload)
    except ChatRequestError as error:
        return error
    return None


def user_with(*parts: Any, **fields: Any) -> dict[str, Any]:
    return {"messages": [{"id": "u1", "role": "user", "parts": list(parts), **fields}]}


@pytest.mark.parametrize(
    ("body", "complaint"),
    [
        # Valid JSON, but no text: Python keeps the lone surrogate, encoding it later fails.
        (b'{"messages": [{"role": "user", "content": "\\ud800"}]}', "lone surrogate"),
        (b'{"messages": [], "x": {"\\udfff": 1}}', "lone surrogate"),
        (b'{"messages": [{"role": "user", "content": "a"}], "n": NaN}', "NaN"),
        (b'{"messages": [{"role": "user", "content": "a"}], "n": -Infinity}', "-Infinity"),
        (json.dumps(user_with({"type": 1})).encode(), 'needs a "type"'),
        (json.dumps(user_with({"text": "no type"})).encode(), 'needs a "type"'),
        (
            json.dumps(user_with({"type": "file", "url": "data:,x"})).encode(),
            '"url" and "mediaType"',
        ),
        (json.dumps(user_with({"type": "text", "text": "a"}, metadata=[1])).encode(), "metadata"),
        (
            b'{"messages": [{"role": "user", "parts": [{"type": "text", "text": "a", "x": '
            + b"[" * 900
            + b"]" * 900
            + b"}]}]}",
            "nests deeper than 64",
        ),
    ],
)
def test_issue_20_bodies_that_broke_the_stream_are_400(body: bytes, complaint: str) -> None:
    with pytest.raises(ChatRequestError) as refused:
        parse(body)
    assert refused.value.status == 400
    assert complaint in refused.value.message


def test_a_pair_of_surrogates_is_text() -> None:
    chat = parse(b'{"messages": [{"role": "user", "content": "\\ud83d\\ude00"}]}')
    assert chat.messages[0].text == "\N{GRINNING FACE}"


@pytest.mark.parametrize(
    "url",
    [
        "data:," + "%41" * 3_000,  # decodes to 3,000 bytes at least
        "data:;base64," + "QUFB" * 1_000,  # 3,000 bytes
    ],
)
def test_issue_20_a_file_too_large_by_its_encoded_length_is_refused_before_decoding(
    url: str,
) -> None:
    attachment = {"type": "file", "url": url, "mediaType": "text/plain"}
    with pytest.raises(ChatRequestError) as refused:
        parse_chat_request(
            json.dumps(user_with(attachment)).encode(),
            max_messages=5,
            max_message_chars=None,
            max_file_bytes=2_000,
        )
    assert (refused.value.status, refused.value.code) == (413, "file_too_large")
    assert "at least" in refused.value.message  # told before decoding


def test_a_file_whose_decoded_size_is_over_the_limit_is_refused_after_decoding() -> None:
    attachment = {"type": "file", "url": "data:," + "A" * 2_001, "mediaType": "text/plain"}
    with pytest.raises(ChatRequestError) as refused:
        parse_chat_request(
            json.dumps(user_with(attachment)).encode(),
            max_messages=5,
            max_message_chars=None,
            max_file_bytes=2_000,
        )
    assert refused.value.message.endswith("a file of 2001 bytes; at most 2000 are accepted.")


def test_only_the_last_message() -> None:
    chat = parse(
        {
            "id": "c1",
            "message": {"id": "u2", "role": "user", "parts": [{"type": "text", "text": "hi"}]},
            "trigger": "submit-message",
            "messageId": "u2",
        }
    )
    assert chat.only_last
    assert [message.id for message in chat.messages] == ["u2"]
    assert not parse({"messages": [{"role": "user", "content": "x"}]}).only_last


@given(st.text(alphabet="%%%%aZ09Ffg\N{SNOWMAN}", max_size=80), st.integers(1, 9))
@example("%%00", 1)  # an escape after a lone %: a slice once cut it in two (hypothesis found it)
def test_percent_decoding_is_urllibs_whatever_the_slices(text: str, slice_size: int) -> None:
    from urllib.parse import unquote_to_bytes

    from django_streaming.chat import messages

    original = messages._SLICE
    messages._SLICE = slice_size  # escapes cut by a slice must come out whole
    try:
        assert messages._percent_decoded(text.encode()) == unquote_to_bytes(text)
    finally:
        messages._SLICE = original
