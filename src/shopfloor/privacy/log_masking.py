"""Masking personal data in log lines, so a log file never holds an e-mail address, phone number or IBAN.

:class:`MaskingLogFilter` formats each record's message with its arguments, masks it with the
built-in detectors of :mod:`shopfloor.privacy.masking` (a default :class:`MaskingPolicy`, no key: the
irreversible tokens ``[EMAIL]``, ``[PHONE]``, ``[IBAN]``) and stores the result back in the record;
the text of an attached exception is masked too. Person names and a tenant's own patterns are *not*
masked here: a log record carries no tenant, so there is no policy to take them from.

:func:`install_log_masking` puts the filter on the handlers of the root logger (or of a given
logger). It must run *after* logging is configured (``logging.basicConfig``, ``dictConfig``):
handlers added later do not get the filter. Handlers are used rather than the logger itself
because a logger's filters see only records logged on that very logger, while a handler's filters
see every record that reaches the handler, including those propagated from child loggers. Records
on a logger that does not propagate to the root (with handlers of its own) need their own call.

:func:`logging_config` is the whole logging set-up of a server process as a ``dictConfig``
dictionary: one masked handler on the root, and uvicorn's loggers sent to it rather than to
handlers of their own. ``shopfloor serve`` applies it and hands it to uvicorn, which applies it
again in each worker process it starts (``--workers``), so every process's lines are masked,
uvicorn's access log included. The filter also cuts the secret part off API keys
(``sfk_<id>_<secret>`` becomes ``sfk_<id>_[SECRET]``), e.g. a key a client put in a query string.
Every percent-encoded part of a line (a query value, a path segment) is decoded fully before it is
masked: ``%40``, ``%5F`` and ``%5f`` alike, and twice-encoded ``%255F`` too, so ``?q=sfk%5F...`` or
``?to=anna%40example.com`` are masked like their plain forms.
"""

from __future__ import annotations

import logging
import logging.config
import re
from typing import Any
from urllib.parse import quote_plus, unquote, unquote_plus

from shopfloor.privacy.masking import MaskingPolicy, mask_text

_POLICY = MaskingPolicy()  # built-ins only; its compiled detectors are cached on the instance
# Every built-in kind needs an "@" (e-mail) or a digit (phone, IBAN): a text without either is
# returned as it is, which skips the detectors for most log lines.
_MAY_HOLD_PERSONAL_DATA = re.compile(r"[\d@]")
# An API key's secret (see shopfloor.security.keys): the id before it stays, to trace a client.
_KEY_SECRET = re.compile(r"\b(sfk_[0-9A-Za-z]+_)[A-Za-z0-9_\-]+")
# One name=value pair of a URL's query string, as an access log line has it (percent-encoded).
_QUERY_VALUE = re.compile(r"(?<=[?&;])([^=&;\s\"#]+=)([^&;\s\"#]+)")
# A part of a line between URL separators that holds a percent escape (either case of hex digits).
_ESCAPED = re.compile(r"[^\s\"'<>/?&;=#]*%[0-9A-Fa-f]{2}[^\s\"'<>/?&;=#]*")
# Decoding rounds for text encoded more than once (%255F -> %5F -> _); a deeper nesting is rare
# enough to be left to the line's own masking.
_MAX_DECODES = 8


def _decode_fully(raw: str) -> str:
    """``raw`` with "+" as a space and percent escapes undone until nothing is left to decode."""
    text = unquote_plus(raw)
    for _ in range(_MAX_DECODES):
        decoded = unquote(text)
        if decoded == text:
            break
        text = decoded
    return text


def _mask_plain(text: str) -> str:
    """Key secrets cut and the built-in personal data masked in text that is not encoded."""
    if "sfk_" in text:
        text = _KEY_SECRET.sub(r"\1[SECRET]", text)
    if not _MAY_HOLD_PERSONAL_DATA.search(text):
        return text
    return mask_text(text, _POLICY).text


def _mask_decoded(raw: str) -> str:
    """``raw`` decoded fully and masked, re-encoded if masking changed it, else kept as it was."""
    decoded = _decode_fully(raw)
    if decoded == raw:
        return raw  # nothing encoded: the line's own masking sees it as it is
    masked = _mask_plain(decoded)
    return raw if masked == decoded else quote_plus(masked, safe="[]")


def _mask_query_value(match: re.Match[str]) -> str:
    """A query value whose spaces are "+" (``note=call+0171+2345678``), decoded and masked."""
    return match.group(1) + _mask_decoded(match.group(2))


