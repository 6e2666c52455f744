"""The whole user story on AI4I against the real server in a subprocess, driven by the SDK and the CLI.

The model trains once for the module with a 10 s search (the other trainings 5 s): the test checks
that the story works, not how good the model is. The accuracy targets on AI4I (hold-out F1 >= 0.85,
PR-AUC >= 0.88 with the default 300 s budget) are measured by ``bench/train_tabular.py`` (section
``train_tabular`` of docs/benchmarks.md); here the model only has to beat chance by far.
"""

from __future__ import annotations

import io
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from shopfloor import Client
from shopfloor.errors import InvalidInput

sys.path.insert(0, str(Path(__file__).parent))
from server import BIN, Server  # noqa: E402

pytestmark = pytest.mark.e2e

TARGET = "Machine failure"
EXCLUDE = ["UDI", "Product ID", "TWF", "HDF", "PWF", "OSF", "RNF"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("e2e") / "home").start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def client(server: Server) -> Iterator[Client]:
    key = server.admin_key()
    assert key, "the first start prints an admin key"
    with Client(server.url, key) as c:
        yield c


@pytest.fixture(scope="module")
def story(client: Client, ai4i_path: Path) -> dict:
    """Upload, train with progress, promote: the shared start of every check below."""
    dataset = client.upload_dataset(ai4i_path)
    assert dataset["rows"] == 10000 and dataset["name"] == "ai4i2020"
    job = client.train(dataset["id"], TARGET, "ai4i-failure", exclude=EXCLUDE, time_budget_s=10, seed=0)
    seen: list[tuple[float, str]] = []
    done = client.wait(
        job["id"], timeout=900, poll=0.5, on_progress=lambda j: seen.append((j["progress"], j["stage"]))
    )
    assert done["status"] == "succeeded", done
    progress = [p for p, _ in seen]
    assert progress == sorted(progress) and len({s for _, s in seen}) >= 3
    version = client.get_version("ai4i-failure", done["result"]["version"])
    client.set_alias("ai4i-failure", "production", version["version"])
    return {"dataset": dataset, "version": version}


def _rows(path: Path, n: int) -> list[dict]:
    frame = pd.read_csv(path, encoding="utf-8-sig").drop(columns=EXCLUDE + [TARGET])
    failures = pd.read_csv(path, encoding="utf-8-sig")[TARGET] == 1
    return pd.concat([frame[failures].head(n), frame[~failures].head(n)]).to_dict("records")


def test_report_beats_chance(story: dict) -> None:
    """Failures are 3.4 % of the rows: chance-level PR-AUC is 0.034 and chance F1 about as low."""
    version = story["version"]
    m = version["metrics"]
    assert m["f1"] >= 0.5, m
    assert m["pr_auc"] >= 0.5, m
    for name in (
        "accuracy",
        "balanced_accuracy",
        "precision",
        "recall",
        "roc_auc",
        "brier",
        "confusion_matrix",
    ):
        assert name in m
    assert version["stability"]["n"] >= 5 and "f1" in version["stability"]["metrics"]
    assert {c["name"] for c in version["candidates"]} >= {"linear", "random_forest", "lightgbm"} or len(
        {c.get("family", c["name"].split("-")[0]) for c in version["candidates"]}
    ) >= 3
    lineage = version["lineage"]
    assert (
        lineage["dataset_id"] == story["dataset"]["id"]
        and lineage["dataset_sha256"] == story["dataset"]["sha256"]
    )


def test_predict_explain_rules(client: Client, story: dict, ai4i_path: Path) -> None:
    rows = _rows(ai4i_path, 5)
    predicted = client.predict("ai4i-failure", rows)
    assert predicted["version"] == story["version"]["version"]
    labels = [p["label"] for p in predicted["predictions"]]
    assert sum(labels[:5]) >= 3 and sum(labels[5:]) <= 1  # failures mostly caught, healthy rows mostly not
    explained = client.explain("ai4i-failure", rows[:3])
    for e in explained["explanations"]:
        assert set(e["contributions"]) == set(rows[0])
        assert abs(e["base_value"] + sum(e["contributions"].values()) - e["output"]) <= 1e-6
    constructed = explained["explanations"][0]["constructed"]
    features = story["version"]["report"]["features"]["constructed"]
    assert set(constructed) == {f["name"] for f in features}
    lime = client.explain("ai4i-failure", rows[:1], method="lime")
    assert lime["method"] == "lime" and lime["explanations"][0]["contributions"]
    rules = client.rules("ai4i-failure")
    assert rules["fidelity"] >= 0.9 and rules["rules"]
    with pytest.raises(InvalidInput) as err:
        client.predict("ai4i-failure", [{k: v for k, v in rows[0].items() if k != "Torque [Nm]"}])
    assert err.value.errors[0]["loc"][-1] == "Torque [Nm]"


