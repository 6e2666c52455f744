"""The training profile: what it keeps, how it is stored (JSON and npz, no pickle) and read back."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest

from shopfloor.errors import ArtifactCorrupted
from shopfloor.monitoring.profile import PROFILE_FILE, REFERENCE_FILE, Profile, build_profile, unit_of


def _table(n: int = 600) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "Torque [Nm]": rng.normal(40, 10, n),
            "Speed [rpm]": rng.normal(1500, 100, n),
            "Type": rng.choice(["L", "M", "H"], n, p=[0.6, 0.3, 0.1]),
            "ok": rng.random(n) > 0.2,
            "note": rng.choice(["replace hose", "check pump seal", "engine noisy"], n),
            "photo": [b"..."] * n,
            "trace": [[1.0, 2.0]] * n,
        }
    )


COLUMNS = [
    {"name": "Torque [Nm]", "type": "numeric"},
    {"name": "Speed [rpm]", "type": "numeric"},
    {"name": "Type", "type": "categorical"},
    {"name": "ok", "type": "boolean"},
    {"name": "note", "type": "text"},
    {"name": "photo", "type": "image"},
    {"name": "trace", "type": "waveform"},
    {"name": "gone", "type": "numeric"},
]


def test_profile_keeps_each_kind_and_says_what_it_skipped() -> None:
    frame = _table()
    outputs = pd.DataFrame({"prediction": ["a", "b"] * 100, "probability of b": np.linspace(0, 1, 200)})
    embeddings = {"note": np.random.default_rng(1).normal(size=(600, 8)).astype(np.float32)}
    profile = build_profile(frame, COLUMNS, outputs=outputs, embeddings=embeddings)
    kinds = {f.name: (f.kind, f.role) for f in profile.features}
    assert kinds == {
        "Torque [Nm]": ("numeric", "input"),
        "Speed [rpm]": ("numeric", "input"),
        "Type": ("categorical", "input"),
        "ok": ("categorical", "input"),
        "note: words": ("numeric", "input"),
        "note: unseen words": ("numeric", "input"),
        "note": ("embedding", "input"),
        "prediction": ("categorical", "output"),
        "probability of b": ("numeric", "output"),
    }
    assert {s["name"]: s["why"] for s in profile.skipped} == {
        "photo": "the model family computes no embeddings of its images",
        "trace": "waveform inputs are not compared",
        "gone": "not in the training table",
    }
    torque = profile.features[0]
    assert torque.unit == "Nm" and len(torque.sample) == 600 and len(torque.edges) == 9
    assert sum(torque.shares) == pytest.approx(1.0)
    assert profile.features[3].counts.keys() == {"true", "false"}
    assert profile.columns() == ["Torque [Nm]", "Speed [rpm]", "Type", "ok", "note"]
    assert profile.multivariate is not None and profile.multivariate.encoding.columns == [
        "Torque [Nm]", "Speed [rpm]", "Type", "ok",
    ]
    assert profile.vocabularies["note"]


def test_stored_as_json_and_npz_and_read_back() -> None:
    frame = _table()
    embeddings = {"note": np.random.default_rng(1).normal(size=(600, 8)).astype(np.float32)}
    profile = build_profile(frame, COLUMNS, embeddings=embeddings)
    files = profile.to_files()
    assert set(files) == {PROFILE_FILE, REFERENCE_FILE}
    assert json.loads(files[PROFILE_FILE])["format"] == 1
    with np.load(io.BytesIO(files[REFERENCE_FILE]), allow_pickle=False) as npz:
        assert all(npz[name].dtype != object for name in npz.files)
    again = Profile.from_files(files)
    assert [f.to_dict() for f in again.features] == [f.to_dict() for f in profile.features]
    for a, b in zip(again.features, profile.features, strict=True):
        assert np.array_equal(a.sample, b.sample)
    assert again.multivariate is not None and profile.multivariate is not None
    assert np.array_equal(again.multivariate.rows, profile.multivariate.rows)
    assert again.public()["inputs"][0]["summary"]["mean"] == pytest.approx(frame["Torque [Nm]"].mean())
    assert len(files[REFERENCE_FILE]) < 200_000


@pytest.mark.parametrize(
    "damage",
    [
        lambda f: {**f, PROFILE_FILE: b"{not json"},
        lambda f: {**f, PROFILE_FILE: json.dumps({"format": 99}).encode()},
        lambda f: {**f, REFERENCE_FILE: b"PK\x03\x04 broken"},
        lambda f: {PROFILE_FILE: f[PROFILE_FILE]},
    ],
)
def test_a_damaged_profile_is_refused(damage) -> None:  # type: ignore[no-untyped-def]
    files = build_profile(_table(100), COLUMNS[:3]).to_files()
    with pytest.raises(ArtifactCorrupted):
        Profile.from_files(damage(files))


def test_units_from_column_names() -> None:
    assert unit_of("Process temperature [K]") == "K"
    assert unit_of("Tool wear [min]") == "min"
    assert unit_of("speed") is None and unit_of("a [b] c") is None
