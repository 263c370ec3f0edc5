"""Conversations belong to an owner: a logged-in user, or else the visitor's session."""

from __future__ import annotations

import uuid

from django.db import models
from django.http import HttpRequest


def owner_key(request: HttpRequest) -> str:
    """Who owns what this request creates and may see."""
    if request.user.is_authenticated:
        return f"user:{request.user.pk}"
    if request.session.session_key is None:
        request.session.save()  # give the visitor a session to own things with
    return f"session:{request.session.session_key}"


class Conversation(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.CharField(max_length=100, db_index=True)
    title = models.CharField(max_length=200, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated"]

    def __str__(self) -> str:
        return self.title or "New chat"


class Message(models.Model):
    class Role(models.TextChoices):
        USER = "user"
        ASSISTANT = "assistant"

    class Status(models.TextChoices):
        COMPLETE = "complete"
        STOPPED = "stopped"  # the user pressed Stop: a partial answer
        FAILED = "failed"  # the model failed: a partial answer, if any

    class Vote(models.TextChoices):
        UP = "up"
        DOWN = "down"

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages"
    )
    role = models.CharField(max_length=10, choices=Role.choices)
    text = models.TextField(blank=True)
    # The whole answer as the client holds it (ChatResult.message's parts): tool calls too.
    parts = models.JSONField(default=list, blank=True)
    # The id the client knows the message by (the answer's, the question's): load_messages()
    # matches a continuation, an edit or a regenerate to the saved message by it.
    ui_id = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.COMPLETE)
    # The user's feedback on an answer (the widget's thumbs, through feedback_url).
    vote = models.CharField(max_length=4, choices=Vote.choices, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created", "id"]

    def __str__(self) -> str:
        return f"{self.role}: {self.text[:40]}"

    @property
    def client_id(self) -> str:
        return self.ui_id or f"saved-{self.pk}"

    def as_history(self) -> dict[str, object]:
        """The message as ``ChatStreamView.load_messages()`` returns it: a UI message."""
        parts = self.parts or [{"type": "text", "text": self.text}]
        return {"id": self.client_id, "role": self.role, "parts": parts}

    def as_ui_message(self) -> dict[str, object]:
        """What ``{% chat_widget messages=... %}`` draws: the saved parts, or the text."""
        message: dict[str, object] = {"id": self.client_id, "role": self.role}
        if self.parts:
            message["parts"] = self.parts
        else:
            message["text"] = self.text
        if self.status != self.Status.COMPLETE:
            message["status"] = self.status
        return message
