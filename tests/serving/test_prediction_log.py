"""The per-process prediction log: sampling, the bounded buffer (drops counted), writing in sealed
batches off the serving path, retry of a refused batch, flush at shutdown, masking and size limits."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from shopfloor import metrics
from shopfloor.api.app import create_app
from shopfloor.bootstrap import prepare
from shopfloor.context import Platform
from shopfloor.errors import RegistryUnavailable
from shopfloor.services.prediction_log import ExportFilter, export_rows
from shopfloor.settings import Settings

SCHEMA = [
    {"name": "speed", "type": "numeric"},
    {"name": "note", "type": "text"},
    {"name": "photo", "type": "image"},
]


def _settings(home: Path, **more: Any) -> Settings:
    return Settings(home=home, prediction_log_buffer=100, prediction_log_flush_s=60, **more)


def _with_model(found: Platform) -> Platform:
    found.store.add_version(
        tenant="default", model="m", task="tabular_regression", report={}, input_schema=SCHEMA, files={},
        artifact="default/models/m/x", lineage={}, job_id=None,
    )
    return found


@pytest.fixture()
def platform(tmp_path: Path) -> Iterator[Platform]:
    found = _with_model(prepare(_settings(tmp_path / "home")))
    yield found
    found.close()


def _add(platform: Platform, n: int, **more: Any) -> int:
    records = [{"speed": float(i), "note": "ok", "serial": "S1"} for i in range(n)]
    answers = [{"value": float(i)} for i in range(n)]
    return int(
        platform.prediction_log.add(
            "default", "m", 1, "predict", schema=SCHEMA, records=records, answers=answers,
            latency_s=0.001, request_id="r", **more,
        )
    )


def _logged(platform: Platform) -> list[dict[str, Any]]:
    return list(export_rows(platform, "default", "m", ExportFilter()))


def test_nothing_is_kept_without_a_rate_and_all_at_rate_one(platform: Platform) -> None:
    assert _add(platform, 5) == 0 and platform.prediction_log.pending() == 0
    platform.store.set_log_rate("default", "m", 1.0)
    platform.generation.bump()
    assert _add(platform, 5) == 5
    assert _logged(platform) == []  # buffered: nothing written on the serving path
    assert platform.prediction_log.flush() == 5
    rows = _logged(platform)
    assert [r["index"] for r in rows] == [0, 1, 2, 3, 4]
    assert rows[2]["inputs"] == {"speed": 2.0, "note": "ok"} and rows[2]["answer"] == {"value": 2.0}


def test_a_full_buffer_drops_and_counts(platform: Platform, monkeypatch: pytest.MonkeyPatch) -> None:
    platform.store.set_log_rate("default", "m", 1.0)
    monkeypatch.setattr(platform.prediction_log, "_start", lambda: None)  # no writer thread: a full buffer
    before = metrics.RECORDER.logged.get(("default", "m", "dropped"), 0)
    assert _add(platform, 80) == 80
    assert _add(platform, 30) == 0  # 110 > the buffer of 100: the whole call is dropped
    assert _add(platform, 20) == 20
    assert platform.prediction_log.dropped == 30
    assert metrics.RECORDER.logged[("default", "m", "dropped")] - before == 30
    text = metrics.exposition("default")[0].decode()
    assert 'shopfloor_prediction_log_records_total{model="m",outcome="dropped",tenant="default"}' in text
    assert platform.prediction_log.flush() == 100


def test_a_refused_batch_is_retried_once_then_counted_as_failed(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    platform.store.set_log_rate("default", "m", 1.0)
    real = platform.store.add_prediction_log
    refusals = [2]

    def flaky(*args: Any) -> None:
        if refusals[0]:
            refusals[0] -= 1
            raise RegistryUnavailable("down")
        real(*args)

    monkeypatch.setattr(platform.store, "add_prediction_log", flaky)
    before = metrics.RECORDER.logged.get(("default", "m", "failed"), 0)
    _add(platform, 3)
    assert platform.prediction_log.flush() == 0 and platform.prediction_log.pending() == 3  # kept for a retry
    assert platform.prediction_log.flush() == 0 and platform.prediction_log.pending() == 0  # refused twice
    assert metrics.RECORDER.logged[("default", "m", "failed")] - before == 3
    _add(platform, 2)
    assert platform.prediction_log.flush() == 2


def test_what_is_buffered_is_written_when_the_platform_closes(tmp_path: Path) -> None:
    settings = _settings(tmp_path / "home")
    first = prepare(settings)
    first.store.set_log_rate("default", "m", 1.0)
    _add(first, 4)
    first.close()
    again = Platform.from_settings(settings)
    try:
        assert len(again.store.list_logged("default", "m")) == 4
    finally:
        again.close()


def test_the_api_writes_its_buffer_at_shutdown(tmp_path: Path) -> None:
    settings = _settings(tmp_path / "home")
    prepare(settings).close()
    app = create_app(settings)  # the app owns its platform, as `shopfloor serve` runs it
    with TestClient(app):
        platform = app.state.platform
        platform.store.set_log_rate("default", "m", 1.0)
        _add(platform, 3)
        assert platform.store.list_logged("default", "m") == []
    again = Platform.from_settings(settings)
    try:
        assert len(again.store.list_logged("default", "m")) == 3
    finally:
        again.close()


def test_images_are_kept_as_digests_and_large_inputs_as_their_size(tmp_path: Path) -> None:
    platform = _with_model(prepare(_settings(tmp_path / "home", prediction_log_max_record_kb=1)))
    try:
        platform.store.set_log_rate("default", "m", 1.0)
        records = [{"speed": 1.0, "photo": b"\x89PNG" + b"x" * 100}, {"speed": 2.0, "note": "word " * 400}]
        platform.prediction_log.add(
            "default", "m", 1, "predict", schema=SCHEMA, records=records,
            answers=[{"value": 1.0}, {"value": 2.0}], latency_s=0.0, request_id=None,
        )
        platform.prediction_log.flush()
        small, large = _logged(platform)
        assert small["inputs"]["photo"]["bytes"] == 104 and len(small["inputs"]["photo"]["sha256"]) == 64
        assert large["inputs"]["omitted"] and large["inputs"]["bytes"] > 1024
        assert large["answer"] == {"value": 2.0}
    finally:
        platform.close()


def test_answers_per_asset_keep_the_request_s_records(platform: Platform) -> None:
    platform.store.set_log_rate("default", "m", 1.0)
    records = [{"speed": float(i)} for i in range(4)]
    answers = [{"value": 1.0}, {"value": 2.0}]  # one answer per asset, not per record
    platform.prediction_log.add(
        "default", "m", 1, "score", schema=SCHEMA, records=records, answers=answers, latency_s=0.0,
        request_id="s",
    )
    platform.prediction_log.flush()
    rows = _logged(platform)
    assert [r["index"] for r in rows] == [0, 1] and len(rows[1]["inputs"]) == 4


def test_sampling_draws_each_answer_at_the_rate(platform: Platform) -> None:
    platform.store.set_log_rate("default", "m", 0.2)
    picked = platform.prediction_log.sample("default", "m", 5000)
    assert 850 < len(picked) < 1150
    assert len(platform.prediction_log.sample("default", "m", 10, whole=True)) in (0, 10)


def _fail(platform: Platform, n: int) -> bool:
    records = [{"speed": float(i), "note": "ok"} for i in range(n)]
    return platform.prediction_log.add_failure(
        "default", "m", 1, "predict", schema=SCHEMA, records=records, latency_s=0.25, request_id="f",
        error={"status": 500, "code": "internal-error"},
    )


def test_a_failed_call_is_one_entry_with_its_inputs_and_error(platform: Platform) -> None:
    assert _fail(platform, 3) is False  # no rate: nothing kept, failures alike
    platform.store.set_log_rate("default", "m", 1.0)
    platform.generation.bump()
    assert _add(platform, 3) == 3 and _fail(platform, 2) is True
    platform.prediction_log.flush()
    rows = _logged(platform)
    assert [r["error"] for r in rows] == [None] * 3 + [{"status": 500, "code": "internal-error"}]
    assert rows[3]["answer"] is None and rows[3]["latency_ms"] == 250.0
    assert rows[3]["inputs"] == [{"speed": 0.0, "note": "ok"}, {"speed": 1.0, "note": "ok"}]
    # each call's latency in the clear index, on its first entry only: one row per call carries it
    index = platform.store.list_logged("default", "m", failed=None)
    seen = [(r.latency_ms, r.failed) for r in index]
    assert seen == [(1.0, False), (None, False), (None, False), (250.0, True)]


def test_failed_calls_are_drawn_as_likely_as_a_call_of_as_many_records_is_logged(
    platform: Platform,
) -> None:
    platform.store.set_log_rate("default", "m", 0.1)
    platform.prediction_log.capacity = 10_000  # room for every call drawn
    single = sum(_fail(platform, 1) for _ in range(2000))
    many = sum(_fail(platform, 20) for _ in range(400))
    assert 140 < single < 260  # 0.1 of 2000: 200 +- 13
    assert 0.8 * 400 * (1 - 0.9**20) < many < 1.1 * 400 * (1 - 0.9**20)  # 0.88 of them: 352 +- 6


def test_an_unreachable_registry_turns_logging_off_for_a_while_not_serving(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shopfloor.serving import prediction_log as module

    platform.store.set_log_rate("default", "m", 1.0)
    asked: list[str] = []

    def down(tenant: str) -> dict[str, float]:
        asked.append(tenant)
        raise RegistryUnavailable("down")

    real = platform.store.log_rates
    monkeypatch.setattr(platform.store, "log_rates", down)
    assert _add(platform, 3) == 0 and _add(platform, 3) == 0
    assert asked == ["default"]  # asked once, not once per request
    monkeypatch.setattr(platform.store, "log_rates", real)
    now = module.time.monotonic()
    monkeypatch.setattr(module.time, "monotonic", lambda: now + module.RATES_RETRY_S + 1)  # the wait is over
    assert _add(platform, 3) == 3