def _mask(text: str) -> str:
    if "%" in text:
        text = _ESCAPED.sub(lambda m: _mask_decoded(m.group(0)), text)
    if "?" in text and "+" in text:
        text = _QUERY_VALUE.sub(_mask_query_value, text)
    return _mask_plain(text)


class MaskingLogFilter(logging.Filter):
    """Masks e-mail addresses, phone numbers and IBANs in a record's message and exception text.

    The message is formatted once (``record.getMessage()``), masked, and stored in ``record.msg``
    with ``record.args = ()``, so every formatter afterwards sees the masked text. An exception is
    formatted into ``record.exc_text`` (which formatters use instead of formatting it again) and
    masked there; a stack trace (``record.stack_info``) is masked as well.

    Never drops a record and never raises: a filter that raised would break the logging call. A
    part that cannot be masked (e.g. ``msg % args`` fails) is left as it is, for logging to report.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            text = _mask(record.getMessage())
        except Exception:  # noqa: S110 - logging reports a broken message itself, filters must not raise
            pass
        else:
            record.msg, record.args = text, ()
        try:
            if record.exc_info and not record.exc_text:
                record.exc_text = logging.Formatter().formatException(record.exc_info)
            if record.exc_text:
                record.exc_text = _mask(record.exc_text)
            if record.stack_info:
                record.stack_info = _mask(record.stack_info)
        except Exception:  # noqa: S110 - as above: leave the record as it is rather than raise
            pass
        return True


def install_log_masking(logger: logging.Logger | None = None) -> None:
    """Add a :class:`MaskingLogFilter` to every handler of ``logger`` (default: the root logger).

    Idempotent: a handler that already has one is left alone. Call it after logging is configured;
    handlers added afterwards are not covered.
    """
    target = logger if logger is not None else logging.getLogger()
    masking = MaskingLogFilter()
    for handler in target.handlers:
        if not any(isinstance(f, MaskingLogFilter) for f in handler.filters):
            handler.addFilter(masking)


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def logging_config(fmt: str = TEXT_FORMAT, *, json_role: str | None = None) -> dict[str, Any]:
    """The ``logging.config.dictConfig`` set-up of a server process, with every line masked.

    With ``json_role`` (``SHOPFLOOR_LOG_FORMAT=json``), lines are JSON objects
    (:class:`shopfloor.telemetry.jsonlog.JsonFormatter`, naming that process role) instead of
    ``fmt``. Either way each record gets the request id, tenant and job id of the work in hand
    (:class:`shopfloor.telemetry.logcontext.ContextFilter`), after its message is masked.

    One handler (standard error, ``fmt``) with a :class:`MaskingLogFilter` on the root at INFO.
    uvicorn's loggers lose their own handlers and propagate to it: ``uvicorn.error`` at WARNING
    (its start-up chatter is left out; ``shopfloor serve`` prints the address itself) and
    ``uvicorn.access`` at INFO, so that the access log, when uvicorn has it on, is written and
    masked like any other line. Give it to uvicorn as ``log_config`` with ``log_level=None``: a
    level there would override these. Plain data only, so it can travel to worker processes.
    """
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "mask_personal_data": {"()": f"{__name__}.MaskingLogFilter"},
            "log_context": {"()": "shopfloor.telemetry.logcontext.ContextFilter"},
        },
        "formatters": {
            "plain": {"format": fmt}
            if json_role is None
            else {"()": "shopfloor.telemetry.jsonlog.JsonFormatter", "role": json_role}
        },
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "plain",
                "filters": ["mask_personal_data", "log_context"],
            }
        },
        "root": {"level": "INFO", "handlers": ["stderr"]},
        "loggers": {
            "uvicorn": {"level": "INFO", "handlers": [], "propagate": True},
            "uvicorn.error": {"level": "WARNING", "handlers": [], "propagate": True},
            "uvicorn.access": {"level": "INFO", "handlers": [], "propagate": True},
        },
    }


def configure_process_logging(fmt: str, *, json_role: str | None = None) -> None:
    """Set up a child process's logging with :func:`logging_config` (format ``fmt``, or JSON lines
    naming ``json_role``).

    Like ``logging.basicConfig``, a process whose root logger already has handlers (one that
    runs a job in-process, as the tests do) keeps them; they only get the masking filter.
    """
    if logging.getLogger().handlers:
        install_log_masking()
    else:
        logging.config.dictConfig(logging_config(fmt, json_role=json_role))
