"""Hostile input over HTTP against a real uvicorn: whatever arrives, the answer is a 4xx with a
JSON error (or, for a valid request, a stream), never a 500 and never a hang."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.servers import RunningServer, uvicorn_server

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(), children),
    max_leaves=25,
)
chat_shaped = st.fixed_dictionaries(
    {},
    optional={
        "id": json_values,
        "trigger": st.sampled_from(["submit-message", "regenerate-message"]) | json_values,
        "messages": st.lists(
            st.fixed_dictionaries(
                {},
                optional={
                    "role": st.sampled_from(["user", "assistant", "system", "tool"]) | json_values,
                    "content": st.text() | json_values,
                    "parts": st.lists(
                        st.fixed_dictionaries(
                            {"type": st.just("text"), "text": st.text() | json_values}
                        )
                    )
                    | json_values,
                },
            ),
            max_size=4,
        )
        | json_values,
    },
)


def as_body(value: Any) -> bytes:
    return value if isinstance(value, bytes) else json.dumps(value).encode()


bodies = (
    st.binary(max_size=300)
    | json_values.map(as_body)
    | chat_shaped.map(as_body)
    | st.integers(1, 3000).map(lambda depth: b"[" * depth + b"]" * depth)
    | st.integers(1, 3000).map(lambda depth: b'{"a":' * depth + b"1" + b"}" * depth)
    | st.just(b'{"messages": [{"role": "user", "content": "' + b"x" * 2_000_000 + b'"}]}')
    | st.just(b'{"messages": [{"role": "user", "content": "\xff\xfe"}]}')
)


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    with uvicorn_server() as running:
        yield running


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=bodies)
def test_chat_endpoint_never_fails_on_bad_input(server: RunningServer, body: bytes) -> None:
    response = httpx.post(
        f"{server.url}/chat-exempt/",
        content=body,
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    if response.status_code == 200:
        assert response.text.rstrip().endswith("data: [DONE]")
        return
    assert 400 <= response.status_code < 500, response.text[:300]
    error = response.json()["error"]
    assert isinstance(error["code"], str)
    assert isinstance(error["message"], str)


@settings(max_examples=60, deadline=None)
@given(value=st.text(max_size=400))
def test_any_last_event_id_is_a_stream_or_a_400(server: RunningServer, value: str) -> None:
    response = httpx.get(f"{server.url}/last-event-id/", params={"lastEventId": value}, timeout=10)
    assert response.status_code in (200, 400)
    if response.status_code == 400:
        assert response.json()["error"]["code"] == "invalid_last_event_id"
