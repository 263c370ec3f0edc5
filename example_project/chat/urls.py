from __future__ import annotations

from django.urls import include, path

from . import views

urlpatterns = [
    path("", views.conversation_list, name="conversations"),
    path("<uuid:pk>/", views.conversation_detail, name="conversation"),
    path("<uuid:pk>/rename/", views.rename, name="conversation-rename"),
    path("<uuid:pk>/delete/", views.delete, name="conversation-delete"),
    path("<uuid:pk>/feedback/", views.feedback, name="conversation-feedback"),
    # The answer (POST), its resume (GET <chat id>/stream) and its stop (POST <chat id>/stop).
    path("<uuid:pk>/chat/", include(views.ConversationChat.urls(name="conversation-chat"))),
]
