"""A deployed model watched, for the tests of what reads the prediction log: ``mill``, an AI4I-like
failure classifier in production whose every prediction is logged, and helpers that serve it rows
as a line would (50 records per request, the tests' limit) and send the true outcomes back."""

from __future__ import annotations

from typing import Any

import pandas as pd

import ai4i_like

MODEL = "mill"
PER_REQUEST = 50


def build(api: Any) -> None:
    """``mill`` version 1 trained on 800 AI4I-like rows, in production, logging every prediction."""
    frame = ai4i_like.table(800, seed=1)
    files = {"file": ("mill.csv", frame.to_csv(index=False).encode(), "text/csv")}
    dataset = api.client.post("/v1/datasets", headers=api.headers("builder"), files=files)
    assert dataset.status_code == 201, dataset.text
    body = {
        "task": "tabular_classification", "dataset_id": dataset.json()["id"], "target": ai4i_like.TARGET,
        "exclude": ai4i_like.EXCLUDE, "model_name": MODEL, "time_budget_s": 3, "seed": 0,
    }
    assert api.client.post("/v1/jobs", json=body, headers=api.headers("builder")).status_code == 202
    api.run_jobs()
    builder = api.headers("builder")
    moved = api.client.put(f"/v1/models/{MODEL}/aliases/production", json={"version": 1}, headers=builder)
    assert moved.status_code == 200, moved.text
    logged = api.client.put(f"/v1/models/{MODEL}/prediction-log", json={"rate": 1}, headers=builder)
    assert logged.status_code == 200, logged.text


def rows(n: int, seed: int, shifted: bool = False) -> pd.DataFrame:
    """``n`` rows as the line sends them (with their true outcome); ``shifted``: tools run longer."""
    return ai4i_like.table(n, seed=seed, process="after" if shifted else "before")


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return frame.drop(columns=[*ai4i_like.EXCLUDE, ai4i_like.TARGET]).to_dict("records")


def serve(api: Any, frame: pd.DataFrame, prefix: str, who: str = "consumer") -> list[dict[str, Any]]:
    """Predict every row of ``frame``, request ``{prefix}-{k}`` per 50; flushed to the log. Returns
    the feedback items (request id, index, true outcome) of every row."""
    items: list[dict[str, Any]] = []
    sent = records(frame)
    truth = frame[ai4i_like.TARGET].tolist()
    for k, start in enumerate(range(0, len(sent), PER_REQUEST)):
        request_id = f"{prefix}-{k}"
        headers = {**api.headers(who), "X-Request-ID": request_id}
        body = {"records": sent[start : start + PER_REQUEST]}
        answered = api.client.post(f"/v1/models/{MODEL}/predict", json=body, headers=headers)
        assert answered.status_code == 200, answered.text
        items += [
            {"request_id": request_id, "index": i, "outcome": int(truth[start + i])}
            for i in range(len(body["records"]))
        ]
    api.platform.prediction_log.flush()
    return items


def feedback(api: Any, items: list[dict[str, Any]]) -> None:
    path = f"/v1/models/{MODEL}/feedback"
    sent = api.client.post(path, json={"items": items}, headers=api.headers("consumer"))
    assert sent.status_code == 200, sent.text
