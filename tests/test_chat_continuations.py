"""``continuations.py`` alone: what a continuation may answer of the server's saved message."""

from __future__ import annotations

from typing import Any

import pytest

from django_streaming.chat.continuations import apply_answers, pending_calls
from django_streaming.chat.messages import ChatRequestError, parse_message

SERVERS: dict[str, Any] = {
    "id": "m1",
    "role": "assistant",
    "parts": [
        {"type": "step-start"},
        {"type": "tool-search", "toolCallId": "done", "state": "output-available",
         "input": {}, "output": 1},
        {"type": "tool-rename", "toolCallId": "ask", "state": "approval-requested",
         "input": {"title": "T"}, "approval": {"id": "ap"}},
        {"type": "dynamic-tool", "toolName": "clock", "toolCallId": "browser",
         "state": "input-available", "input": {}},
    ],
}  # fmt: skip


def client(*changes: tuple[int, dict[str, Any]], message_id: str = "m1") -> Any:
    """The server's message as a client sends it back, with ``changes`` to some of its parts."""
    parts = [dict(part) for part in SERVERS["parts"]]
    for index, change in changes:
        parts[index].update(change)
    return parse_message({"id": message_id, "role": "assistant", "parts": parts})


def refused(answer: Any, answered: frozenset[str] = frozenset()) -> ChatRequestError:
    with pytest.raises(ChatRequestError) as error:
        apply_answers(SERVERS, answer, waiting=frozenset({"ask", "browser"}), answered=answered)
    return error.value


def test_the_calls_that_wait_are_an_approval_and_a_browser_tool() -> None:
    assert pending_calls(SERVERS) == ["ask", "browser"]


def test_an_answer_to_each_waiting_call_goes_into_the_servers_message() -> None:
    answer = client(
        (2, {"state": "approval-responded", "input": {"title": "FORGED"},
             "approval": {"id": "ap", "approved": False, "reason": "no"}}),
        (3, {"state": "output-error", "errorText": "no clock"}),
    )  # fmt: skip
    merged, answered = apply_answers(
        SERVERS, answer, waiting=frozenset({"ask", "browser"}), answered=frozenset()
    )
    assert answered == ["ask", "browser"]
    ask, browser = merged["parts"][2:]
    assert ask["input"] == {"title": "T"}  # the server's, not the client's
    assert ask["approval"] == {"id": "ap", "approved": False, "reason": "no"}
    assert (browser["state"], browser["errorText"]) == ("output-error", "no clock")


def test_a_continuation_of_another_message_is_refused() -> None:
    error = refused(client((2, {"state": "approval-responded"}), message_id="m0"))
    assert (error.status, error.code) == (400, "invalid_continuation")
    assert "'m0', which is not the chat's last answer" in error.message


def test_a_call_that_does_not_wait_cannot_be_answered() -> None:
    error = refused(client((1, {"state": "output-error", "errorText": "x"})))
    assert "'done' does not wait for an answer" in error.message


def test_a_continuation_that_answers_nothing_is_refused() -> None:
    error = refused(client())
    assert error.message.startswith("This continuation answers none of the tool calls")


def test_a_browser_tools_output_sent_again_is_already_answered() -> None:
    # After its continuation, the server's message holds the output: the same body again
    # reads as the server's copy, and only the answered record tells the replay.
    sent_again = client((1, {}))
    with pytest.raises(ChatRequestError) as error:
        apply_answers(SERVERS, sent_again, waiting=frozenset(), answered=frozenset({"done"}))
    assert (error.value.status, error.value.code) == (409, "already_answered")
