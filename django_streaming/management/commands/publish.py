"""``manage.py publish <channel> [data]``: publish one event, from a shell or a cron job."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_streaming.channels import publish
from django_streaming.stores import StoreUnavailable


class Command(BaseCommand):
    help = "Publish one event to a channel: every subscriber of it gets it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("channel", help="the channel's name")
        parser.add_argument("data", nargs="?", default=None, help="the event's data (text)")
        parser.add_argument("--event", help="the event's type (default: message)")
        parser.add_argument("--json", action="store_true", help="data is JSON: send it as such")

    def handle(self, *args: Any, **options: Any) -> None:
        data: Any = options["data"]
        if options["json"] and data is not None:
            try:
                data = json.loads(data)
            except ValueError as error:
                raise CommandError(f"--json: the data is not JSON ({error}).") from None
        try:
            event_id = publish(options["channel"], data, event=options["event"])
        except (ValueError, StoreUnavailable) as error:
            raise CommandError(str(error)) from None
        self.stdout.write(f"Published to {options['channel']}: event id {event_id}.")
