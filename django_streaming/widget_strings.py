"""The chat widget's words: every text it shows or names a control with, in English, translated
by Django's machinery (``gettext``, in the active language) when the tag renders the widget.

The keys are those of ``chat-strings.js``, which holds the same English defaults for a widget
whose page carries no strings; ``{name}`` marks a value the widget fills in. The ``strings``
option of ``{% chat_widget %}`` overrides any of them for one widget.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils.translation import gettext, pgettext


def gettext_noop(message: str) -> str:
    """Mark ``message`` for translation, translated only when used (Django's own reads the
    settings, so cannot run at import time; extraction tools know this name too)."""
    return message


#: The English text of every string, by key (``gettext_noop``: translated when rendered).
WIDGET_STRINGS: dict[str, str] = {
    "message": gettext_noop("Message"),
    "send": gettext_noop("Send"),
    "stop": gettext_noop("Stop"),
    "attachFiles": gettext_noop("Attach files"),
    "attachments": gettext_noop("Attachments"),
    "removeAttachment": gettext_noop("Remove {filename}"),
    "fileTooLarge": gettext_noop("“{filename}” is larger than {size}."),
    "notAttached": gettext_noop("Not attached."),
    "jumpToLatest": gettext_noop("Jump to latest"),
    "suggestions": gettext_noop("Suggestions"),
    "thinking": gettext_noop("Thinking"),
    "sources": gettext_noop("Sources"),
    "output": gettext_noop("Output"),
    "toolPreparing": gettext_noop("Preparing"),
    "toolRunning": gettext_noop("Running"),
    "toolNeedsApproval": gettext_noop("Needs your approval"),
    "toolAnswered": gettext_noop("Answered"),
    "toolDone": gettext_noop("Done"),
    "toolError": gettext_noop("Error"),
    "toolDenied": gettext_noop("Denied"),
    "toolApproved": gettext_noop("Approved"),
    "approve": gettext_noop("Approve"),
    "deny": gettext_noop("Deny"),
    "approveTool": gettext_noop("Approve {tool}"),
    "denyTool": gettext_noop("Deny {tool}"),
    "stopped": gettext_noop("Stopped"),
    "failed": gettext_noop("Failed"),
    "retry": gettext_noop("Retry"),
    "connectionLost": gettext_noop("The connection was lost."),
    "answerFailed": gettext_noop("The answer failed."),
    "copy": gettext_noop("Copy"),
    "copyCode": gettext_noop("Copy code"),
    "copied": gettext_noop("Copied"),
    "copyFailed": gettext_noop("Copy failed"),
    # The actions under a finished message (chat-actions.js, chat-edit.js).
    "messageActions": gettext_noop("Message actions"),
    "edit": gettext_noop("Edit"),
    "regenerate": gettext_noop("Regenerate"),
    "copyMessage": gettext_noop("Copy message"),
    "goodResponse": gettext_noop("Good response"),
    "badResponse": gettext_noop("Bad response"),
    "editMessage": gettext_noop("Edit message"),
    "save": gettext_noop("Save"),
    "cancel": gettext_noop("Cancel"),
}

#: The defaults of the tag's ``title`` and ``placeholder`` (translated too).
DEFAULT_TITLE = gettext_noop("Chat")
DEFAULT_PLACEHOLDER = gettext_noop("Send a message…")
#: The context that tells a translator "Chat" is the widget's heading (a noun).
TITLE_CONTEXT = "chat widget title"


def default_title() -> str:
    return pgettext(TITLE_CONTEXT, DEFAULT_TITLE)


def default_placeholder() -> str:
    return gettext(DEFAULT_PLACEHOLDER)


def widget_strings(overrides: Mapping[str, Any] | None = None) -> dict[str, str]:
    """Every string in the active language, with ``overrides`` (key: text) over them.

    Raises ``ValueError`` naming the problem for an unknown key or a value that is not text.
    """
    strings = {key: gettext(english) for key, english in WIDGET_STRINGS.items()}
    if overrides is None:
        return strings
    if not isinstance(overrides, Mapping):
        raise ValueError(
            f"strings must be a dict of a string's key to its text, not {type(overrides).__name__}."
        )
    for key, text in overrides.items():
        if key not in WIDGET_STRINGS:
            raise ValueError(
                f"strings has no key {key!r}; the keys are: {', '.join(sorted(WIDGET_STRINGS))}."
            )
        if not isinstance(text, str):
            raise ValueError(f"strings[{key!r}] must be text, not {type(text).__name__}.")
        strings[key] = text
    return strings
