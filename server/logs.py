"""The server's logs: one event per line, as JSON (`--log-format json`, for a log pipeline)
or as text for a terminal (the default), each with what it is about where that applies:
the request's id, the scenario, the run, the contact, the message.

Code says what a line is about with `extra=` (`logger.warning("...", extra={"run_id": 7})`);
the request id comes from the request being answered (server/observe.py sets it), so
every line logged while answering a request carries it.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import sys
from typing import Literal

LogFormat = Literal["console", "json"]
LOG_FORMATS: tuple[LogFormat, ...] = ("console", "json")

#: The fields a line may carry besides its message, in the order they are shown.
FIELDS = (
    "request_id", "method", "path", "status", "duration_ms", "scenario", "run_id", "contact", "event_id",
    "message_id", "channel",
)  # fmt: skip

#: The id of the request being answered, if any.
REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("scn_request_id", default=None)


class _RequestId(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = REQUEST_ID.get()
        return True


def _fields(record: logging.LogRecord) -> dict[str, object]:
    return {name: value for name in FIELDS if (value := getattr(record, name, None)) is not None}


class JsonFormatter(logging.Formatter):
    """A JSON object per line: time (UTC, ISO 8601), level, logger, message, the fields
    that apply, and the exception's traceback as one string."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            **_fields(record),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


#: What an access line's message says already.
_IN_THE_MESSAGE = frozenset({"method", "path", "status", "duration_ms"})


class ConsoleFormatter(logging.Formatter):
    """`time LEVEL logger: message key=value ...` for a terminal (an access line's method,
    path, status and duration are its message already)."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        fields = " ".join(f"{k}={v}" for k, v in _fields(record).items() if k not in _IN_THE_MESSAGE)
        if not fields:
            return text
        head, _, tail = text.partition("\n")  # a traceback stays below the line
        return f"{head} {fields}" + (f"\n{tail}" if tail else "")


def configure_logging(form: LogFormat = "console", level: int = logging.INFO) -> None:
    """Send every log line to standard error in ``form``."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if form == "json" else ConsoleFormatter())
    handler.addFilter(_RequestId())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every SMTP command
