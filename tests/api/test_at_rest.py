"""Protection at rest through the API: nothing readable on disk, tampering refused and audited."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from shopfloor.registry.orm import DatasetRow, VersionRow

Api = Any
RECORD = {"Speed [rpm]": 1.2, "Torque [Nm]": 0.4, "Type": "H"}


def _table(n: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
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


def _train(api: Api, dataset_id: str, model: str) -> None:
    body = {
        "type": "train",
        "task": "tabular_classification",
        "dataset_id": dataset_id,
        "target": "failure",
        "exclude": ["serial"],
        "model_name": model,
        "time_budget_s": 5,
    }
    response = api.client.post("/v1/jobs", json=body, headers=api.headers("builder"))
    assert response.status_code == 202, response.text


def _predict(api: Api, model: str, version: int) -> Any:
    return api.client.post(
        f"/v1/models/{model}/predict?version={version}",
        json={"records": [RECORD]},
        headers=api.headers("consumer"),
    )


def _train_models(api: Api) -> str:
    csv = _table().to_csv(index=False).encode()
    response = api.client.post(
        "/v1/datasets", headers=api.headers("builder"), files={"file": ("plant.csv", csv, "text/csv")}
    )
    assert response.status_code == 201, response.text
    dataset_id = response.json()["id"]
    for model in ("line1", "line1", "line2"):
        _train(api, dataset_id, model)
    api.run_jobs()
    assert {m.name: m.latest_version for m in api.platform.store.list_models("default")} == {
        "line1": 2,
        "line2": 1,
    }
    return dataset_id


@pytest.fixture()
def models(api_with: Any) -> Api:
    """line1 versions 1 and 2 and line2 version 1, all in the default tenant (trained once per run;
    each test changes only its own copy)."""
    api = api_with(_train_models)
    api.dataset_id = api.made
    return api


def _rejections(api: Api) -> list[Any]:
    return api.platform.store.list_audit("default", action="artifact.rejected")


def test_nothing_readable_on_disk(models: Api) -> None:
    api = models
    batch = api.client.post(
        "/v1/models/line1/batch?version=1",
        files={"file": ("in.csv", _table(20, seed=1).to_csv(index=False).encode(), "text/csv")},
        headers=api.headers("builder"),
    )
    assert batch.status_code == 202, batch.text
    api.run_jobs()
    result = api.client.get(f"/v1/jobs/{batch.json()['id']}/result", headers=api.headers("builder"))
    assert result.status_code == 200 and result.headers["content-type"].startswith("text/csv")
    assert "attachment" in result.headers["content-disposition"]
    assert len(pd.read_csv(io.BytesIO(result.content))) == 20

    files = api.files_under()
    assert len(files) >= 5  # the dataset, three models, batch input and result
    for path in files:
        raw = path.read_bytes()
        assert raw[:4] == b"SFE1", path
        for plain in (b"PAR1", b"Speed [rpm]", b"serial", b"S00001", b"tree", b"failure", b"lightgbm"):
            assert plain not in raw, (path, plain)
    assert _predict(api, "line1", 1).status_code == 200


def test_a_tampered_model_file_is_refused_and_audited(models: Api) -> None:
    api = models
    mv = api.platform.store.get_version("default", "line1", 1)
    api.platform.models.forget()
    victim = max(mv.files, key=lambda f: (api.settings.home / "artifacts" / mv.artifact / f).stat().st_size)
    path = api.settings.home / "artifacts" / mv.artifact / victim
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    path.write_bytes(bytes(raw))

    response = _predict(api, "line1", 1)
    assert response.status_code == 500, response.text
    problem = response.json()
    assert problem["type"].endswith("artifact-corrupted")
    assert "line1" in problem["detail"] and "version 1" in problem["detail"] and victim in problem["detail"]
    (event,) = _rejections(api)
    assert event.target == "model:line1:1" and event.outcome == "error" and event.detail["file"] == victim

    assert _predict(api, "line2", 1).status_code == 200  # the other models keep serving
    assert _predict(api, "line1", 2).status_code == 200
    assert _predict(api, "line1", 1).status_code == 500
    assert len(_rejections(api)) == 1  # a retry loop does not flood the audit log


def test_swapped_version_files_are_refused(models: Api) -> None:
    api = models
    v1, v2 = (api.platform.store.get_version("default", "line1", v) for v in (1, 2))
    api.platform.models.forget()
    root = api.settings.home / "artifacts"
    for name in set(v1.files) & set(v2.files):
        a, b = root / v1.artifact / name, root / v2.artifact / name
        data_a, data_b = a.read_bytes(), b.read_bytes()
        a.write_bytes(data_b)
        b.write_bytes(data_a)
    for version in (1, 2):
        response = _predict(api, "line1", version)
        assert response.status_code == 500 and f"version {version}" in response.json()["detail"]
    assert _predict(api, "line2", 1).status_code == 200
    assert {e.target for e in _rejections(api)} == {"model:line1:1", "model:line1:2"}


def _edit(api: Api, table: Any, where: Any, **values: Any) -> None:
    engine = sa.create_engine(api.settings.resolved_database_url)
    try:
        with engine.begin() as conn:
            assert conn.execute(sa.update(table).where(where).values(**values)).rowcount == 1
    finally:
        engine.dispose()


def test_an_edited_registry_row_is_refused(models: Api) -> None:
    api = models
    v1, v2 = (api.platform.store.get_version("default", "line1", v) for v in (1, 2))
    api.platform.models.forget()
    forged = v1.signature[:-4] + ("0000" if not v1.signature.endswith("0000") else "1111")
    _edit(api, VersionRow.__table__, VersionRow.artifact == v1.artifact, signature=forged)
    # Pointing version 2 at version 1's files (with its own signature) is refused too.
    _edit(api, VersionRow.__table__, VersionRow.artifact == v2.artifact, artifact=v1.artifact, files=v1.files)
    for version in (1, 2):
        response = _predict(api, "line1", version)
        assert response.status_code == 500, response.text
        assert "signature" in response.json()["detail"] and f"version {version}" in response.json()["detail"]
    assert _predict(api, "line2", 1).status_code == 200


def test_an_unsigned_version_is_refused(models: Api) -> None:
    api = models
    mv = api.platform.store.get_version("default", "line2", 1)
    api.platform.models.forget()
    _edit(api, VersionRow.__table__, VersionRow.artifact == mv.artifact, signature=None)
    response = _predict(api, "line2", 1)
    assert response.status_code == 500 and "re-train or re-import" in response.json()["detail"]


def test_a_tampered_or_edited_dataset_is_refused(models: Api) -> None:
    api = models
    body = {
        "type": "train",
        "task": "tabular_classification",
        "dataset_id": api.dataset_id,
        "target": "failure",
        "model_name": "line3",
    }
    _edit(api, DatasetRow.__table__, DatasetRow.id == api.dataset_id, rows=1)
    response = api.client.post("/v1/jobs", json=body, headers=api.headers("builder"))
    assert response.status_code == 500 and "signature" in response.json()["detail"]
    assert _rejections(api)[-1].target == f"dataset:{api.dataset_id}"


def test_doctor_reports_faults_and_orphans(api) -> None:  # type: ignore[no-untyped-def]
    """`shopfloor doctor`: a clean registry is healthy; a tampered file and an orphan folder are found."""
    import numpy as np
    import pandas as pd

    from shopfloor.services.doctor import examine

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=120), "b": rng.normal(size=120)})
    frame["y"] = (frame["a"] > 0).astype(int)
    ds = api.client.post(
        "/v1/datasets",
        files={"file": ("t.csv", frame.to_csv(index=False).encode(), "text/csv")},
        headers=api.headers(),
    ).json()
    api.client.post(
        "/v1/jobs",
        headers=api.headers(),
        json={
            "task": "tabular_classification",
            "dataset_id": ds["id"],
            "target": "y",
            "model_name": "doc",
            "time_budget_s": 5,
        },
    )
    api.run_jobs()
    clean = examine(api.platform).as_dict()
    assert clean["healthy"] and clean["checked"]["datasets"] == 1 and clean["checked"]["versions"] == 1
    assert clean["orphans"] == []
    orphan = api.settings.home / "artifacts" / "default" / "models" / "doc" / "art_leftover" / "model.lgb.txt"
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"SFE1 half-written")
    mv = api.platform.store.get_version("default", "doc", 1)
    victim = api.settings.home / "artifacts" / mv.artifact / sorted(mv.files)[0]
    victim.write_bytes(victim.read_bytes()[:-1] + b"x")
    api.platform.models.forget()
    found = examine(api.platform).as_dict()
    assert not found["healthy"] and found["problems"][0]["target"] == "doc v1"
    assert found["orphans"] == ["default/models/doc/art_leftover"]
    examine(api.platform, delete_orphans=True)
    assert not orphan.parent.exists()
