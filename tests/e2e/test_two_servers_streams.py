"""Two real servers on one home (the embedded SQLite registry): a stream whose calls go to one, then
the other, in runs and point by point, scores exactly as through one server, resets included."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from shopfloor import Client

sys.path.insert(0, str(Path(__file__).parent))
from server import Server  # noqa: E402

pytestmark = pytest.mark.e2e

SHARED_ENV = {
    # Both servers must hash API keys and open data keys alike, so the secrets are given, not generated.
    "SHOPFLOOR_SECRET_KEY": "two-servers-streams-secret-0123456789abcdef",
    "SHOPFLOOR_MASTER_KEY": "0d" * 32,
    "SHOPFLOOR_RATE_LIMIT_PER_MINUTE": "100000",
    "SHOPFLOOR_TENANT_REQUESTS_PER_MINUTE": "100000",
}
MODEL = "oven"


def _readings(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(11)
    times = pd.date_range("2024-03-01", periods=n, freq="5min")
    value = 200 + 10 * np.sin(2 * np.pi * np.arange(n) / 288) + rng.normal(0, 1, n)
    value[n - 40] += 25  # a fault among the streamed readings
    return pd.DataFrame({"timestamp": times.strftime("%Y-%m-%d %H:%M:%S"), "temp": value.round(2)})


@pytest.fixture()
def servers(tmp_path: Path) -> Iterator[tuple[Client, Client]]:
    home = tmp_path / "home"
    a, b = Server(home, **SHARED_ENV), Server(home, **SHARED_ENV)
    try:
        a.start()  # A migrates the registry and prints the first admin key
        b.start()
        key = a.admin_key()
        assert key, "the first server prints an admin key"
        with Client(a.url, key) as ca, Client(b.url, key) as cb:
            yield ca, cb
    finally:
        a.stop()
        b.stop()


def test_a_stream_through_two_servers_scores_as_through_one(
    servers: tuple[Client, Client], tmp_path: Path
) -> None:
    ca, cb = servers
    frame = _readings(700)
    history = tmp_path / "oven.csv"
    frame.head(500).to_csv(history, index=False)
    dataset = ca.upload_dataset(history)
    job = ca.train(dataset["id"], None, MODEL, task="series_anomaly")
    assert ca.wait(job["id"], timeout=300)["status"] == "succeeded"
    points = frame.tail(200).to_dict("records")

    def stream(order: list[int]) -> list[Any]:
        out = []
        for i, point in zip(order, points, strict=True):
            out += (ca, cb)[i].score(MODEL, [point], version=1)["results"][0]["points"]
        return out

    alone = stream([0] * len(points))
    assert any(p["is_anomaly"] for p in alone)
    runs = [i // 25 % 2 for i in range(len(points))]  # 25 calls on one server, then 25 on the other
    for order in (runs, [i % 2 for i in range(len(points))], [1] * len(points)):
        ca.reset_stream(MODEL)
        assert stream(order) == alone
    # a reset through one server while the other holds the stream's state: both start it afresh
    ca.reset_stream(MODEL)
    head = stream([0] * 100 + [1] * 100)[:100]
    cb.reset_stream(MODEL)
    again = [ca.score(MODEL, [p], version=1)["results"][0]["points"] for p in points[:100]]
    assert [p for answer in again for p in answer] == head == alone[:100]
