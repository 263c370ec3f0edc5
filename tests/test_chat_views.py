from __future__ import annotations

import json
import logging
from typing import Any

import httpx
import pytest
from django.test import AsyncClient, Client, override_settings

from django_streaming import ChatStreamView, DataPart
from tests.support.chat import chat_body, response_parts
from tests.support.probes import probe
from tests.support.reader import StreamReader
from tests.support.servers import uvicorn_server, wait_until
from tests.testapp.chat import Prompt, results


async def post(payload: Any, **kwargs: Any) -> Any:
    data = payload if isinstance(payload, (bytes, str)) else json.dumps(payload)
    return await AsyncClient().post(
        "/chat-exempt/", data=data, content_type="application/json", **kwargs
    )


async def test_a_plain_answer_is_exactly_the_protocol(token: str) -> None:
    response = await post(chat_body(token, "hello"))
    assert response["x-vercel-ai-ui-message-stream"] == "v1"
    assert response["Content-Type"] == "text/event-stream; charset=utf-8"
    parts = await response_parts(response)
    message_id = parts[0]["messageId"]
    assert parts == [
        {"type": "start", "messageId": message_id},
        {"type": "start-step"},
        {"type": "text-start", "id": "text-1"},
        {"type": "text-delta", "id": "text-1", "delta": "You said: "},
        {"type": "text-delta", "id": "text-1", "delta": "hello"},
        {"type": "text-end", "id": "text-1"},
        {"type": "finish-step"},
        {"type": "finish", "finishReason": "stop"},
        "[DONE]",
    ]
    [result] = results[token]
    assert result.status == "completed"
    assert (result.text, result.message_id) == ("You said: hello", message_id)
    assert [message.text for message in result.messages] == ["hello"]


async def test_typed_parts(token: str) -> None:
    parts = await response_parts(await post(chat_body(token, Prompt.PARTS)))
    assert parts[2:-3] == [
        {"type": "reasoning-start", "id": "reasoning-1"},
        {"type": "reasoning-delta", "id": "reasoning-1", "delta": "thinking"},
        {"type": "reasoning-end", "id": "reasoning-1"},
        {"type": "text-start", "id": "text-2"},
        {"type": "text-delta", "id": "text-2", "delta": "answer"},
        {"type": "data-weather", "data": {"temperature": 21}, "id": "w1"},
        {
            "type": "source-url",
            "sourceId": parts[8]["sourceId"],
            "url": "https://example.com/source",
            "title": "Source",
        },
        {"type": "text-end", "id": "text-2"},
    ]


async def test_simple_body_format(token: str) -> None:
    payload = {"id": token, "messages": [{"role": "user", "content": "hi"}]}
    parts = await response_parts(await post(payload))
    assert {"type": "text-delta", "id": "text-1", "delta": "hi"} in parts


async def test_error_part_is_generic_and_logged(
    token: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, "django_streaming"):
        parts = await response_parts(await post(chat_body(token, Prompt.FAIL)))
    error = {"type": "error", "errorText": "The answer failed on the server."}
    assert parts[-2:] == [error, "[DONE]"]
    assert "secret detail" not in json.dumps(parts)
    assert "secret detail" in str(caplog.records[0].exc_info[1])  # type: ignore[index]
    [result] = results[token]
    assert (result.status, result.text) == ("error", "partial ")
    assert isinstance(result.error, RuntimeError)


@override_settings(DEBUG=True)
async def test_error_part_names_the_exception_in_debug(token: str) -> None:
    parts = await response_parts(await post(chat_body(token, Prompt.FAIL)))
    assert parts[-2] == {"type": "error", "errorText": "RuntimeError: secret detail"}


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        (b"{oops", 400, "invalid_json"),
        ({"messages": []}, 400, "invalid_request"),
        ({"messages": [{"role": "robot", "content": "x"}]}, 400, "invalid_request"),
        ({"messages": "hi"}, 400, "invalid_request"),
    ],
)
async def test_bad_requests_are_json_4xx(payload: Any, status: int, code: str) -> None:
    response = await post(payload)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code


@override_settings(DJANGO_STREAMING={"MAX_BODY_BYTES": 100})
async def test_body_over_the_limit_is_a_413() -> None:
    response = await post(chat_body("c", "x" * 200))
    assert response.status_code == 413
    assert response.json() == {
        "error": {"code": "body_too_large", "message": "The body is larger than 100 bytes."}
    }


