from __future__ import annotations

import json
import re
from types import SimpleNamespace

import pytest
from django.template import Context, Template, TemplateSyntaxError
from django.test import RequestFactory, override_settings
from django.utils import translation

from django_streaming.widget_strings import WIDGET_STRINGS


def render(source: str, **context: object) -> str:
    return Template("{% load django_streaming %}" + source).render(Context(context))


def test_url_name_and_escaped_history() -> None:
    html = render(
        '{% chat_widget "test-chat" title="Help <desk>" messages=history %}',
        history=[
            {"role": "user", "content": "<script>alert(1)</script>"},
            SimpleNamespace(role="assistant", text="**hi**", id="m1"),
        ],
    )
    assert 'data-endpoint="/chat/"' in html
    assert "Help &lt;desk&gt;" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert 'data-role="assistant" data-id="m1"' in html
    assert "<script>alert" not in html
    assert 'data-markdown="true"' in html
    assert 'role="log" aria-live="polite" aria-busy="false"' in html


def test_a_path_and_options() -> None:
    html = render('{% chat_widget "/api/chat/" markdown=False chat_id="c1" placeholder="Ask" %}')
    assert 'data-endpoint="/api/chat/"' in html
    assert 'data-markdown="false"' in html
    assert 'data-chat-id="c1"' in html
    assert 'placeholder="Ask"' in html


def test_csrf_token_and_csp_nonce_from_the_request() -> None:
    request = RequestFactory().get("/")
    request.csp_nonce = "n0nce"  # type: ignore[attr-defined]
    html = render('{% chat_widget "/c/" %}', request=request)
    assert 'nonce="n0nce"' in html
    assert html.count('nonce="n0nce"') == 2  # the stylesheet and the module
    assert "data-csrf-token=" in html


def test_csp_nonce_from_the_context() -> None:
    assert 'nonce="ctx"' in render('{% chat_widget "/c/" %}', csp_nonce="ctx")


def test_no_request_no_token_no_nonce() -> None:
    html = render('{% chat_widget "/c/" %}')
    assert "nonce=" not in html
    assert "data-csrf-token" not in html


def test_widgets_get_distinct_ids() -> None:
    html = render('{% chat_widget "/a/" %}{% chat_widget "/b/" %}')
    first = html.split('id="', 2)[1].split('"')[0]
    second = html.split('id="')[-1].split('"')[0]
    assert first != second


def test_unknown_url_name() -> None:
    with pytest.raises(TemplateSyntaxError, match="'nope' is neither a URL name nor a path"):
        render('{% chat_widget "nope" %}')


def test_feedback_url_by_name_or_path() -> None:
    by_name = render('{% chat_widget "/c/" feedback_url="test-feedback" %}')
    assert 'data-feedback-url="/feedback/"' in by_name
    html = render('{% chat_widget "/c/" feedback_url="/votes/" %}')
    assert 'data-feedback-url="/votes/"' in html
    assert "data-feedback-url" not in render('{% chat_widget "/c/" %}')
    with pytest.raises(TemplateSyntaxError, match="'nope' is neither a URL name nor a path"):
        render('{% chat_widget "/c/" feedback_url="nope" %}')


def test_unknown_role() -> None:
    with pytest.raises(TemplateSyntaxError, match="role must be one of system, user, assistant"):
        render('{% chat_widget "/c/" messages=history %}', history=[{"role": "bot", "text": "x"}])


def test_message_without_text() -> None:
    assert 'ds-chat__content" dir="auto"></div>' in render(
        '{% chat_widget "/c/" messages=history %}', history=[{"role": "user"}]
    )


def test_resumable_needs_a_chat_id() -> None:
    with pytest.raises(TemplateSyntaxError, match="resumable=True needs a chat_id"):
        render('{% chat_widget "/c/" resumable=True %}')
    html = render('{% chat_widget "/c/" resumable=True chat_id="c1" %}')
    assert 'data-resumable="true"' in html
    assert 'data-chat-id="c1"' in html


