from __future__ import annotations

from django.urls import path

from . import views

urlpatterns = [
    path("", views.conversation_list, name="conversations"),
    path("<uuid:pk>/", views.conversation_detail, name="conversation"),
    path("<uuid:pk>/rename/", views.rename, name="conversation-rename"),
    path("<uuid:pk>/delete/", views.delete, name="conversation-delete"),
    path("<uuid:pk>/chat/", views.ConversationChat.as_view(), name="conversation-chat"),
]
