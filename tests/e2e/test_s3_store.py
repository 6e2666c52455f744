"""The real server (API worker, job runner, job processes) with its artifacts in an S3-compatible
store, moto's server in its own process: it trains and serves from the bucket, holds only
ciphertext there, and rides out an outage of the store without a restart."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest

from s3server import MotoServer, s3_env
from shopfloor import Client

sys.path.insert(0, str(Path(__file__).parent))
from server import Server  # noqa: E402

pytestmark = pytest.mark.e2e


def _csv(path: Path) -> Path:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"spindle_load": rng.normal(size=200), "coolant_temp": rng.normal(size=200)})
    frame["scrap"] = (frame["spindle_load"] + frame["coolant_temp"] > 0).astype(int)
    frame.to_csv(path, index=False)
    return path


def test_a_server_on_s3_trains_serves_and_rides_out_an_outage(
    tmp_path: Path, s3_server: MotoServer, s3_bucket: str
) -> None:
    env = {f"SHOPFLOOR_{k.upper()}": str(v) for k, v in s3_env(s3_server, s3_bucket).items()}
    server = Server(tmp_path / "home", SHOPFLOOR_JOB_POLL_INTERVAL_S="0.2", **env).start()
    data = _csv(tmp_path / "cells.csv")
    try:
        key = server.admin_key()
        assert key, server.log.read_text()
        auth = {"Authorization": f"Bearer {key}"}
        assert httpx.get(f"{server.url}/readyz").json()["status"] == "ready"
        with Client(server.url, key) as client:
            dataset = client.upload_dataset(data, "cells")
            job = client.wait(
                client.train(dataset["id"], "scrap", "cell-7", time_budget_s=5)["id"], timeout=300
            )
            assert job["status"] == "succeeded", job
            answer = client.predict("cell-7", [{"spindle_load": 1.2, "coolant_temp": 0.4}], version=1)
            assert answer["predictions"][0]["label"] in (0, 1)

        bucket = s3_server.client()
        names = [o["Key"] for o in bucket.list_objects_v2(Bucket=s3_bucket)["Contents"]]
        assert {n.split("/")[2] for n in names} == {"datasets", "models"}
        for name in names:
            raw = bucket.get_object(Bucket=s3_bucket, Key=name)["Body"].read()
            assert raw[:4] == b"SFE1" and b"spindle_load" not in raw and b"PAR1" not in raw, name
        assert not (tmp_path / "home" / "artifacts").exists()

        s3_server.pause()
        try:
            ready = httpx.get(f"{server.url}/readyz", timeout=30)
            assert ready.status_code == 503 and ready.json()["failed"] == ["artifacts"]
            with data.open("rb") as fh:
                refused = httpx.post(
                    f"{server.url}/v1/datasets", headers=auth, files={"file": ("cells.csv", fh)}, timeout=60
                )
            assert refused.status_code == 503 and refused.headers["retry-after"] == "10", refused.text
            assert refused.json()["type"] == "urn:shopfloor:problem:store-unavailable"
            assert httpx.get(f"{server.url}/healthz").status_code == 200
        finally:
            s3_server.resume()
        assert httpx.get(f"{server.url}/readyz").status_code == 200
        with data.open("rb") as fh:
            again = httpx.post(f"{server.url}/v1/datasets", headers=auth, files={"file": ("cells.csv", fh)})
        assert again.status_code == 201, again.text
    finally:
        server.stop()
