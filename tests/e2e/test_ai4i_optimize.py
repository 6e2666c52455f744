"""Prescriptive optimisation on AI4I through the SDK against the real server: for a machine the
failure model flags, the speed and torque that lower its failure probability at a minimum power."""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from shopfloor import Client

sys.path.insert(0, str(Path(__file__).parent))
from server import serve_admin  # noqa: E402

pytestmark = pytest.mark.e2e

TARGET = "Machine failure"
EXCLUDE = ["UDI", "Product ID", "TWF", "HDF", "PWF", "OSF", "RNF"]
SPEED, TORQUE = "Rotational speed [rpm]", "Torque [Nm]"
FIXED = ["Type", "Air temperature [K]", "Process temperature [K]", "Tool wear [min]"]
RAD_PER_S = 2 * math.pi / 60  # rpm -> rad/s: power W = torque Nm x rpm x 2 pi / 60
MIN_POWER_W = 3500
BOUNDS = {SPEED: {"min": 1200, "max": 2800}, TORQUE: {"min": 10, "max": 70}}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    yield from serve_admin(tmp_path_factory.mktemp("optimize") / "home")


@pytest.fixture(scope="module")
def model(client: Client, ai4i_path: Path) -> str:
    dataset = client.upload_dataset(ai4i_path)
    job = client.train(dataset["id"], TARGET, "ai4i-failure", exclude=EXCLUDE, time_budget_s=5, seed=0)
    done = client.wait(job["id"], timeout=240)
    client.set_alias("ai4i-failure", "production", done["result"]["version"])
    return "ai4i-failure"


@pytest.fixture(scope="module")
def flagged(client: Client, model: str, ai4i_path: Path) -> dict[str, Any]:
    """The power- or overstrain-failure row the model gives the highest failure probability."""
    frame = pd.read_csv(ai4i_path, encoding="utf-8-sig")
    rows = frame[(frame["PWF"] == 1) | (frame["OSF"] == 1)].drop(columns=[*EXCLUDE, TARGET])
    predicted = client.predict(model, rows)["predictions"]
    best = max(range(len(rows)), key=lambda i: predicted[i]["probabilities"]["1"])
    return {"record": rows.iloc[best].to_dict(), "probability": predicted[best]["probabilities"]["1"]}


def _request(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "controls": BOUNDS,
        "fixed": {name: row[name] for name in FIXED},
        "derived": {"power_w": {"product": [TORQUE, SPEED], "scale": RAD_PER_S}},
        "constraints": [{"terms": {"power_w": 1}, "op": ">=", "value": MIN_POWER_W}],
        "current": {SPEED: row[SPEED], TORQUE: row[TORQUE]},
    }


def _check(client: Client, model: str, answer: dict[str, Any], current_probability: float) -> dict[str, Any]:
    assert answer["status"] == "optimal", answer
    assert answer["output"] == {"kind": "probability", "class": "1"}
    settings = answer["best"]["settings"]
    for name, bounds in BOUNDS.items():
        assert bounds["min"] <= settings[name] <= bounds["max"], settings
    power = settings[TORQUE] * settings[SPEED] * RAD_PER_S
    assert power >= MIN_POWER_W, power
    again = client.predict(model, [answer["best"]["record"]])["predictions"][0]["probabilities"]["1"]
    assert again == pytest.approx(answer["best"]["predicted"], abs=1e-12)
    assert answer["best"]["predicted"] < current_probability
    assert answer["current"]["predicted"] == pytest.approx(current_probability, abs=1e-12)
    assert answer["current"]["improvement"] > 0
    return settings


def test_lower_failure_probability_at_a_minimum_power(
    client: Client, model: str, flagged: dict[str, Any]
) -> None:
    assert flagged["probability"] > 0.5
    started = time.perf_counter()
    answer = client.optimize(model, **_request(flagged["record"]), trials=200, seed=0)
    seconds = time.perf_counter() - started
    settings = _check(client, model, answer, flagged["probability"])
    u = answer["uncertainty"]
    assert u["p05"] <= u["mean"] <= u["p95"] and u["points"] > 0
    assert len(answer["runner_ups"]) >= 1 and set(answer["sensitivity"]) == {SPEED, TORQUE}
    print(  # noqa: T201
        f"\nAI4I optimize: failure probability {flagged['probability']:.3f} at "
        f"{flagged['record'][SPEED]:.0f} rpm / {flagged['record'][TORQUE]:.1f} Nm -> "
        f"{answer['best']['predicted']:.4f} at {settings[SPEED]:.0f} rpm / {settings[TORQUE]:.1f} Nm "
        f"({answer['best']['derived']['power_w']:.0f} W); p05-p95 {u['p05']:.4f}-{u['p95']:.4f}; "
        f"{answer['feasible_trials']}/{answer['trials']} feasible trials; server {answer['seconds']:.1f} s, "
        f"call {seconds:.1f} s"
    )


def test_a_large_budget_runs_as_a_job(client: Client, model: str, flagged: dict[str, Any]) -> None:
    answer = client.optimize(model, **_request(flagged["record"]), trials=320, sampler="cmaes", seed=1)
    _check(client, model, answer, flagged["probability"])
    assert answer["trials"] == 320 and answer["sampler"] == "cmaes"
    assert client.list_jobs()[0]["type"] == "optimize"
