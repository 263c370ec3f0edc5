"""The conversation list, a conversation's page, and the chat endpoint that saves what is said."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

from asgiref.sync import sync_to_async
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponseRedirect,
)
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from django_streaming import (
    ChatMessage,
    ChatPart,
    ChatResult,
    ChatStreamView,
    DataPart,
    ToolResult,
    error_response,
)

from .backends import get_backend
from .models import Conversation, Message, owner_key
from .tools import SUGGESTIONS, Toolbox, renamed_to

STATUS_OF_RESULT = {
    "completed": Message.Status.COMPLETE,
    "cancelled": Message.Status.STOPPED,
    "error": Message.Status.FAILED,
}


def owned(request: HttpRequest, pk: UUID) -> Conversation:
    """The conversation, if this visitor owns it; a 404 otherwise, as if it did not exist."""
    return get_object_or_404(Conversation, pk=pk, owner=owner_key(request))


def conversation_list(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        conversation = Conversation.objects.create(owner=owner_key(request))
        return HttpResponseRedirect(reverse("conversation", args=[conversation.pk]))
    conversations = Conversation.objects.filter(owner=owner_key(request))
    return render(request, "chat/conversation_list.html", {"conversations": conversations})


def conversation_detail(request: HttpRequest, pk: UUID) -> HttpResponse:
    conversation = owned(request, pk)
    history = [message.as_ui_message() for message in conversation.messages.all()]
    return render(
        request,
        "chat/conversation_detail.html",
        {"conversation": conversation, "history": history, "suggestions": SUGGESTIONS},
    )


@require_POST
def rename(request: HttpRequest, pk: UUID) -> HttpResponse:
    conversation = owned(request, pk)
    conversation.title = request.POST.get("title", "").strip()[:200]
    conversation.save(update_fields=["title", "updated"])
    return HttpResponseRedirect(reverse("conversation", args=[conversation.pk]))


@require_POST
def delete(request: HttpRequest, pk: UUID) -> HttpResponse:
    owned(request, pk).delete()
    return HttpResponseRedirect(reverse("conversations"))


@require_POST
def feedback(request: HttpRequest, pk: UUID) -> HttpResponse:
    """The widget's thumbs (``feedback_url``): ``{"messageId", "vote": "up" | "down"}`` kept
    on the answer it names, in a conversation of this visitor's."""
    try:
        conversation = owned(request, pk)
    except Http404:
        return error_response(404, "not_found", "No such conversation.")
    try:
        body = json.loads(request.body)
    except ValueError:
        body = None
    if not isinstance(body, dict) or body.get("vote") not in Message.Vote.values:
        return error_response(
            400, "invalid_feedback", 'Send {"messageId": ..., "vote": "up" or "down"}.'
        )
    answer = conversation.messages.filter(
        role=Message.Role.ASSISTANT, ui_id=str(body.get("messageId", ""))
    ).first()
    if answer is None:
        return error_response(404, "not_found", "No such answer in this conversation.")
    answer.vote = body["vote"]
    answer.save(update_fields=["vote"])
    return HttpResponse(status=204)


class ConversationChat(ChatStreamView):
    """Streams the model's answer; saves the question in ``on_start`` and the answer in
    ``on_finish``.

    Resumable: the answer is generated apart from the request, so a reload picks it up where it
    is (the page shows the saved question, the widget replays the answer in progress), and Stop
    stops the model. Its handler is async (``apost()``, as every resumable view's); the sync
    database work runs in the thread pool, and the stream saves through the ORM's async API.
    """

    resumable = True
    conversation: Conversation

    async def load_messages(self, chat_id: str | None) -> list[dict[str, object]]:
        """The conversation as saved: the server's history, whatever the client sends."""
        return [message.as_history() async for message in self.conversation.messages.all()]

    async def apost(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        try:
            self.conversation = await sync_to_async(owned)(request, kwargs["pk"])
        except Http404:
            return error_response(404, "not_found", "No such conversation.")
        return await super().apost(request, *args, **kwargs)

    async def on_start(self) -> None:
        # The request is accepted and its answer not started: saved now, the question comes
        # before its answer (and before a regenerate's or an edit's clearing away).
        await sync_to_async(self.record_question)()

    def record_question(self) -> None:
        messages = self.conversation.messages
        if self.chat.trigger == "regenerate-message":
            # The answer being regenerated (a failed or stopped one) makes way for the new one.
            last = messages.last()
            if last is not None and last.role == Message.Role.ASSISTANT:
                last.delete()
            return
        question = self.chat.messages[-1]
        edited = (
            messages.filter(ui_id=self.chat.message_id).first() if self.chat.message_id else None
        )
        if edited is not None and question.role == "user":
            # An edit: the question and what followed it make way for the new one.
            messages.filter(created__gte=edited.created).delete()
        # Only what this request changes: the answer, already running, may be renaming the
        # chat (an approved rename_chat), and a full save would put the old title back.
        changed = ["updated"]
        if question.role == "user":
            messages.create(role=Message.Role.USER, text=question.text, ui_id=question.id or "")
            if not self.conversation.title:
                self.conversation.title = question.text.strip().splitlines()[0][:60]
                changed.append("title")
        self.conversation.save(update_fields=changed)

    async def generate(self, messages: list[ChatMessage]) -> AsyncIterator[ChatPart]:
        toolbox = Toolbox.of(self.conversation)
        async for part in get_backend().respond(messages, toolbox, self.chat.continuation):
            yield part
            if isinstance(part, ToolResult) and (title := renamed_to(part.output)) is not None:
                # The page shows the new title at once (static/chat/title.js listens to the
                # widget's ds-chat:data event): a UI notice, not part of the conversation.
                yield DataPart("chat-title", {"title": title}, transient=True)

    async def on_finish(self, result: ChatResult) -> None:
        parts = result.message.get("parts", [])
        if not (result.text or parts) and result.status == "completed":
            return
        fields = {
            "text": result.text,
            "parts": parts,
            "status": STATUS_OF_RESULT[result.status],
            "ui_id": result.message_id,
        }
        if self.chat.continuation:  # the same answer, gone on: one message, not two
            last = await self.conversation.messages.filter(role=Message.Role.ASSISTANT).alast()
            if last is not None:
                text = "".join(part.get("text", "") for part in parts if part.get("type") == "text")
                await Message.objects.filter(pk=last.pk).aupdate(**{**fields, "text": text})
                return
        await Message.objects.acreate(
            conversation=self.conversation, role=Message.Role.ASSISTANT, **fields
        )
