"""The request id taken from a client (or made), the log context on records, and JSON log lines."""

from __future__ import annotations

import io
import json
import logging
import logging.config
import re
import time

import pytest

from shopfloor.privacy.log_masking import logging_config
from shopfloor.telemetry.jsonlog import JsonFormatter
from shopfloor.telemetry.logcontext import (
    ContextFilter,
    LogContext,
    bind,
    current_request_id,
    new_request_id,
    request_id_from,
    set_tenant,
    unbind,
)

GENERATED = re.compile(r"[0-9a-f]{32}")


def test_generated_ids_sort_in_time_and_differ() -> None:
    ids = [new_request_id() for _ in range(1000)]
    assert all(GENERATED.fullmatch(i) for i in ids) and len(set(ids)) == 1000
    first, later = ids[0], ids[-1]
    assert first[:12] <= later[:12]
    assert abs(int(first[:12], 16) / 1000 - time.time()) < 60


@pytest.mark.parametrize(
    "raw",
    [b"abc", b"0f8fad5b-d9cb-469f-a165-70867728950e", b"01HZX3:batch/7+x=", b"a" * 128],
)
def test_a_sane_client_id_is_kept(raw: bytes) -> None:
    assert request_id_from(raw) == raw.decode()


@pytest.mark.parametrize(
    "raw",
    [
        None,
        b"",
        b"a" * 129,  # too long
        b"two words",
        b"line\nbreak",
        b"tab\there",
        b'quote"d',
        b"anna@example.com",  # personal data has no place in an id
        b"100%25",
        "caf\u00e9".encode(),
        b"<script>",
    ],
)
def test_an_unusable_client_id_is_replaced_by_a_new_one(raw: bytes | None) -> None:
    made = request_id_from(raw)
    assert GENERATED.fullmatch(made), made
    assert request_id_from(raw) != made  # fresh each time


def test_context_fields_reach_the_record_and_extra_wins() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello %s", ("you",), None)
    token = bind(LogContext(request_id="r1"))
    try:
        set_tenant("plant-7")
        assert current_request_id() == "r1"
        ContextFilter().filter(record)
        other = logging.LogRecord("x", logging.INFO, __file__, 1, "m", (), None)
        other.job_id = "job_1"
        ContextFilter().filter(other)
    finally:
        unbind(token)
    assert (record.request_id, record.tenant, record.job_id) == ("r1", "plant-7", None)  # type: ignore[attr-defined]
    assert other.job_id == "job_1" and other.request_id == "r1"  # type: ignore[attr-defined]
    outside = logging.LogRecord("x", logging.INFO, __file__, 1, "m", (), None)
    ContextFilter().filter(outside)
    assert outside.request_id is None and current_request_id() is None  # type: ignore[attr-defined]


def test_json_lines_are_one_object_each_with_the_context() -> None:
    stream = io.StringIO()
    config = logging_config(json_role="job")
    config["handlers"]["stderr"]["stream"] = stream
    config["loggers"]["test.jsonlog"] = {"level": "INFO", "handlers": [], "propagate": True}
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        logging.config.dictConfig(config)
        log = logging.getLogger("test.jsonlog")
        token = bind(LogContext(request_id="req-9", tenant="default", job_id="job_abc"))
        log.info("scored %d rows for anna@example.com\nsecond line", 12)
        try:
            raise ValueError("boom")
        except ValueError:
            log.exception("it broke")
        unbind(token)
        log.warning("no context")
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    lines = stream.getvalue().splitlines()
    assert len(lines) == 3, lines  # a multi-line message or traceback stays on its line
    first, second, third = (json.loads(line) for line in lines)
    assert first["message"] == "scored 12 rows for [EMAIL]\nsecond line"  # masked before formatting
    assert {k: first[k] for k in ("level", "logger", "request_id", "tenant", "job_id", "process")} == {
        "level": "INFO",
        "logger": "test.jsonlog",
        "request_id": "req-9",
        "tenant": "default",
        "job_id": "job_abc",
        "process": "job",
    }
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", first["time"])
    assert second["level"] == "ERROR" and "ValueError: boom" in second["exception"]
    assert third["request_id"] is None and "job_id" not in third


def test_the_formatter_never_loses_a_line_over_an_odd_argument() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "%s", (object(),), None)
    assert json.loads(JsonFormatter().format(record))["message"].startswith("<object object")
