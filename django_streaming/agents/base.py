"""What every adapter shares, kept where the chat view finds it: ``django_streaming.chat.agent``
(the view runs adapters by name, so that no import goes from the view up to them)."""

from django_streaming.chat.agent import UNSETTLED_TEXT, AgentRun, settle_on_failure

__all__ = ["UNSETTLED_TEXT", "AgentRun", "settle_on_failure"]
