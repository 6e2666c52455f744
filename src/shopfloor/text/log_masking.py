"""Masking personal data in log lines, so a log file never holds an e-mail address, phone number or IBAN.

:class:`MaskingLogFilter` formats each record's message with its arguments, masks it with the
built-in detectors of :mod:`shopfloor.text.masking` (a default :class:`MaskingPolicy`, no key: the
irreversible tokens ``[EMAIL]``, ``[PHONE]``, ``[IBAN]``) and stores the result back in the record;
the text of an attached exception is masked too. Person names and a tenant's own patterns are *not*
masked here: a log record carries no tenant, so there is no policy to take them from.

:func:`install_log_masking` puts the filter on the handlers of the root logger (or of a given
logger). It must run *after* logging is configured (``logging.basicConfig``, ``dictConfig``):
handlers added later do not get the filter. Handlers are used rather than the logger itself
because a logger's filters see only records logged on that very logger, while a handler's filters
see every record that reaches the handler, including those propagated from child loggers. Records
on a logger that does not propagate to the root (with handlers of its own) need their own call.
"""

from __future__ import annotations

import logging
import re

from shopfloor.text.masking import MaskingPolicy, mask_text

_POLICY = MaskingPolicy()  # built-ins only; its compiled detectors are cached on the instance
# Every built-in kind needs an "@" (e-mail) or a digit (phone, IBAN): a text without either is
# returned as it is, which skips the detectors for most log lines.
_MAY_HOLD_PERSONAL_DATA = re.compile(r"[\d@]")


def _mask(text: str) -> str:
    if not _MAY_HOLD_PERSONAL_DATA.search(text):
        return text
    return mask_text(text, _POLICY).text


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
