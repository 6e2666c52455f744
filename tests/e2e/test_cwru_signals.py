"""CWRU fan-end bearing recordings through the SDK against the real server: a zip of ``.mat`` files
with a labels table uploaded, fault location trained, recordings of an unseen load predicted and one
explained with its envelope spectrum.

A small subset keeps it short: the 0.007" faults (ball, inner race, outer race at 6 o'clock) at
loads 0 and 1 for training and load 2 for testing, each cut to its first two seconds before the
upload (the files are about ten). The whole data set with both evaluation protocols is
bench/signals_cwru.py.
"""

from __future__ import annotations

import base64
import io
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from shopfloor import Client

sys.path.insert(0, str(Path(__file__).parent))
from server import serve_admin  # noqa: E402

pytestmark = pytest.mark.e2e

RATE = 12_000
SECONDS = 2
FAULTS = {"B007": "B", "IR007": "IR", "OR007@6": "OR"}
#: The fan-end bearing's defect orders as published for this rig (see bench/signals_cwru.py).
ORDERS = {"BPFO": 3.0530, "BPFI": 4.9469, "FTF": 0.3817, "BSF": 3.9874}


@pytest.fixture(scope="module")
def cwru(data_dir: Path) -> Path:
    path = data_dir / "cwru_fan_end" / "12k_FE"
    if not (path / "B007_0.mat").exists():
        pytest.fail(f"CWRU fan-end recordings not found under {path}; set SHOPFLOOR_DATA_DIR")
    return path


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    yield from serve_admin(tmp_path_factory.mktemp("cwru") / "home")


def _first_seconds(path: Path) -> tuple[bytes, np.ndarray, float]:
    """The file cut to its first seconds as a MATLAB file with its own variable names, its fan-end
    samples and its recorded speed."""
    from scipy.io import loadmat, savemat

    variables = {k: v for k, v in loadmat(path).items() if not k.startswith("__")}
    cut = {k: v[: SECONDS * RATE] if v.shape[0] > 1 else v for k, v in variables.items()}
    out = io.BytesIO()
    savemat(out, cut)
    fan_end = np.ravel(next(v for k, v in cut.items() if k.endswith("FE_time")))
    rpm = float(np.ravel(next(v for k, v in cut.items() if k.endswith("RPM")))[0])
    return out.getvalue(), fan_end, rpm


def _record(samples: np.ndarray, rpm: float) -> dict:
    encoded = base64.b64encode(samples.astype("<f4").tobytes()).decode()
    return {"FE_time": encoded, "sampling_rate": RATE, "rpm": rpm}


def test_fault_location_of_an_unseen_load(client: Client, cwru: Path, tmp_path: Path) -> None:
    buffer = io.BytesIO()
    held_out = []
    with zipfile.ZipFile(buffer, "w") as zf:
        lines = ["file,label,group,rpm"]
        for stem, label in FAULTS.items():
            for load in (0, 1):
                data, _, rpm = _first_seconds(cwru / f"{stem}_{load}.mat")
                zf.writestr(f"{stem}_{load}.mat", data)
                lines.append(f"{stem}_{load}.mat,{label},{stem}_{load},{rpm:g}")
            _, samples, rpm = _first_seconds(cwru / f"{stem}_2.mat")
            held_out.append((label, _record(samples, rpm)))
        zf.writestr("labels.csv", "\n".join(lines) + "\n")
    upload = tmp_path / "cwru.zip"
    upload.write_bytes(buffer.getvalue())

    dataset = client.upload_dataset(
        upload, name="cwru-fan-end", format="signals", sampling_rate=RATE, channels="FE_time"
    )
    assert dataset["format"] == "signals" and dataset["rows"] == 6
    profile = next(c for c in dataset["columns"] if c["name"] == "FE_time")
    assert profile["type"] == "waveform" and set(profile["stats"]["spectra"]["db"]) == set(FAULTS.values())

    job = client.train(
        dataset["id"],
        "label",
        "fan-end-bearing",
        task="signal_classification",
        time_budget_s=10,
        options={"defect_orders": ORDERS, "candidates": ["logistic", "lightgbm"], "folds": 2},
    )
    done = client.wait(job["id"], timeout=120)
    version = done["result"]["version"]

    answers = client.predict("fan-end-bearing", [r for _, r in held_out], version=version)["predictions"]
    assert [a["label"] for a in answers] == [label for label, _ in held_out]
    assert all(a["windows"] == SECONDS * RATE // 2048 for a in answers)

    inner = next(r for label, r in held_out if label == "IR")
    (why,) = client.explain("fan-end-bearing", [inner], version=version)["explanations"]
    assert why["class"] == "IR" and why["contributions"]
    marked = {m["name"] for m in why["spectrum"]["markers"]}
    assert {"1x", "BPFI", "BPFO"} <= marked
