"""Preprocessing state, record/frame parity and constructed-feature search."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd

from shopfloor.tasks.tabular.features import (
    Preprocessor,
    candidate_features,
    infer_column_types,
    search_features,
)


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "x [K]": [1.0, 2.0, np.nan, 4.0, 5.0, 6.0],
            "w": [2.0, 0.0, 1.0, 1.0, 3.0, 2.0],
            "on": [True, False, True, True, False, True],
            "Type": ["L", "L", "M", None, "L", "H"],
            "id": ["a", "b", "c", "d", "e", "f"],
            "t": [0, 1, 0, 1, 0, 1],
        }
    )


def test_infer_types_and_drops() -> None:
    used, dropped = infer_column_types(_frame(), "t", {"id": "id"})
    assert used == {"x [K]": "numeric", "w": "numeric", "on": "boolean", "Type": "categorical"}
    assert [d["name"] for d in dropped] == ["id"]
    serials = pd.DataFrame({"serial": [f"S{i}" for i in range(40)], "t": [0, 1] * 20})
    assert infer_column_types(serials, "t") == (
        {},
        [{"name": "serial", "reason": "column typed id is not used by tabular models"}],
    )
    used, _ = infer_column_types(_frame(), "t", {"w": "text"})
    assert "w" not in used


def test_expand_imputes_constructs_and_one_hots() -> None:
    frame = _frame()
    pre = Preprocessor.fit(frame, infer_column_types(frame, "t")[0])
    pre = pre.with_constructed(candidate_features(pre.numeric)[:3])
    X = pre.transform(frame)
    names = [c["name"] for c in pre.columns()]
    assert names[:3] == ["x [K]", "w", "on"]
    assert "x [K] - w" in names and "x [K] * w" in names and "x [K] / w" in names
    assert X[2, 0] == 4.0  # median of x
    assert X[1, names.index("x [K] / w")] == 0.0  # division by zero -> 0
    assert X[3, names.index("Type = L")] == 1.0  # missing -> most frequent
    assert X.shape == (6, pre.n_columns)


def test_record_row_matches_frame_and_json_round_trip() -> None:
    frame = _frame()
    pre = Preprocessor.fit(frame, infer_column_types(frame, "t")[0]).with_constructed(
        candidate_features(["x [K]", "w"])
    )
    again = Preprocessor.from_json(json.loads(json.dumps(pre.to_json())))
    X = again.transform(frame)
    for i, rec in enumerate(frame.to_dict("records")):
        rec = {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in rec.items()}
        row, warns = again.record_row(rec)
        assert np.allclose(row, X[i]) and warns == []
    row, warns = pre.record_row({"Type": "Z", "x [K]": "abc"})
    assert row[pre.n_columns - 3 :].sum() == 0.0
    assert len(warns) == 2 and "unseen category 'Z'" in warns[1]


def test_search_features_keeps_only_helpful() -> None:
    cands = [{"name": n, "op": "diff", "sources": [n, "b"]} for n in ("good", "useless", "also")]

    def loss(feats: list[dict]) -> float:
        return 1.0 - 0.5 * any(f["name"] == "good" for f in feats)

    kept, trials = search_features(cands, [0.1, 0.9, 0.5], loss)
    assert [k["name"] for k in kept] == ["good"]
    assert [t.get("feature") for t in trials[1:]] == ["useless", "also", "good"]
