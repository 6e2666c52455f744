"""Evaluation plots of a model version: one PNG per kind, problems for the wrong kind or object."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from shopfloor.errors import InvalidInput
from shopfloor.explain import plots

Api = Any
PNG = b"\x89PNG\r\n\x1a\n"
URL = "/v1/models/{name}/versions/{version}/plots/{kind}"


def _table(n: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x1 = rng.normal(size=n)
    x2 = rng.normal(size=n)
    kind = rng.choice(["L", "M", "H"], size=n)
    y = ((x1 + 0.5 * x2 + (kind == "H") * 1.0 + rng.normal(scale=0.3, size=n)) > 1.0).astype(int)
    return pd.DataFrame(
        {
            "serial": [f"S{i:05d}" for i in range(n)],
            "Air temperature [K]": x1,
            "Rotational speed [rpm]": x2,
            "Type": kind,
            "failure": y,
            "wear": 10 * x1 - 3 * x2 + rng.normal(size=n),
        }
    )


def _train(api: Api, task: str, target: str, model_name: str) -> None:
    upload = api.client.post(
        "/v1/datasets",
        headers=api.headers("builder"),
        files={"file": ("t.csv", _table().to_csv(index=False).encode(), "text/csv")},
    )
    assert upload.status_code == 201, upload.text
    other = "wear" if target == "failure" else "failure"
    body = {
        "type": "train",
        "task": task,
        "dataset_id": upload.json()["id"],
        "target": target,
        "exclude": ["serial", other],
        "model_name": model_name,
        "time_budget_s": 10,
    }
    response = api.client.post("/v1/jobs", json=body, headers=api.headers("builder"))
    assert response.status_code == 202, response.text
    api.run_jobs()
    done = api.client.get(f"/v1/jobs/{response.json()['id']}", headers=api.headers("builder")).json()
    assert done["status"] == "succeeded", done


def _train_line1(api: Api) -> None:
    _train(api, "tabular_classification", "failure", "line1")


@pytest.fixture()
def trained(api_with: Any) -> Api:
    """line1 version 1, trained once per run; each test changes only its own copy."""
    return api_with(_train_line1)


def _assert_png(response: Any) -> None:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    assert response.content.startswith(PNG)
    assert 5_000 < len(response.content) < 1_000_000


@pytest.mark.parametrize("kind", [k for k in plots.KINDS if k != "horizon"])  # horizon: forecast models
def test_every_kind_is_a_png(trained: Api, kind: str) -> None:
    for who in ("admin", "builder", "consumer"):
        response = trained.client.get(
            URL.format(name="line1", version=1, kind=kind), headers=trained.headers(who)
        )
        _assert_png(response)


def test_unknown_kind_is_422_listing_the_kinds(trained: Api) -> None:
    response = trained.client.get(
        URL.format(name="line1", version=1, kind="pie"), headers=trained.headers("consumer")
    )
    assert response.status_code == 422
    problem = response.json()
    assert problem["errors"][0]["loc"] == ["path", "kind"]
    assert all(kind in problem["detail"] for kind in plots.KINDS)


def test_unknown_version_and_other_tenant_are_404(trained: Api) -> None:
    url = URL.format(name="line1", version=1, kind="confusion")
    assert trained.client.get(url, headers=trained.headers("other")).status_code == 404
    missing = URL.format(name="line1", version=7, kind="confusion")
    assert trained.client.get(missing, headers=trained.headers("consumer")).status_code == 404
    nobody = URL.format(name="ghost", version=1, kind="stability")
    assert trained.client.get(nobody, headers=trained.headers("consumer")).status_code == 404


def test_regression_has_no_confusion_matrix(api: Api) -> None:
    _train(api, "tabular_regression", "wear", "wear")
    h = api.headers("consumer")
    response = api.client.get(URL.format(name="wear", version=1, kind="confusion"), headers=h)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert "classification" in detail and "stability" in detail and "importance" in detail
    for kind in ("importance", "stability", "candidates"):
        _assert_png(api.client.get(URL.format(name="wear", version=1, kind=kind), headers=h))


def test_rendering_functions_are_pure() -> None:
    confusion = plots.confusion_png([[50, 3], [4, 13]], [0, 1], threshold=0.37, f1=0.79)
    importance = plots.importance_png(
        {"Air temperature [K]": 0.8, "Process temperature [K]": 0.3, "Type": 0.05}, output_space="log_odds"
    )
    stability = plots.stability_png(
        {"f1": {"mean": 0.8, "std": 0.03}, "brier": {"mean": 0.05, "std": 0.01}},
        {"f1": 0.82, "brier": 0.04},
        n_splits=5,
    )
    candidates = plots.candidates_png(
        [
            {"name": "logistic", "cv_score": 0.71, "cv_std": 0.04, "chosen": False},
            {"name": "lightgbm", "cv_score": 0.83, "cv_std": 0.02, "chosen": True},
        ],
        metric="f1",
    )
    for png in (confusion, importance, stability, candidates):
        assert png.startswith(PNG) and len(png) > 5_000
    with pytest.raises(ValueError, match="labels"):
        plots.confusion_png([[1, 2], [3, 4]], ["a", "b", "c"])


def test_sdk_and_cli_save_the_png(trained: Api, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import httpx
    from typer.testing import CliRunner

    from shopfloor import cli_common
    from shopfloor.cli import app
    from shopfloor.client import Client

    def forward(request: httpx.Request) -> httpx.Response:
        # The SDK's requests go to the in-process app, so both ends are the real code.
        answer = trained.client.request(
            request.method, request.url.raw_path.decode(), headers=dict(request.headers)
        )
        return httpx.Response(answer.status_code, headers=answer.headers, content=answer.content)

    def client() -> Client:
        return Client("http://testserver", trained.keys["consumer"], transport=httpx.MockTransport(forward))

    with client() as sdk:
        assert sdk.plot("line1", 1, "candidates").startswith(PNG)
        saved = sdk.plot("line1", 1, "confusion", dest=tmp_path / "c.png")
        assert saved.read_bytes().startswith(PNG)
        with pytest.raises(InvalidInput):
            sdk.plot("line1", 1, "pie")

    monkeypatch.setattr(cli_common, "make_client", client)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["models", "plot", "line1", "--kind", "stability"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "line1-v1-stability.png"
    assert (tmp_path / "line1-v1-stability.png").read_bytes().startswith(PNG)
    out = tmp_path / "imp.png"
    result = CliRunner().invoke(app, ["models", "plot", "line1", "--kind", "importance", "-o", str(out)])
    assert result.exit_code == 0 and result.stdout.strip() == str(out)
    assert out.read_bytes().startswith(PNG)


def test_candidates_chart_reads_rul_scores_and_refuses_reports_without_scores() -> None:
    """RUL candidates carry their held-out metrics, anomaly ones no comparable score: the chart
    used to raise (500) for both."""
    from shopfloor.services.plots import applicable_kinds, candidate_scores

    rul = {
        "metric": "rmse",
        "candidates": [
            {"name": "lightgbm", "metrics": {"rmse": 12.7, "mae": 8.8}, "chosen": False},
            {"name": "ensemble", "metrics": {"rmse": 12.6, "mae": 8.6}, "chosen": True},
        ],
    }
    rows = candidate_scores(rul)
    assert [(r["name"], r["cv_score"]) for r in rows] == [("lightgbm", 12.7), ("ensemble", 12.6)]
    assert "candidates" in applicable_kinds(rul)
    assert plots.candidates_png(rows, metric="rmse").startswith(PNG)
    anomaly = {"candidates": [{"name": "pca", "detection_rate": 0.9, "chosen": True}]}
    assert candidate_scores(anomaly) == [] and "candidates" not in applicable_kinds(anomaly)
