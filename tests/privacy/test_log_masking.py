"""Masking personal data in log records: messages, arguments, exception text, installation."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest

from shopfloor.privacy.log_masking import MaskingLogFilter, install_log_masking

FORMAT = "%(levelname)s %(name)s: %(message)s"


class Capture(logging.Handler):
    """Keeps each formatted line, and each record that failed to format, instead of writing them."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(logging.Formatter(FORMAT))
        self.lines: list[str] = []
        self.failed: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(self.format(record))
        except Exception:
            self.handleError(record)

    def handleError(self, record: logging.LogRecord) -> None:
        self.failed.append(record)


@pytest.fixture
def capture() -> Capture:
    return Capture()


@pytest.fixture
def logger(request: pytest.FixtureRequest, capture: Capture) -> logging.Logger:
    """A logger outside the logging tree with ``capture`` as its only handler.

    Not made by ``logging.getLogger``, so the test runner does not attach its own handlers to it.
    """
    log = logging.Logger(f"test_log_masking.{request.node.name}", logging.DEBUG)
    log.propagate = False
    log.addHandler(capture)
    install_log_masking(log)
    return log


def test_email_and_phone_in_args_are_masked(logger: logging.Logger, capture: Capture) -> None:
    logger.info("ticket from %s, call back on %s", "anna.berg@example.com", "+49 89 1234567")
    assert capture.lines == [f"INFO {logger.name}: ticket from [EMAIL], call back on [PHONE]"]


def test_iban_in_the_message_itself_is_masked(logger: logging.Logger, capture: Capture) -> None:
    logger.warning("refund to DE89 3704 0044 0532 0130 00 requested")
    assert capture.lines == [f"WARNING {logger.name}: refund to [IBAN] requested"]


def test_args_as_mapping_are_masked(logger: logging.Logger, capture: Capture) -> None:
    logger.info("user %(who)s logged in", {"who": "ops@plant.example.org"})
    assert capture.lines == [f"INFO {logger.name}: user [EMAIL] logged in"]


@pytest.mark.parametrize(
    "message",
    [
        "model pump-failure v3 promoted to production",
        "marked 2 job(s) failed; took 0.25 s at 14:30:00 on 2024-03-15",
        "50% done (scoring 1200 rows)",
    ],
)
def test_message_without_personal_data_is_unchanged(
    logger: logging.Logger, capture: Capture, message: str
) -> None:
    logger.info(message)
    logger.info("%s", message)
    assert capture.lines == [f"INFO {logger.name}: {message}"] * 2


def test_record_is_stored_formatted_and_masked() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "mail %s (%d tries)", ("a@b.example", 3), None)
    assert MaskingLogFilter().filter(record) is True
    assert (record.msg, record.args) == ("mail [EMAIL] (3 tries)", ())
    assert record.getMessage() == "mail [EMAIL] (3 tries)"


def test_masked_message_with_percent_signs_is_not_formatted_again(
    logger: logging.Logger, capture: Capture
) -> None:
    logger.info("%s: 100%% of %s", "done", "x@y.example")
    assert capture.lines == [f"INFO {logger.name}: done: 100% of [EMAIL]"]


def test_exception_text_is_masked(logger: logging.Logger, capture: Capture) -> None:
    try:
        raise ValueError("no account for maria.lopez@example.com")
    except ValueError:
        logger.exception("lookup failed")
    (line,) = capture.lines
    assert line.startswith(f"ERROR {logger.name}: lookup failed\nTraceback")
    assert "ValueError: no account for [EMAIL]" in line
    assert "maria.lopez" not in line


def test_stack_info_is_masked(logger: logging.Logger, capture: Capture) -> None:
    logger.info("here", stack_info=True)  # a source line of this test holds an address: a@b.example
    (line,) = capture.lines
    assert "Stack (most recent call last)" in line
    assert "a@b.example" not in line


def test_installing_twice_adds_one_filter(logger: logging.Logger, capture: Capture) -> None:
    other = Capture()
    other.addFilter(logging.Filter("unrelated"))
    logger.addHandler(other)
    try:
        install_log_masking(logger)
        install_log_masking(logger)
        assert sum(isinstance(f, MaskingLogFilter) for f in capture.filters) == 1
        assert sum(isinstance(f, MaskingLogFilter) for f in other.filters) == 1
        assert len(other.filters) == 2
    finally:
        logger.removeHandler(other)


def test_a_message_that_fails_to_format_does_not_break_logging(
    logger: logging.Logger, capture: Capture
) -> None:
    logger.info("%d rows", "many")  # msg % args raises: logging reports it, the filter must not raise
    logger.info("next for %s", "z@y.example")
    assert [r.msg for r in capture.failed] == ["%d rows"]
    assert capture.lines == [f"INFO {logger.name}: next for [EMAIL]"]


def test_filter_leaves_a_broken_record_as_it_is() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "%d for %s", ("x", "a@b.example"), None)
    assert MaskingLogFilter().filter(record) is True
    assert (record.msg, record.args) == ("%d for %s", ("x", "a@b.example"))


