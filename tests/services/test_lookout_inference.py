"""Inference schedulers in process: windows of files scored once (on whichever host claims them),
results and events written, failures recorded with their reason, and the background task that
runs due windows."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from lookout_setup import OTHER, PLANT, Plant, make_plant

import lookout_data as ld
from s3server import MotoServer
from shopfloor.bootstrap import prepare
from shopfloor.errors import Conflict, InvalidInput, NotFound
from shopfloor.services import lookout_inference as inference
from shopfloor.services import lookout_schedule as schedule
from shopfloor.services import lookout_training as training
from shopfloor.services.lookout_schedule import SchedulerSpec
from shopfloor.services.lookout_training import ModelSpec

BUCKET = "plant-lookout-live"
NAMING = {"format": "yyyyMMddHHmmss", "delimiter": "_", "utc_offset": None}


@pytest.fixture(scope="module")
def plant(
    tmp_path_factory: pytest.TempPathFactory, s3_server: MotoServer, data_dir: Path
) -> Iterator[Plant]:
    made = make_plant(tmp_path_factory.mktemp("lookout-live"), s3_server, BUCKET, data_dir)
    spec = ModelSpec(
        name="pump-1-model",
        dataset_name="pump-1",
        client_token="t",
        training=(ld.START, made.boundary()),
        sampling="PT1M",
        off="operating\\setting3 < 50",
        label_group="pump-1-labels",
    )
    labels = ld.label_ranges(made.table)
    training.create_model(made.platform, PLANT, spec, made.finder, lambda *_: labels)
    made.run_jobs()
    assert training.describe(made.platform, PLANT.tenant, "pump-1-model").status == "SUCCESS"
    yield made
    made.platform.close()


def _spec(name: str, **more: Any) -> SchedulerSpec:
    fields: dict[str, Any] = {
        "name": name,
        "model": "pump-1-model",
        "frequency": "PT5M",
        "delay_minutes": 0,
        "input_bucket": BUCKET,
        "input_prefix": f"{name}/in/",
        "output_bucket": BUCKET,
        "output_prefix": f"{name}/out/",
        "client_token": name,
    }
    return SchedulerSpec(**{**fields, **more})


def _put(plant: Plant, prefix: str, files: dict[str, bytes]) -> None:
    for file, body in files.items():
        plant.s3.put_object(Bucket=BUCKET, Key=prefix + file, Body=body)


def _rows(plant: Plant, unit: int, n: int, end: datetime) -> Any:
    life = plant.table[plant.table["unit"] == unit].tail(n)
    return ld.shifted(life, end - timedelta(minutes=n))


def test_window_files_follow_lookouts_naming() -> None:
    start, end = datetime(2024, 1, 1, 10, 0, tzinfo=UTC), datetime(2024, 1, 1, 10, 5, tzinfo=UTC)
    keys = [
        "in/pump_20240101100100.csv",
        "in/pump_20240101100500.csv",  # the next window
        "in/pump-motor_20240101100200.csv",  # another component whose name starts alike
        "in/pump_20240101100300.txt",
        "in/old/pump_20240101100100.csv",  # files in folders are not the prefix's
        "in/pump_notatime.csv",
    ]
    found = inference.window_files(keys, "in/", ["pump", "pump-motor"], NAMING, start, end)
    assert found == [
        ("pump", "in/pump_20240101100100.csv"),
        ("pump-motor", "in/pump-motor_20240101100200.csv"),
    ]
    epoch = {"format": "EPOCH", "delimiter": "", "utc_offset": None}
    stamp = int(start.timestamp()) + 60
    named = f"pump{stamp}.csv"
    assert inference.window_files([named], "", ["pump"], epoch, start, end) == [("pump", named)]
    dashed = {"format": "yyyy-MM-dd-HH-mm-ss", "delimiter": "-", "utc_offset": "+02:00"}
    name = "pump-2024-01-01-12-01-00.csv"  # 12:01 at +02:00 is 10:01 UTC
    assert inference.window_files([name], "", ["pump"], dashed, start, end) == [("pump", name)]


def test_windows_align_on_the_frequency() -> None:
    now = datetime(2024, 1, 1, 10, 7, 30, tzinfo=UTC)
    assert schedule.first_window(now, 300, 0) == datetime(2024, 1, 1, 10, 5, tzinfo=UTC)
    assert schedule.first_window(now, 300, 180) == datetime(2024, 1, 1, 10, 0, tzinfo=UTC)
    assert schedule.first_window(now, 3600, 0) == datetime(2024, 1, 1, 10, 0, tzinfo=UTC)


def test_a_window_is_scored_once_with_results_and_events(plant: Plant) -> None:
    platform = plant.platform
    made = schedule.create(platform, PLANT, _spec("live"))
    assert made.status == "RUNNING" and made.due_at is not None
    end = made.next_data_end
    assert end is not None and made.due_at <= datetime.now(UTC)
    rows = _rows(plant, 51, 60, end - timedelta(minutes=1))
    rows.loc[rows.index[:5], "operating\\setting3"] = 0.0  # the machine is off: left out
    _put(plant, "live/in/", ld.inference_files(rows, end - timedelta(minutes=1)))
    # two hosts look at once: one scores the window
    other = prepare(platform.settings)
    try:
        ran = inference.run_due(platform, now=end + timedelta(seconds=1))
        assert inference.run_due(other, now=end + timedelta(seconds=1)) == []
    finally:
        other.close()
    assert len(ran) == 1
    _, (run,) = schedule.executions(platform, PLANT.tenant, "live")
    assert run.status == "SUCCESS", run.failed_reason
    assert run.data_end == end and run.model_version == 1
    assert run.result_key == f"live/out/{end:%Y-%m-%d-%H-%M-%S}/results.jsonl"
    body = plant.s3.get_object(Bucket=BUCKET, Key=run.result_key)["Body"].read()
    lines = [json.loads(x) for x in body.decode().splitlines()]
    assert len(lines) == 55
    assert lines[0]["timestamp"] == rows[ld.TIME].iloc[5].strftime("%Y-%m-%dT%H:%M:%S.%f")
    assert {x["prediction_reason"] for x in lines} == {"ANOMALY_DETECTED", "NO_ANOMALY_DETECTED"}
    assert all((x["prediction"] == 1) == (x["anomaly_score"] > 0.5) for x in lines)
    _, events = schedule.events(platform, PLANT.tenant, "live", end - timedelta(hours=2), end)
    assert events and all(e.end >= e.start for e in events)
    assert abs(sum(d["value"] for d in events[-1].diagnostics) - 1) < 1e-3
    assert platform.store.get_lookout_scheduler(PLANT.tenant, "live").latest_result == "ANOMALOUS"
    with pytest.raises(NotFound):
        schedule.executions(platform, OTHER.tenant, "live")


def test_failures_are_recorded_with_their_reason(plant: Plant) -> None:
    platform = plant.platform
    made = schedule.create(platform, PLANT, _spec("broken"))
    end = made.next_data_end
    assert end is not None
    inference.run_due(platform, now=end + timedelta(seconds=1))  # nothing was put
    named_at = end + timedelta(minutes=4)
    files = ld.inference_files(_rows(plant, 50, 20, named_at), named_at)
    files[f"engine_{named_at:%Y%m%d%H%M%S}.csv"] = b"Timestamp,s2\n2024-01-01,1\n"  # one sensor of 21
    _put(plant, "broken/in/", files)
    inference.run_due(platform, now=end + timedelta(minutes=5, seconds=1))
    _, runs = schedule.executions(platform, PLANT.tenant, "broken")
    assert [r.status for r in runs] == ["FAILED", "FAILED"]
    assert "engine_" in (runs[0].failed_reason or "")
    assert "lacks the schema's column(s) s1, s3," in (runs[0].failed_reason or "")
    assert "no input file under s3://plant-lookout-live/broken/in/" in (runs[1].failed_reason or "")
    assert schedule.executions(platform, PLANT.tenant, "broken", status="SUCCESS")[1] == []


def test_stop_start_delete_and_refusals(plant: Plant) -> None:
    platform = plant.platform
    made = schedule.create(platform, PLANT, _spec("cycle"))
    assert schedule.create(platform, PLANT, _spec("cycle")) == made  # the same client token
    with pytest.raises(Conflict, match="already exists"):
        schedule.create(platform, PLANT, _spec("cycle", client_token="other"))
    with pytest.raises(Conflict, match="stop it before deleting"):
        schedule.delete(platform, PLANT, "cycle")
    assert schedule.stop(platform, PLANT, "cycle").status == "STOPPED"
    with pytest.raises(Conflict, match="already stopped"):
        schedule.stop(platform, PLANT, "cycle")
    inference.run_due(platform, now=datetime.now(UTC) + timedelta(hours=1))
    assert schedule.executions(platform, PLANT.tenant, "cycle")[1] == []
    assert schedule.start(platform, PLANT, "cycle").status == "RUNNING"
    schedule.stop(platform, PLANT, "cycle")
    schedule.delete(platform, PLANT, "cycle")
    with pytest.raises(NotFound):
        schedule.start(platform, PLANT, "cycle")
    with pytest.raises(InvalidInput, match="DataUploadFrequency"):
        schedule.create(platform, PLANT, _spec("bad", frequency="PT2M"))
    with pytest.raises(InvalidInput, match="no source of this tenant serves the bucket 'elsewhere'"):
        schedule.create(platform, PLANT, _spec("bad", input_bucket="elsewhere"))
    with pytest.raises(NotFound):
        schedule.create(platform, PLANT, _spec("bad", model="nope"))
    with pytest.raises(NotFound):
        schedule.create(platform, OTHER, _spec("bad"))
    with pytest.raises(Conflict, match="used by inference scheduler"):
        training.delete_model(platform, PLANT, "pump-1-model", ["live"])


def test_the_background_task_runs_due_windows(plant: Plant) -> None:
    platform = plant.platform
    made = schedule.create(platform, PLANT, _spec("watched"))
    assert made.next_data_end is not None

    async def until_run() -> None:
        task = asyncio.create_task(inference.watch(platform))  # polls every 0.2 s here
        try:
            for _ in range(100):
                if schedule.executions(platform, PLANT.tenant, "watched")[1]:
                    return
                await asyncio.sleep(0.1)
        finally:
            task.cancel()

    asyncio.run(until_run())
    (run,) = schedule.executions(platform, PLANT.tenant, "watched")[1]
    assert run.data_end == made.next_data_end and run.status == "FAILED"  # no file was put
    after = platform.store.get_lookout_scheduler(PLANT.tenant, "watched")
    assert after.next_data_end == made.next_data_end + timedelta(minutes=5)


def test_an_execution_whose_host_stopped_is_failed_by_the_sweep(plant: Plant) -> None:
    platform = plant.platform
    made = schedule.create(platform, PLANT, _spec("orphan"))
    claimed = inference.claim(platform, made, datetime.now(UTC))  # claimed, then the host stops
    assert claimed is not None
    assert inference.sweep(platform) == 0
    assert inference.sweep(platform, now=datetime.now(UTC) + timedelta(hours=2)) == 1
    (run,) = schedule.executions(platform, PLANT.tenant, "orphan")[1]
    assert run.status == "FAILED" and "stopped before it ended" in (run.failed_reason or "")