@override_settings(DJANGO_STREAMING={"MAX_BODY_BYTES": 100})
def test_chunked_body_over_the_limit_is_a_413() -> None:
    # No Content-Length: the limit holds while reading.
    with uvicorn_server() as server:
        content = (chunk for chunk in [json.dumps(chat_body("c", "x" * 200)).encode()])
        response = httpx.post(f"{server.url}/chat-exempt/", content=content)
    assert response.status_code == 413


async def test_get_is_not_allowed() -> None:
    response = await AsyncClient().get("/chat-exempt/")
    assert response.status_code == 405


def test_csrf_is_enforced() -> None:
    client = Client(enforce_csrf_checks=True)
    response = client.post(
        "/chat/", data=json.dumps(chat_body("c", "hi")), content_type="application/json"
    )
    assert response.status_code == 403
    page = client.get("/chat-page/")
    token = page.cookies["csrftoken"].value
    allowed = client.post(
        "/chat/",
        data=json.dumps(chat_body("c", "hi")),
        content_type="application/json",
        headers={"X-CSRFToken": token},
    )
    assert allowed.status_code == 200
    b"".join(allowed)


def test_disconnect_cancels_generate_and_on_finish_sees_it(token: str) -> None:
    with uvicorn_server() as server:
        with httpx.stream(
            "POST", f"{server.url}/chat-exempt/", json=chat_body(token, Prompt.WAIT)
        ) as r:
            StreamReader(r).until(lambda result: '"partial answer"' in str(result.events))
        assert probe(token).finished.wait(5)
        wait_until(lambda: token in results)
    [result] = results[token]
    assert (result.status, result.text) == ("cancelled", "partial answer")


@override_settings(DEBUG=True)
async def test_odd_parts(token: str) -> None:
    parts = await response_parts(await post(chat_body(token, Prompt.ODD_PARTS)))
    source, data, error = parts[2:5]
    assert source == {
        "type": "source-url",
        "sourceId": source["sourceId"],
        "url": "https://example.com/untitled",
    }
    assert data == {"type": "data-progress", "data": {"step": 1}, "transient": True}
    assert error["type"] == "error"
    assert error["errorText"].startswith("TypeError: generate() must yield str or a part of")
    assert error["errorText"].endswith("not int.")


async def test_a_failing_on_finish_is_logged_and_the_stream_still_ends(
    token: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, "django_streaming"):
        parts = await response_parts(await post(chat_body(token, Prompt.ON_FINISH_FAILS)))
    assert parts[-2:] == [{"type": "finish", "finishReason": "stop"}, "[DONE]"]
    assert "Error in on_finish()" in caplog.text


async def test_a_garbled_content_length_is_not_trusted(token: str) -> None:
    response = await post(chat_body(token, "hi"), CONTENT_LENGTH="lots")
    # Not a 500: the length is ignored and the body read up to the limit.
    assert response.status_code == 200
    assert {"type": "text-delta", "id": "text-1", "delta": "hi"} in await response_parts(response)


def test_data_part_needs_a_name() -> None:
    with pytest.raises(ValueError, match="DataPart name must be a non-empty str"):
        DataPart("", {})


async def test_generate_must_be_defined() -> None:
    class Bare(ChatStreamView):
        pass

    view = Bare()
    with pytest.raises(NotImplementedError, match="Bare must define generate"):
        await anext(aiter(view.generate([])))


async def test_chat_error_text_reaches_the_user_without_debug(token: str) -> None:
    parts = await response_parts(await post(chat_body(token, Prompt.BUSY)))
    assert parts[-2] == {"type": "error", "errorText": "The model is busy; try again in a minute."}


async def test_a_chat_whose_answer_ended_has_none_to_find() -> None:
    # The store may still name an answer that has ended (its key cleared late, or never, by a
    # worker that died): resume and stop then find nothing rather than a finished stream.
    from django_streaming.backends.memory import MemoryStore

    store = MemoryStore()
    view = ChatStreamView()
    await store.create("ended", owner="me", key=view.chat_key("c1", "me"))
    assert await view.find_stream(store, "me", {"chat_id": "c1"}) == "ended"
    await store.finish("ended", "completed")  # the key not cleared
    assert await store.active(view.chat_key("c1", "me")) == "ended"
    assert await view.find_stream(store, "me", {"chat_id": "c1"}) is None