def test_child_logger_records_are_masked_through_the_root_handlers() -> None:
    root = logging.getLogger()
    handler = Capture()
    before = {h: list(h.filters) for h in root.handlers}
    root.addHandler(handler)
    try:
        install_log_masking()
        child = logging.getLogger("test_log_masking.root.child")
        child.warning("escalated to %s / %s", "kurt.weber@example.de", "0171 2345678")
        assert handler.lines == [f"WARNING {child.name}: escalated to [EMAIL] / [PHONE]"]
    finally:
        root.removeHandler(handler)
        # other handlers on the root (the test runner's) get the filter too: take it off again
        for h in root.handlers:
            for f in list(h.filters):
                if isinstance(f, MaskingLogFilter) and f not in before.get(h, []):
                    h.removeFilter(f)


def test_api_key_secrets_are_cut_keeping_the_key_id(logger: logging.Logger, capture: Capture) -> None:
    logger.info('"GET /v1/models?api_key=%s HTTP/1.1" 401', "sfk_0a1b2c_Zq-9_xY3kLm")
    assert capture.lines == [f'INFO {logger.name}: "GET /v1/models?api_key=sfk_0a1b2c_[SECRET] HTTP/1.1" 401']


# What a uvicorn worker process does with the server's log_config, in a fresh interpreter.
WORKER = """
import logging, sys
import uvicorn
from shopfloor.privacy.log_masking import logging_config

uvicorn.Config("x:y", log_config=logging_config(), log_level=None, access_log=True).configure_logging()
logging.getLogger("uvicorn.error").info("Started server process")
logging.getLogger("uvicorn.error").warning("worker %s restarting", "w1")
logging.getLogger("uvicorn.access").info(
    '%s - "%s %s HTTP/%s" %d', "127.0.0.1:50412", "GET", "/healthz?contact=anna.berg@example.com", "1.1", 200
)
logging.getLogger("shopfloor.api").warning("call back on %s", "+49 89 1234567")
"""


def test_server_log_config_masks_every_logger_of_a_worker_process() -> None:
    done = subprocess.run(
        [sys.executable, "-c", WORKER], capture_output=True, text=True, timeout=60, check=True
    )
    lines = done.stderr.splitlines()
    assert [line.split(" ", 2)[2] for line in lines] == [
        "WARNING uvicorn.error: worker w1 restarting",
        'INFO uvicorn.access: 127.0.0.1:50412 - "GET /healthz?contact=[EMAIL] HTTP/1.1" 200',
        "WARNING shopfloor.api: call back on [PHONE]",
    ]


@pytest.mark.parametrize(
    ("query", "logged"),
    [
        ("to=anna.berg%40example.com&n=3", "to=[EMAIL]&n=3"),
        ("phone=%2B49+89+1234567", "phone=[PHONE]"),
        ("note=call+%2B49+89+1234567+today", "note=call+[PHONE]+today"),
        ("q=pump+seal&page=2", "q=pump+seal&page=2"),  # encoded, nothing personal: left as it was
        ("from=2026-01-01T00%3A00%3A00", "from=2026-01-01T00%3A00%3A00"),
    ],
)
def test_percent_encoded_query_values_are_masked(
    logger: logging.Logger, capture: Capture, query: str, logged: str
) -> None:
    logger.info('"GET /v1/models?%s HTTP/1.1" 200', query)
    assert capture.lines == [f'INFO {logger.name}: "GET /v1/models?{logged} HTTP/1.1" 200']


@pytest.mark.parametrize(
    ("query", "logged"),
    [
        ("q=sfk%5F0a1b2c%5FZq-9xY3kLm", "q=sfk_0a1b2c_[SECRET]"),  # "_" percent-encoded
        ("q=sfk%5f0a1b2c%5fZq-9xY3kLm", "q=sfk_0a1b2c_[SECRET]"),  # lower-case hex
        ("q=sfk%255F0a1b2c%255FZq-9xY3kLm", "q=sfk_0a1b2c_[SECRET]"),  # encoded twice
        ("q=sfk_0a1b2c%5FZq-9xY3kLm&n=1", "q=sfk_0a1b2c_[SECRET]&n=1"),  # mixed
        ("q=%73%66%6B%5F0a1b2c%5FZq", "q=sfk_0a1b2c_[SECRET]"),  # every letter encoded
        ("sfk%5F0a1b2c%5FZq-9xY3kLm", "sfk_0a1b2c_[SECRET]"),  # a bare query, no name
        ("to=anna.berg%2540example.com", "to=[EMAIL]"),  # "@" encoded twice
    ],
)
def test_encoded_key_secrets_and_personal_data_are_decoded_fully_before_masking(
    logger: logging.Logger, capture: Capture, query: str, logged: str
) -> None:
    logger.info('"GET /v1/models?%s HTTP/1.1" 401', query)
    assert capture.lines == [f'INFO {logger.name}: "GET /v1/models?{logged} HTTP/1.1" 401']


def test_an_encoded_key_in_a_path_segment_is_cut(logger: logging.Logger, capture: Capture) -> None:
    logger.info('"GET %s HTTP/1.1" 404', "/v1/keys/sfk%5F0a1b2c%5FZq-9xY3kLm/x")
    assert capture.lines == [f'INFO {logger.name}: "GET /v1/keys/sfk_0a1b2c_[SECRET]/x HTTP/1.1" 404']