def test_batch_scoring(client: Client, story: dict, ai4i_path: Path, tmp_path: Path) -> None:
    job = client.batch("ai4i-failure", ai4i_path)
    done = client.wait(job["id"], timeout=300)
    assert done["status"] == "succeeded", done
    scored = pd.read_csv(io.BytesIO(client.job_result(job["id"])))
    assert len(scored) == 10000 and "prediction" in scored.columns


def test_predict_stays_fast_while_training_and_leakage_is_flagged(
    client: Client, story: dict, ai4i_path: Path
) -> None:
    rows = _rows(ai4i_path, 1)[:1]
    leaky = client.train(
        story["dataset"]["id"], TARGET, "ai4i-leaky", exclude=["UDI", "Product ID"], time_budget_s=5
    )
    deadline = time.monotonic() + 60
    while client.get_job(leaky["id"])["status"] != "running" and time.monotonic() < deadline:
        time.sleep(0.2)
    latencies = []
    for _ in range(30):
        start = time.perf_counter()
        client.predict("ai4i-failure", rows)
        latencies.append(time.perf_counter() - start)
    assert client.get_job(leaky["id"])["status"] == "running"
    assert statistics.median(latencies) < 0.05, latencies
    done = client.wait(leaky["id"], timeout=600)
    assert done["status"] == "succeeded", done
    warnings = client.get_version("ai4i-leaky", 1)["report"]["warnings"]
    flagged = {w.get("feature") for w in warnings if w.get("code") == "possible-leakage"}
    assert flagged & {"TWF", "HDF", "PWF", "OSF", "RNF"}, warnings


def test_cancel_a_running_job(client: Client, story: dict) -> None:
    job = client.train(story["dataset"]["id"], TARGET, "ai4i-cancelled", exclude=EXCLUDE)
    deadline = time.monotonic() + 60
    while client.get_job(job["id"])["status"] != "running" and time.monotonic() < deadline:
        time.sleep(0.2)
    client.cancel_job(job["id"])
    deadline = time.monotonic() + 30
    while client.get_job(job["id"])["status"] == "running" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert client.get_job(job["id"])["status"] == "cancelled"


def _cli(server: Server, key: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**server.env, "SHOPFLOOR_URL": server.url, "SHOPFLOOR_API_KEY": key}
    return subprocess.run(
        [str(BIN / "shopfloor"), *args], env=env, capture_output=True, text=True, timeout=600
    )


def test_cli_walkthrough(
    server: Server, client: Client, story: dict, ai4i_path: Path, tmp_path: Path
) -> None:
    made = _cli(server, "", "keys", "create", "--role", "builder")
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    assert key.startswith("sfk_") and "\n" not in key
    sample = tmp_path / "ai4i-sample.csv"  # the CLI's own upload and training: 2,000 rows are enough
    pd.read_csv(ai4i_path, encoding="utf-8-sig").head(2000).to_csv(sample, index=False)
    up = _cli(server, key, "datasets", "upload", str(sample), "--name", "ai4i-cli")
    assert up.returncode == 0, up.stderr
    frame = pd.DataFrame(_rows(ai4i_path, 3))
    csv = tmp_path / "new.csv"
    frame.to_csv(csv, index=False)
    for args in (
        ["models", "list"],
        ["models", "show", "ai4i-failure"],
        ["predict", "ai4i-failure", str(csv)],
        ["explain", "ai4i-failure", str(csv)],
        ["rules", "ai4i-failure"],
    ):
        out = _cli(server, key, *args)
        assert out.returncode == 0, (args, out.stderr)
    predicted = _cli(server, key, "predict", "ai4i-failure", str(csv), "--json")
    assert '"predictions"' in predicted.stdout
    scored = tmp_path / "scored.csv"
    batch = _cli(server, key, "batch", "ai4i-failure", str(csv), "-o", str(scored))
    assert batch.returncode == 0, batch.stderr
    assert len(pd.read_csv(scored)) == 6
    dataset_id = client.list_datasets()[0]["id"]
    train = _cli(
        server,
        key,
        "train",
        "--dataset",
        dataset_id,
        "--target",
        TARGET,
        "--exclude",
        ",".join(EXCLUDE),
        "--name",
        "ai4i-cli",
        "--time-budget",
        "5",
    )
    assert train.returncode == 0, train.stderr
    bad = _cli(server, key, "train", "--dataset", dataset_id, "--target", "nope", "--name", "x")
    assert bad.returncode == 1 and "nope" in bad.stderr


def test_job_running_when_the_server_dies_is_failed_on_restart(
    server: Server, client: Client, story: dict
) -> None:
    job = client.train(story["dataset"]["id"], TARGET, "ai4i-killed", exclude=EXCLUDE)
    deadline = time.monotonic() + 60
    while client.get_job(job["id"])["status"] != "running" and time.monotonic() < deadline:
        time.sleep(0.2)
    server.kill()
    server.start()
    after = client.get_job(job["id"])
    assert after["status"] == "failed" and "stopped" in after["error"]
    # what was acknowledged before the crash is still served
    assert client.get_model("ai4i-failure")["aliases"] == {"production": story["version"]["version"]}
