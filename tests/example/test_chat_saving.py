"""The example chat saves a question before its answer, whatever the answer's pace: real
uvicorn, the simulated model, PostgreSQL (whose row locks hold the question's saving still)."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.support.postgres import fresh_database, rows
from tests.support.servers import RunningServer, example_project_server, wait_until


@pytest.fixture
def database() -> Iterator[str]:
    with fresh_database(migrate=False) as url:
        yield url


@pytest.fixture
def server(database: str, tmp_path: Path) -> Iterator[RunningServer]:
    # A fast model: its answer is done long before a held question is saved.
    with example_project_server(
        tmp_path / "unused.sqlite3", tokens_per_second=2000, DATABASE_URL=database
    ) as server:
        yield server


class Visitor:
    """One visitor's session (cookies, CSRF token) on one conversation."""

    def __init__(self, server: RunningServer) -> None:
        self.client = httpx.Client(base_url=server.url, timeout=20)
        self.client.get("/")
        self.token = self.client.cookies["csrftoken"]
        created = self.client.post(
            "/", data={"csrfmiddlewaretoken": self.token}, headers={"Referer": server.url + "/"}
        )
        match = re.search(r"/([0-9a-f-]{36})/$", created.headers["location"])
        assert match is not None, created.headers
        self.chat = match.group(1)

    def ask(self, message_id: str, text: str, *, edit: bool = False) -> httpx.Response:
        message = {"id": message_id, "role": "user", "parts": [{"type": "text", "text": text}]}
        body = {"id": self.chat, "messages": [message], "trigger": "submit-message"}
        if edit:
            body["messageId"] = message_id
        # A client of its own: the test posts from a thread while it replays on self.client.
        with httpx.Client(base_url=self.client.base_url, cookies=self.client.cookies) as client:
            return client.post(
                f"/{self.chat}/chat/", json=body, headers={"X-CSRFToken": self.token}, timeout=20
            )

    def replay(self, parts: list[str], timeout: float) -> None:
        """The answer in progress from its start, each part's type into ``parts``."""
        url = f"/{self.chat}/chat/{self.chat}/stream"
        with self.client.stream("GET", url, timeout=timeout) as replay:
            for line in replay.iter_lines():
                if line.startswith("data: "):
                    data = line.removeprefix("data: ")
                    parts.append(data if data == "[DONE]" else json.loads(data)["type"])

    def idle(self) -> bool:
        return self.client.get(f"/{self.chat}/chat/{self.chat}/stream").status_code == 204


def saved(url: str) -> list[tuple[object, str]]:
    return [
        (role, str(text)[:20])
        for role, text in rows(url, "SELECT role, text FROM chat_message ORDER BY created, id")
    ]


@pytest.fixture
def visitor(server: RunningServer) -> Iterator[Visitor]:
    visitor = Visitor(server)
    try:
        yield visitor
    finally:
        visitor.client.close()


def test_an_answer_done_before_its_question_is_saved_is_saved_after_it(
    visitor: Visitor, database: str
) -> None:
    assert visitor.ask("q1", "First question").status_code == 200
    wait_until(visitor.idle, what="the first answer saved")
    assert [role for role, _ in saved(database)] == ["user", "assistant"]

    # The edit clears the old question and what followed it: held here, on the old question's
    # row, while the new answer would be generated.
    with psycopg.connect(database) as holder:
        holder.execute("SELECT id FROM chat_message WHERE ui_id = 'q1' FOR UPDATE")
        posted: list[httpx.Response] = []
        edit = threading.Thread(
            target=lambda: posted.append(visitor.ask("q1", "First, edited", edit=True))
        )
        edit.start()
        wait_until(
            lambda: waiting_deletes(database) == 1, what="the edit's DELETE waiting for the row"
        )
        # The new answer, replayed: accepted, but not started while its question is not
        # saved (on_start()), so however fast the model it has nothing to send yet.
        parts: list[str] = []
        with pytest.raises(httpx.ReadTimeout):
            visitor.replay(parts, timeout=2)
        assert parts == []
        holder.rollback()
    edit.join(timeout=20)
    assert [response.status_code for response in posted] == [200]
    wait_until(visitor.idle, what="the edited answer saved")
    assert saved(database) == [("user", "First, edited"), ("assistant", "## About “First, edi")]


def waiting_deletes(url: str) -> int:
    [(count,)] = rows(
        url,
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        " AND wait_event_type = 'Lock' AND query LIKE 'DELETE%'",
    )
    return int(str(count))
