"""``SHOPFLOOR_LOG_FORMAT=json``: one JSON object per log line, for log collectors.

Keys: ``time`` (UTC, ISO 8601, milliseconds), ``level``, ``logger``, ``message``, ``request_id``
and ``tenant`` (null outside a request or job), ``job_id`` (job processes and the runner's lines
about a job), ``process`` (the process's role: api, runner, job), and ``exception`` / ``stack``
when the record has them. The message is the masked text (see
:mod:`shopfloor.privacy.log_masking`, whose filter runs first).
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from shopfloor.telemetry.logcontext import FIELDS


class JsonFormatter(logging.Formatter):
    """Formats a record as one line of JSON; ``role`` names the process kind in every line."""

    def __init__(self, role: str = "api") -> None:
        super().__init__()
        self.role = role

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "process": self.role,
        }
        for name in FIELDS:
            value = getattr(record, name, None)
            if value is not None or name != "job_id":
                line[name] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = record.stack_info
        # default=str: a non-JSON value in a message argument must not lose the line
        return json.dumps(line, ensure_ascii=False, default=str)
