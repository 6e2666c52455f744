"""Schema-driven fuzzing of every route with a key of each role (small budget; bench/fuzz_api.py: full)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parents[1] / "fuzz"))
import pandas as pd  # noqa: E402
from fuzzing import fuzz  # noqa: E402

from zoo import Member  # noqa: E402

Api = Any
#: the routes that act on one model (fuzzed against a trained model of every family)
MODEL_ROUTES = (r"\w+ /v1/models/\{name\}/.*",)


def test_fuzz_every_route_as_every_role(api: Api) -> None:
    store = api.platform.store
    ds = store.add_dataset(
        id="ds_fuzz",
        tenant="default",
        name="fuzz",
        rows=1,
        sha256="0" * 64,
        size_bytes=1,
        format="csv",
        columns=[],
        artifact="default/datasets/ds_fuzz",
    )
    objects = {"dataset_id": ds.id, "name": "nomodel", "key_id": "key_nope", "job_id": "job_nope"}
    keys = {role: api.keys[role] for role in ("admin", "builder", "consumer")}
    result = fuzz(api.client.app, keys, objects, examples=6)
    assert result.requests >= 300, result.requests
    assert result.server_errors == 0, result.violations[:10]
    assert result.violations == [], result.violations[:10]


METHODS = ("shap", "lime", "occlusion", "gradcam", "anomaly_map")
PLOT_KINDS = ("confusion", "importance", "stability", "candidates", "horizon")


def _optimize_request(member: Member) -> dict[str, Any]:
    """Controls over the record's first numeric input, every other input fixed at its value."""
    record = member.records[0]
    numeric = [k for k, v in record.items() if isinstance(v, int | float) and not isinstance(v, bool)]
    if not numeric:
        return {"controls": {"x": {"min": 0, "max": 1}}, "trials": 5}
    control = numeric[0]
    value = float(record[control])
    return {
        "controls": {control: {"min": value - 1.0, "max": value + 1.0}},
        "fixed": {k: v for k, v in record.items() if k != control},
        "trials": 5,
    }


def _model_calls(member: Member) -> list[tuple[str, str, dict[str, Any]]]:
    """(method, url, request keywords) for every model route, aimed at ``member``'s version 1."""
    base = f"/v1/models/{member.name}"
    records = {"records": member.records}
    csv = (member.table if member.table is not None else pd.DataFrame(member.records)).to_csv(index=False)
    calls: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", base, {}),
        ("GET", f"{base}/versions/1", {}),
        ("POST", f"{base}/predict?version=1", {"json": records}),
        ("GET", f"{base}/rules?version=1", {}),
        ("POST", f"{base}/batch?version=1", {"files": {"file": ("rows.csv", csv.encode(), "text/csv")}}),
        ("POST", f"{base}/forecast?version=1", {"json": {"series": "all"}}),
        ("POST", f"{base}/forecast?version=1", {"json": {"series": ["P0", "nope"], "horizon": 2}}),
        ("POST", f"{base}/optimize?version=1", {"json": _optimize_request(member)}),
        ("POST", f"{base}/score?version=1", {"json": records}),
        ("DELETE", f"{base}/score/state", {}),
        ("POST", f"{base}/retrain", {"json": {"dataset_id": "ds_nope", "version": 1}}),
    ]
    window = {"records": (member.records * (40 // len(member.records) + 1))[: max(40, len(member.records))]}
    calls += [
        ("GET", f"{base}/drift/profile?version=1", {}),
        ("POST", f"{base}/drift?version=1", {"json": window}),
        ("POST", f"{base}/drift/plot?version=1&kind=timeline", {"json": window}),
        ("GET", f"{base}/challenger", {}),
        ("GET", f"{base}/challenger/report?champion=1&challenger=1", {}),
        ("GET", f"{base}/challenger/report/plot?champion=1&challenger=1&window=15m&windows=4", {}),
    ]
    calls += [("POST", f"{base}/explain?version=1&method={m}", {"json": records}) for m in METHODS]
    calls += [("GET", f"{base}/versions/1/plots/{k}", {}) for k in PLOT_KINDS]
    return calls


def test_model_routes_of_every_family_answer_without_a_server_error(
    zoo: tuple[Api, dict[str, Member]],
) -> None:
    """Every model route, with a well-formed request, against a trained model of every family:
    the answer is a result or a 4xx saying why, never a 5xx."""
    api, members = zoo
    failures = []
    for family, member in members.items():
        for method, url, kwargs in _model_calls(member):
            answer = api.client.request(method, url, headers=api.headers("admin"), **kwargs)
            if answer.status_code >= 500:
                failures.append(f"{family}: {method} {url} -> {answer.status_code} {answer.text[:200]}")
    assert not failures, "\n".join(failures)


def test_fuzz_model_routes_of_every_family(zoo: tuple[Api, dict[str, Member]]) -> None:
    """Schema-driven requests at the model routes, half of them aimed at each family's model."""
    api, members = zoo
    keys = {role: api.keys[role] for role in ("builder", "consumer")}
    total = 0
    for member in members.values():
        objects = {"name": member.name, "version": "1"}
        result = fuzz(api.client.app, keys, objects, examples=2, only=MODEL_ROUTES)
        total += result.requests
        assert result.server_errors == 0, (member.task, result.violations[:10])
    api.run_jobs()  # the batch jobs it queued: the zoo is shared, its tenant's job quota is small
    assert total >= 200, total