def test_a_saved_ui_message_carries_its_parts_inert_and_its_status() -> None:
    message = {
        "id": "a1",
        "role": "assistant",
        "status": "stopped",
        "parts": [{"type": "text", "text": "</script><img src=x onerror=alert(1)> & more"}],
    }
    html = render('{% chat_widget "test-chat" messages=history %}', history=[message])
    script = html.split('<script type="application/json" class="ds-chat__parts">')[1]
    payload = script.split("</script>")[0]
    assert not {"<", ">", "&"} & set(payload)  # nothing that could end the script
    assert json.loads(payload) == message["parts"]
    assert 'data-status="stopped"' in html
    assert "ds-chat__message--stopped" in html
    # Before the script runs (or without it), the text shows, escaped.
    assert "&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt; &amp; more</div>" in html


@pytest.mark.parametrize(
    ("message", "problem"),
    [
        ({"role": "assistant", "text": "x", "status": "lost"}, "status must be one of"),
        ({"role": "assistant", "parts": "text"}, "parts must be a list of dicts"),
    ],
)
def test_a_bad_saved_message_is_a_template_error(message: dict[str, object], problem: str) -> None:
    with pytest.raises(TemplateSyntaxError, match=problem):
        render('{% chat_widget "test-chat" messages=history %}', history=[message])


def test_a_saved_message_with_parts_and_text_shows_the_text_before_the_script_runs() -> None:
    message = {"role": "assistant", "text": "Summary", "parts": [{"type": "text", "text": "Long"}]}
    html = render('{% chat_widget "test-chat" messages=history %}', history=[message])
    assert '<div class="ds-chat__content" dir="auto">Summary</div>' in html


def saved_parts(html: str) -> list[str]:
    """The JSON of each saved message's parts, as the page holds it."""
    scripts = html.split('<script type="application/json" class="ds-chat__parts">')[1:]
    return [script.split("</script>")[0] for script in scripts]


def test_non_finite_numbers_are_written_as_null_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # What json.loads gives back for a saved message that held NaN: JSON.parse refuses "NaN".
    tool = {
        "type": "tool-score",
        "toolCallId": "c1",
        "state": "output-available",
        "input": {},
        "output": {"score": float("nan"), "range": (float("-inf"), float("inf")), "n": 1.5},
    }
    history = [
        {"role": "user", "text": "score it"},
        {"id": "a1", "role": "assistant", "parts": [tool, {"type": "text", "text": "NaN"}]},
    ]
    with caplog.at_level("WARNING", logger="django_streaming"):
        html = render('{% chat_widget "test-chat" messages=history %}', history=history)
    [payload] = saved_parts(html)
    strict = json.loads(payload, parse_constant=lambda name: pytest.fail(f"{name} in the JSON"))
    assert strict[0]["output"] == {"score": None, "range": [None, None], "n": 1.5}
    assert strict[1] == {"type": "text", "text": "NaN"}  # a string is no number
    [record] = caplog.records
    assert record.name == "django_streaming"
    assert record.levelname == "WARNING"
    assert record.getMessage() == (
        "chat_widget: messages[1] (id 'a1') has 3 number(s) that JSON cannot hold "
        "(NaN or Infinity), written as null."
    )


def test_finite_parts_are_written_without_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    history = [{"role": "user", "parts": [{"type": "data-x", "data": {"n": 1e308}}]}]
    with caplog.at_level("WARNING", logger="django_streaming"):
        [payload] = saved_parts(
            render('{% chat_widget "test-chat" messages=history %}', history=history)
        )
    assert json.loads(payload) == history[0]["parts"]
    assert caplog.records == []


def test_a_message_without_an_id_is_named_by_its_place(caplog: pytest.LogCaptureFixture) -> None:
    history = [{"role": "user", "parts": [{"type": "data-x", "data": float("inf")}]}]
    with caplog.at_level("WARNING", logger="django_streaming"):
        [payload] = saved_parts(
            render('{% chat_widget "test-chat" messages=history %}', history=history)
        )
    assert json.loads(payload) == [{"type": "data-x", "data": None}]
    assert "messages[0] has 1 number(s)" in caplog.text


