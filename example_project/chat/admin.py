from __future__ import annotations

from django.contrib import admin

from .models import Conversation, Message


class MessageInline(admin.TabularInline):  # type: ignore[type-arg]
    model = Message
    extra = 0
    fields = ["role", "status", "text", "created"]
    readonly_fields = ["created"]


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["__str__", "owner", "updated"]
    search_fields = ["title", "messages__text"]
    inlines = [MessageInline]
