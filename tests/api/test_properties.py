"""Property-based: arbitrary bytes as an upload and arbitrary JSON as predict records never produce a
5xx through the API, and a rejected upload leaves no dataset row, no artifact file and no scratch file."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

Api = Any

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

csv_like = st.one_of(
    st.binary(max_size=2000),
    st.lists(st.lists(st.text(max_size=8), min_size=1, max_size=5), min_size=0, max_size=20).map(
        lambda rows: "\n".join(",".join(r) for r in rows).encode("utf-8", "surrogatepass")
    ),
    st.builds(lambda b: b"PAR1" + b + b"PAR1", st.binary(max_size=200)),
)


@SETTINGS
@given(content=csv_like, name=st.one_of(st.none(), st.text(max_size=30)))
def test_arbitrary_uploads_never_5xx_and_leave_nothing_when_rejected(
    api: Api, content: bytes, name: str | None
) -> None:
    before = len(api.platform.store.list_datasets("default"))
    files_before = len(api.files_under("default"))
    data = {"name": name} if name is not None else {}
    response = api.client.post(
        "/v1/datasets",
        files={"file": ("f.csv", content, "text/csv")},
        data=data,
        headers=api.headers("builder"),
    )
    assert response.status_code < 500, response.text
    assert response.headers["content-type"].startswith(("application/json", "application/problem+json"))
    after = len(api.platform.store.list_datasets("default"))
    if response.status_code == 201:
        assert after == before + 1
    else:
        assert after == before and len(api.files_under("default")) == files_before
    assert api.scratch_files() == []


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=3)
    ),
    max_leaves=10,
)
records = st.lists(
    st.one_of(
        json_values,
        st.fixed_dictionaries(
            {"x1": json_values, "x2": json_values, "kind": json_values}, optional={"extra": json_values}
        ),
    ),
    max_size=5,
)


def _trained(api: Api) -> None:
    rng = np.random.default_rng(0)
    n = 200
    frame = pd.DataFrame(
        {"x1": rng.normal(size=n), "x2": rng.normal(size=n), "kind": rng.choice(["a", "b"], n)}
    )
    frame["y"] = (frame["x1"] > 0).astype(int)
    buf = io.BytesIO(frame.to_csv(index=False).encode())
    ds = api.client.post(
        "/v1/datasets", files={"file": ("t.csv", buf, "text/csv")}, headers=api.headers()
    ).json()
    api.client.post(
        "/v1/jobs",
        headers=api.headers(),
        json={
            "task": "tabular_classification",
            "dataset_id": ds["id"],
            "target": "y",
            "model_name": "p",
            "time_budget_s": 5,
        },
    )
    api.run_jobs()


def test_arbitrary_predict_payloads_never_5xx(api: Api) -> None:
    _trained(api)

    @SETTINGS
    @given(body=st.one_of(json_values, st.fixed_dictionaries({"records": records})))
    def check(body: Any) -> None:
        for route in ("predict", "explain"):
            response = api.client.post(f"/v1/models/p/{route}?version=1", json=body, headers=api.headers())
            assert response.status_code < 500, (route, body, response.text)

    check()