def test_a_circular_saved_message_is_still_an_error() -> None:
    part: dict[str, object] = {"type": "data-x", "data": float("nan")}
    part["self"] = part
    with pytest.raises(ValueError, match="Circular reference"):
        render(
            '{% chat_widget "test-chat" messages=history %}',
            history=[{"role": "user", "parts": [part]}],
        )


def test_image_hosts_come_from_the_setting_and_the_tag_replaces_them() -> None:
    assert "data-image-hosts" not in render('{% chat_widget "/c/" %}')  # none by default
    with override_settings(DJANGO_STREAMING={"IMAGE_HOSTS": ["CDN.example.com", "a.example"]}):
        html = render('{% chat_widget "/c/" %}')
        assert 'data-image-hosts="cdn.example.com a.example"' in html
        html = render('{% chat_widget "/c/" image_hosts="img.example.org  b.example:8443" %}')
        assert 'data-image-hosts="img.example.org b.example:8443"' in html
        html = render('{% chat_widget "/c/" image_hosts=hosts %}', hosts=("c.example",))
        assert 'data-image-hosts="c.example"' in html
        assert "data-image-hosts" not in render('{% chat_widget "/c/" image_hosts="" %}')


@pytest.mark.parametrize("hosts", ["https://cdn.example.com/", ["a.example", ""], ["a b"]])
def test_image_hosts_are_host_names(hosts: object) -> None:
    with pytest.raises(TemplateSyntaxError, match="image_hosts takes host names such as"):
        render('{% chat_widget "/c/" image_hosts=hosts %}', hosts=hosts)


def test_send_last_or_all() -> None:
    assert "data-send" not in render('{% chat_widget "/c/" %}')  # all, by default
    assert "data-send" not in render('{% chat_widget "/c/" send="all" %}')
    assert 'data-send="last"' in render('{% chat_widget "/c/" send="last" %}')
    with pytest.raises(TemplateSyntaxError, match="send must be one of 'all', 'last', not 'one'"):
        render('{% chat_widget "/c/" send="one" %}')


def test_math_and_highlight_are_on_unless_turned_off() -> None:
    widget = render('{% chat_widget "/c/" %}')
    assert "data-math" not in widget
    assert "data-highlight" not in widget
    widget = render('{% chat_widget "/c/" math=False highlight=False %}')
    assert 'data-math="false"' in widget
    assert 'data-highlight="false"' in widget


# The widget's words: translated, overridable; its theme; its suggestions.


def strings_of(html: str) -> dict[str, str]:
    """The strings the widget hands chat.js (its JSON script)."""
    start = html.index('<script type="application/json" class="ds-chat__strings">')
    body = html[html.index(">", start) + 1 : html.index("</script>", start)]
    loaded: dict[str, str] = json.loads(body)
    return loaded


@pytest.mark.parametrize(
    ("language", "send", "copy", "title"),
    [
        ("fr", "Envoyer", "Copier", "Discussion"),
        ("de", "Senden", "Kopieren", "Chat"),
        ("es", "Enviar", "Copiar", "Chat"),
        ("ar", "إرسال", "نسخ", "محادثة"),
    ],
)
def test_the_widget_speaks_the_active_language(
    language: str, send: str, copy: str, title: str
) -> None:
    with translation.override(language):
        html = render('{% chat_widget "/c/" %}')
    assert f'<button type="submit" class="ds-chat__send">{send}</button>' in html
    assert f">{title}</h2>" in html
    assert strings_of(html)["copy"] == copy
    assert "Jump to latest" not in html


def test_the_widget_speaks_language_code_without_an_active_language() -> None:
    with override_settings(LANGUAGE_CODE="fr"), translation.override("en"):
        translation.deactivate()  # no language from a request: LANGUAGE_CODE's
        html = render('{% chat_widget "/c/" %}')
    assert 'placeholder="Envoyer un message…"' in html
    assert 'aria-label="Joindre des fichiers"' in html
    assert ">Aller au plus récent</button>" in html
    assert strings_of(html)["connectionLost"] == "La connexion a été perdue."


def test_english_by_default_with_every_string() -> None:
    with translation.override("en"):
        html = render('{% chat_widget "/c/" %}')
    assert strings_of(html) == WIDGET_STRINGS
    assert ">Chat</h2>" in html
    assert 'placeholder="Send a message…"' in html


