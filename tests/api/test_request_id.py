"""Every answer carries an X-Request-ID (the client's when sane); a job stores the id of the request
that queued it, shows it, and its log lines carry it."""

from __future__ import annotations

import logging
import re
import threading

import numpy as np
import pandas as pd
import pytest

from conftest import Api


def _dataset(api: Api) -> str:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(80, 2))
    frame = pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "y": (x.sum(axis=1) > 0).astype(int)})
    answer = api.client.post(
        "/v1/datasets",
        files={"file": ("t.csv", frame.to_csv(index=False).encode(), "text/csv")},
        data={"name": "t"},
        headers=api.headers("builder"),
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def test_answers_echo_a_sane_id_and_replace_a_bad_one(api: Api) -> None:
    given = api.client.get("/v1/jobs", headers={**api.headers(), "X-Request-ID": "line-7:order/42"})
    assert given.status_code == 200 and given.headers["x-request-id"] == "line-7:order/42"
    bad = api.client.get("/v1/jobs", headers={**api.headers(), "X-Request-ID": "x" * 129})
    assert bad.status_code == 200 and re.fullmatch(r"[0-9a-f]{32}", bad.headers["x-request-id"])
    made = [api.client.get("/healthz").headers["x-request-id"] for _ in range(2)]
    assert made[0] != made[1] and all(re.fullmatch(r"[0-9a-f]{32}", m) for m in made)
    # refusals too: the key check (401), the body limit (413, answered before the app) and a 404
    unauthorized = api.client.get("/v1/jobs", headers={"X-Request-ID": "r-401"})
    assert unauthorized.status_code == 401 and unauthorized.headers["x-request-id"] == "r-401"
    big = api.client.post(
        "/v1/jobs", content=b"{" * (11 * 1024 * 1024), headers={**api.headers(), "X-Request-ID": "r-413"}
    )
    assert big.status_code == 413 and big.headers["x-request-id"] == "r-413"
    assert len(big.headers.get_list("x-request-id")) == 1


def test_a_job_keeps_the_id_of_the_request_that_queued_it(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    dataset = _dataset(api)
    body = {
        "task": "tabular_classification",
        "dataset_id": dataset,
        "target": "y",
        "model_name": "traced",
        "time_budget_s": 5,
    }
    answer = api.client.post(
        "/v1/jobs", json=body, headers={**api.headers("builder"), "X-Request-ID": "order-42"}
    )
    assert answer.status_code == 202, answer.text
    job = answer.json()
    assert job["request_id"] == "order-42" and job["attempts"] == 0
    from shopfloor.telemetry.logcontext import ContextFilter

    caplog.handler.addFilter(ContextFilter())
    with caplog.at_level(logging.INFO):
        api.run_jobs()
    done = api.client.get(f"/v1/jobs/{job['id']}", headers=api.headers()).json()
    assert done["status"] == "succeeded" and done["request_id"] == "order-42" and done["attempts"] == 1
    # the job ran in this thread; other threads of this test process (left by earlier modules) may log
    ours = [r for r in caplog.records if r.name.startswith("shopfloor") and r.thread == threading.get_ident()]
    assert ours, "the job logged nothing"
    assert all(
        (r.request_id, r.job_id, r.tenant) == ("order-42", job["id"], "default")  # type: ignore[attr-defined]
        for r in ours
    )
    # a job queued without a request (or with a generated id) shows what it has
    other = api.client.post(
        "/v1/jobs", json={**body, "model_name": "untraced"}, headers=api.headers("builder")
    )
    assert re.fullmatch(r"[0-9a-f]{32}", other.json()["request_id"])
    assert other.headers["x-request-id"] == other.json()["request_id"]
