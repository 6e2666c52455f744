"""POST /v1/models/{name}/batch for a model of every family: a scored table, or a clean 422 that
says what to use instead (never a 500, never a job that cannot run)."""

from __future__ import annotations

import io

import pandas as pd
import pytest

from conftest import Api
from zoo import Member

SCORED = ["tabular", "rul", "anomaly", "text_classification", "imported", "series_anomaly"]
REFUSED = {
    "forecast": "/v1/models/demand/forecast",
    "image_anomaly": "/v1/models/parts/predict",
    "image_classification": "/v1/models/inspect/predict",
}


def _batch(api: Api, member: Member, content: bytes) -> object:
    return api.client.post(
        f"/v1/models/{member.name}/batch?version=1",
        files={"file": ("rows.csv", content, "text/csv")},
        headers=api.headers("builder"),
    )


@pytest.mark.parametrize("family", SCORED)
def test_batch_scores_a_table_for_every_family_that_has_it(
    zoo: tuple[Api, dict[str, Member]], family: str
) -> None:
    api, members = zoo
    api.run_jobs()  # anything another test of the shared zoo left queued
    member = members[family]
    assert member.table is not None
    answer = _batch(api, member, member.table.to_csv(index=False).encode())
    assert answer.status_code == 202, answer.text
    api.run_jobs()
    job = api.client.get(f"/v1/jobs/{answer.json()['id']}", headers=api.headers("builder")).json()
    assert job["status"] == "succeeded", job
    result = api.client.get(f"/v1/jobs/{job['id']}/result", headers=api.headers("builder"))
    scored = pd.read_csv(io.BytesIO(result.content))
    assert len(scored) == len(member.table)
    assert len(scored.columns) > len(member.table.columns)


@pytest.mark.parametrize("family", sorted(REFUSED))
def test_batch_is_refused_with_a_422_for_forecasts_and_images(
    zoo: tuple[Api, dict[str, Member]], family: str
) -> None:
    """The forecast case answered 500 (KeyError 'asset': its layout was read as a sensor layout)."""
    api, members = zoo
    member = members[family]
    before = api.client.get("/v1/jobs", headers=api.headers("builder")).json()["items"]
    # A table shaped like the model's own data (the forecast one has its series and period columns).
    content = b"Product_Code,week,sales\nP0,2024-01-01,3\nP0,2024-01-08,4\n"
    answer = _batch(api, member, content)
    assert answer.status_code == 422, answer.text
    problem = answer.json()
    assert problem["errors"][0]["loc"] == ["path", "name"]
    assert "batch is not available" in problem["errors"][0]["msg"]
    assert REFUSED[family] in problem["detail"]
    assert api.client.get("/v1/jobs", headers=api.headers("builder")).json()["items"] == before