def test_strings_override_the_translation_and_stay_text() -> None:
    with translation.override("fr"):
        html = render(
            '{% chat_widget "/c/" strings=words title="Aide" %}',
            words={"send": "Go <now>", "copied": "Dans le presse-papiers"},
        )
    assert '<button type="submit" class="ds-chat__send">Go &lt;now&gt;</button>' in html
    strings = strings_of(html)
    assert strings["send"] == "Go <now>"
    assert strings["copied"] == "Dans le presse-papiers"
    assert strings["stop"] == "Arrêter"  # the others stay translated
    assert ">Aide</h2>" in html
    assert "<now>" not in html  # not even inside the script: escaped as \\u003C


@pytest.mark.parametrize(
    ("words", "problem"),
    [
        ({"sned": "Go"}, "strings has no key 'sned'; the keys are: answerFailed, approve"),
        ({"send": 3}, "strings['send'] must be text, not int"),
        (["send"], "strings must be a dict of a string's key to its text, not list"),
    ],
)
def test_bad_strings_are_a_template_error(words: object, problem: str) -> None:
    with pytest.raises(TemplateSyntaxError, match=re.escape(problem)):
        render('{% chat_widget "/c/" strings=words %}', words=words)


def test_messages_and_the_composer_read_in_their_own_direction() -> None:
    html = render(
        '{% chat_widget "/c/" messages=history %}', history=[{"role": "user", "text": "مرحبا"}]
    )
    assert '<div class="ds-chat__content" dir="auto">مرحبا</div>' in html
    assert 'class="ds-chat__input" id="' in html
    assert 'rows="1" dir="auto"' in html


def test_theme() -> None:
    assert 'data-theme="dark"' in render('{% chat_widget "/c/" theme="dark" %}')
    assert 'data-theme="light"' in render('{% chat_widget "/c/" theme="light" %}')
    assert "data-theme" not in render('{% chat_widget "/c/" %}')
    with pytest.raises(
        TemplateSyntaxError, match="theme must be one of 'light', 'dark', not 'blue'"
    ):
        render('{% chat_widget "/c/" theme="blue" %}')


def test_suggestions_and_empty_text_make_an_empty_state() -> None:
    html = render(
        '{% chat_widget "/c/" suggestions=prompts empty_text="Ask <me>" %}',
        prompts=["What time is it?", "<b>bold</b>"],
    )
    assert '<div class="ds-chat__empty">' in html
    assert '<p class="ds-chat__empty-text" dir="auto">Ask &lt;me&gt;</p>' in html
    assert '<ul class="ds-chat__suggestions" aria-label="Suggestions">' in html
    buttons = re.findall(
        r'<button type="button" class="ds-chat__suggestion" dir="auto">(.*?)</button>', html
    )
    assert buttons == ["What time is it?", "&lt;b&gt;bold&lt;/b&gt;"]


def test_the_empty_state_is_hidden_when_the_chat_has_messages() -> None:
    html = render(
        '{% chat_widget "/c/" suggestions=prompts messages=history %}',
        prompts=["Hi"],
        history=[{"role": "user", "text": "Hello"}],
    )
    assert '<div class="ds-chat__empty" hidden>' in html


def test_no_empty_state_by_default_and_empty_text_alone() -> None:
    assert "ds-chat__empty" not in render('{% chat_widget "/c/" %}')
    html = render('{% chat_widget "/c/" empty_text="Nothing yet" %}')
    assert "Nothing yet" in html
    assert "ds-chat__suggestions" not in html


@pytest.mark.parametrize(
    ("prompts", "problem"),
    [
        ("Hi", "suggestions takes a list of texts, not one string"),
        (["Hi", " "], "each suggestion must be a non-empty text, not ' '"),
        ([3], "each suggestion must be a non-empty text, not 3"),
    ],
)
def test_bad_suggestions_are_a_template_error(prompts: object, problem: str) -> None:
    with pytest.raises(TemplateSyntaxError, match=re.escape(problem)):
        render('{% chat_widget "/c/" suggestions=prompts %}', prompts=prompts)
