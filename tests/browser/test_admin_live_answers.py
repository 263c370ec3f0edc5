"""The admin's page of live answers in real Chromium, against uvicorn serving the test project:
a running answer is listed, its Stop ends it on the server (``on_finish()`` sees
``cancelled``), and staff without the permission get a 403."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from django.contrib.auth.models import Permission, User
from playwright.sync_api import BrowserContext, Page, expect

from tests.support.probes import probe
from tests.testapp.chat import Prompt, results

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PAGE = "/admin/django_streaming/liveanswer/"
INPUT = ".ds-chat__input"
ASSISTANT = ".ds-chat__message--assistant"


@pytest.fixture(scope="module", autouse=True)
def database(django_db_setup: None) -> Iterator[None]:
    """The test database, made before the browser starts: Playwright's sync API keeps an event
    loop in this thread, where Django refuses the ORM unless told it is safe (it is: nothing
    runs on that loop while the test's own queries do)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        yield


def log_in(page: Page, *permissions: str) -> User:
    name = f"staff-{uuid.uuid4().hex[:8]}"
    user: User = User.objects.create_user(name, password="pw", is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label="django_streaming", codename__in=permissions
        )
    )
    page.goto("/admin/login/")
    page.fill("#id_username", name)
    page.fill("#id_password", "pw")
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#site-name")).to_be_visible()
    return user


def test_a_running_answer_is_listed_and_stop_ends_it(context: BrowserContext, page: Page) -> None:
    user = log_in(page, "view_live_answers", "stop_live_answers")
    chat_id = f"chat-{uuid.uuid4().hex}"
    chat = context.new_page()
    chat.goto(f"/chat-page/?resumable=1&chat={chat_id}")
    chat.wait_for_function("document.querySelector('[data-ds-chat]').dsChat !== undefined")
    chat.fill(INPUT, Prompt.WAIT)
    with chat.expect_response(lambda response: response.request.method == "POST") as answer:
        chat.press(INPUT, "Enter")
    stream_id = answer.value.headers["x-stream-id"]
    expect(chat.locator(ASSISTANT)).to_contain_text("partial answe")

    page.get_by_role("link", name="Live answers").click()  # from the admin's index
    expect(page).to_have_title("Live answers | Django site admin")
    row = page.locator(f'tr[data-stream="{stream_id}"]')
    expect(row).to_contain_text(f"{user.get_username()} (user:{user.pk})")
    expect(row).to_contain_text("(this one)")  # the worker: this server
    assert not probe(chat_id).finished.is_set()

    row.get_by_role("button", name="Stop").click()
    expect(page.locator(".messagelist")).to_contain_text(f"Asked answer {stream_id} to stop.")
    assert probe(chat_id).finished.wait(5)
    assert results[chat_id][-1].status == "cancelled"
    page.reload()
    expect(page.locator(f'tr[data-stream="{stream_id}"]')).to_have_count(0)
    chat.close()


def test_staff_without_the_permission_get_a_403(page: Page) -> None:
    log_in(page)
    expect(page.get_by_role("link", name="Live answers")).to_have_count(0)
    response = page.goto(PAGE)
    assert response is not None
    assert response.status == 403
