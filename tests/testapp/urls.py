from __future__ import annotations

from django.contrib import admin
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt

from . import channels, production, tabs, views
from .chat import ResumableChat, TestChat

urlpatterns = [
    path("admin/", admin.site.urls),
    path("count/", views.CountView.as_view()),
    path("sync-count/", views.SyncCountView.as_view()),
    path("gate/", views.GateView.as_view()),
    path("sync-gate/", views.SyncGateView.as_view()),
    path("wait/", views.WaitForeverView.as_view()),
    path("firehose/", views.FirehoseView.as_view()),
    path("wait-heartbeat/", views.WaitForeverView.as_view(heartbeat=0.2)),
    path("silent/", views.SilentThenDoneView.as_view()),
    path("silent-no-heartbeat/", views.SilentThenDoneView.as_view(heartbeat=None)),
    path("fail/", views.FailingView.as_view()),
    path("multiline/", views.MultilineView.as_view()),
    path("last-event-id/", views.LastEventIdView.as_view()),
    path("protected/", views.ProtectedView.as_view()),
    path("permission/", views.PermissionView.as_view()),
    path("function/", views.function_view),
    path("probe/<str:token>/", views.probe_view),
    path("chat/", TestChat.as_view(), name="test-chat"),
    path("chat-exempt/", csrf_exempt(TestChat.as_view())),
    path("chat-page/", views.chat_page),
    path("widget-page/", views.widget_page),
    path("react/", views.react_page),
    path("react/app.js", views.react_bundle),
    path("byte-by-byte/", csrf_exempt(views.byte_by_byte)),
    path("overloaded/", csrf_exempt(views.overloaded)),
    path("feedback/", views.feedback, name="test-feedback"),
    path("bad-chunks/", csrf_exempt(views.bad_chunks)),
    path("last-message-chat/", csrf_exempt(views.last_message_chat)),
    path("stream-id-chat/<str:mode>/", csrf_exempt(views.stream_id_chat)),
    path("stream-id-chat/<str:mode>/<str:chat_id>/stream", views.stream_id_resume),
    path("stream-id-chat/<str:mode>/<str:chat_id>/stop", csrf_exempt(views.stream_id_stop)),
    path("resumable/", include(views.ResumableCountView.urls())),
    path("resumable-exempt/", include(views.ResumableCountView.urls(decorators=[csrf_exempt]))),
    path("resumable-protected/", include(views.ProtectedResumableView.urls(name="protected"))),
    path("resumable-chat/", include(ResumableChat.urls(decorators=[csrf_exempt]))),
    path("resumable-chat-csrf/", include(ResumableChat.urls())),
    path("production/query-then-wait/", production.QueryThenWait.as_view()),
    path("production/query-stream-write/", production.QueryStreamWrite.as_view()),
    path(
        "production/recording-chat/",
        include(production.RecordingChat.urls(decorators=[csrf_exempt])),
    ),
    path("production/state/", production.process_state),
    path("channels/", channels.TestChannels.as_view()),
    path("channels/news/", channels.NewsChannel.as_view()),
    path("channels/order/<int:pk>/", channels.OrderChannel.as_view()),
    path("channels/not-a-name/", channels.NotANameChannel.as_view()),
    path("channels/ending/", channels.EndingChannels.as_view()),
    path("channels/mux/<str:token>/", channels.MultiplexChannels.as_view()),
    path("channels/page/", channels.cursor_page),
    path("tabs/<str:token>/page/", tabs.tabs_page),
    path("tabs/<str:token>/mux/", tabs.TabsMultiplex.as_view()),
    path("tabs/<str:token>/feed/<str:name>/", tabs.TabsFeed.as_view()),
]
