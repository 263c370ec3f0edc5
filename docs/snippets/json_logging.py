"""One JSON object per log line, with the fields django-streaming puts on its records."""

import json
import logging

FIELDS = (
    "kind", "view", "reason", "finish_reason", "duration", "events", "bytes",
    "time_to_first_event", "input_tokens", "output_tokens",
)  # fmt: skip


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {"level": record.levelname, "logger": record.name, "message": record.getMessage()}
        line.update({name: getattr(record, name) for name in FIELDS if hasattr(record, name)})
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line)


LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": JSONFormatter}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json"}},
    "loggers": {"django_streaming": {"handlers": ["console"], "level": "INFO"}},
}
