"""Rate limits and quotas: 429 problem+json with Retry-After, per tenant."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from typer.testing import CliRunner

from shopfloor.cli import app as cli
from shopfloor.security import limits
from shopfloor.security.keys import GENERATION_MAX_AGE_S, Principal

# Limits and quotas are counted in the registry and shared by every process: run on both backends.
pytestmark = pytest.mark.backends("sqlite", "postgresql")

Api = Any
CSV = ("t.csv", b"a,b\n" + b"1,2\n" * 200, "text/csv")


def _assert_429(response: Any) -> int:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["status"] == 429
    retry = int(response.headers["retry-after"])
    assert retry >= 1
    return retry


def test_key_rate_limit(api: Api) -> None:
    limits.set_quotas(api.platform, "default", key_rpm=5)
    for _ in range(5):
        assert api.client.get("/v1/models", headers=api.headers("consumer")).status_code == 200
    retry = _assert_429(api.client.get("/v1/models", headers=api.headers("consumer")))
    # The window frees at its end; the next one starts with the previous window's weighted share.
    assert retry <= 60 + 12
    # other keys of the tenant have their own bucket
    assert api.client.get("/v1/models", headers=api.headers("builder")).status_code == 200


def test_tenant_rate_limit_applies_to_that_tenant_only(api: Api) -> None:
    limits.set_quotas(api.platform, "default", rpm=6)
    for i in range(6):
        who = ("admin", "builder", "consumer")[i % 3]
        assert api.client.get("/v1/models", headers=api.headers(who)).status_code == 200
    _assert_429(api.client.get("/v1/models", headers=api.headers("admin")))
    _assert_429(api.client.get("/v1/models", headers=api.headers("builder")))
    for _ in range(10):
        assert api.client.get("/v1/models", headers=api.headers("other")).status_code == 200


def test_predict_route_is_limited_too(api: Api) -> None:
    limits.set_quotas(api.platform, "default", key_rpm=2)
    body = {"records": [{"a": 1}]}
    for _ in range(2):
        assert api.client.post("/v1/models/x/predict", json=body, headers=api.headers()).status_code == 404
    _assert_429(api.client.post("/v1/models/x/predict", json=body, headers=api.headers()))


def test_limit_is_shared_by_every_process(api: Api) -> None:
    """Two limiters on one registry (two API workers, or two servers): the limit holds once."""
    settings = api.settings.model_copy(update={"workers": 4, "rate_limit_per_minute": 40})
    platform = type(api.platform)(
        settings=settings,
        store=api.platform.store,
        artifacts=api.platform.artifacts,
        secret=api.platform.secret,
        generation=api.platform.generation,
    )
    who = Principal(key_id="key_x", tenant="default", role="admin")
    processes = [limits.Limiter(platform), limits.Limiter(platform)]
    clock = [60.0 * 1000 + 1]  # 1 s into a window with an empty previous one
    for p in processes:
        p.rates._clock = lambda: clock[0]
    admitted, refused = 0, []

    async def burst() -> None:
        nonlocal admitted
        for i in range(100):
            try:
                await processes[i % 2].admit(who)
                admitted += 1
            except limits.RateLimited as exc:
                refused.append(exc)

    asyncio.run(burst())
    assert admitted == 40
    assert "40 requests per minute" in refused[0].detail
    assert 1 <= int(refused[0].headers["Retry-After"]) <= 60 + 2
    counts = api.platform.store.rate_counts(["key:key_x", "tenant:default"], 1000)
    # Tokens are claimed by lease: 1 at a time under 40/min; under the tenant's 30,000 a lease grows
    # 1, 2, 4, 8, 16 in each process (31 tokens for its 20 requests), never the full 100 at once.
    assert counts == {"key:key_x": 40, "tenant:default": 62}
    # The next window starts with the previous one weighted in: no second burst at the edge.
    clock[0] = 60.0 * 1001 + 1
    with pytest.raises(limits.RateLimited):
        asyncio.run(processes[0].admit(who))
    clock[0] = 60.0 * 1001 + 30  # half the previous window still counts: 20 left
    for p in processes:
        p.rates.leases["key:key_x"].blocked_until = 0.0
    admitted = 0
    refused.clear()
    asyncio.run(burst())
    assert admitted == 20


def test_a_lease_grows_so_that_little_traffic_is_counted_exactly(api: Api) -> None:
    """The count in the registry is the requests answered while a process is warming up its lease,
    and at most one lease (1 % of the limit) more once it is busy; claims stay few."""
    who = Principal(key_id="key_y", tenant="default", role="admin")
    process = limits.Limiter(api.platform)  # default limits: 6,000 per key, 30,000 per tenant
    clock = [60.0 * 2000 + 1]
    process.rates._clock = lambda: clock[0]
    store = api.platform.store
    claims: list[int] = []
    real = store.claim_rates
    store.claim_rates = lambda asked: claims.extend(n for _, _, n, _ in asked) or real(asked)  # type: ignore[method-assign]

    def counts() -> dict[str, int]:
        return store.rate_counts(["key:key_y", "tenant:default"], 2000)

    try:
        asyncio.run(process.admit(who))
        assert counts() == {"key:key_y": 1, "tenant:default": 1}  # one request, one token
        for _ in range(2):
            asyncio.run(process.admit(who))
        assert counts() == {"key:key_y": 3, "tenant:default": 3}  # 1 + 2
        for _ in range(997):
            asyncio.run(process.admit(who))
        used = counts()
        assert 1000 <= used["key:key_y"] < 1000 + 60  # the key's lease is 60 (1 % of 6,000)
        assert 1000 <= used["tenant:default"] < 1000 + 100
        assert len(claims) <= 2 * (6 + 1000 // 60 + 1), len(claims)  # doubling, then full leases
        # A new window starts the lease at one token again.
        clock[0] += 60
        claims.clear()
        asyncio.run(process.admit(who))
        assert claims == [1, 1]
    finally:
        del store.claim_rates


def test_refused_requests_do_not_write_the_registry(api: Api, monkeypatch: Any) -> None:
    limits.set_quotas(api.platform, "default", key_rpm=3)
    for _ in range(3):
        assert api.client.get("/v1/models", headers=api.headers()).status_code == 200
    claims: list[str] = []
    store = api.platform.store
    real = store.claim_rates
    monkeypatch.setattr(
        store, "claim_rates", lambda asked: claims.extend(b for b, *_ in asked) or real(asked)
    )
    for _ in range(20):
        _assert_429(api.client.get("/v1/models", headers=api.headers()))
    assert len(claims) <= 2  # the first refusal asks the registry; the rest wait for Retry-After


def test_concurrent_jobs(api: Api) -> None:
    limits.set_quotas(api.platform, "default", jobs=2)
    store = api.platform.store
    for i in range(2):
        store.create_job(id=f"job_busy{i}", tenant="default", type="train", params={})
    body = {"task": "tabular_classification", "dataset_id": "ds_none", "target": "a", "model_name": "m"}
    _assert_429(api.client.post("/v1/jobs", json=body, headers=api.headers("builder")))
    _assert_429(api.client.post("/v1/models/m/batch", files={"file": CSV}, headers=api.headers("builder")))
    # the other tenant has the default (4): its request goes on to the dataset check
    assert api.client.post("/v1/jobs", json=body, headers=api.headers("other")).status_code == 404
    store.request_cancel("default", "job_busy0")  # a queued job is cancelled at once
    assert api.client.post("/v1/jobs", json=body, headers=api.headers("builder")).status_code == 404


def test_storage_quota(api: Api) -> None:
    limits.set_quotas(api.platform, "default", storage_mb=0.001)  # 1048 B: one 804 B file fits, two not
    first = api.client.post("/v1/datasets", files={"file": CSV}, headers=api.headers("builder"))
    assert first.status_code == 201, first.text
    second = api.client.post("/v1/datasets", files={"file": CSV}, headers=api.headers("builder"))
    assert second.status_code == 429, second.text
    assert int(second.headers["Retry-After"]) > 0
    assert second.json()["type"] == "urn:shopfloor:problem:storage-quota-exceeded"
    assert (
        api.client.post("/v1/datasets", files={"file": CSV}, headers=api.headers("other")).status_code == 201
    )


def test_quotas_route_and_cli(api: Api, monkeypatch: Any) -> None:
    monkeypatch.setenv("SHOPFLOOR_HOME", str(api.settings.home))
    for name in ("database_url", "artifacts_url"):
        if getattr(api.settings, name):
            monkeypatch.setenv(f"SHOPFLOOR_{name.upper()}", getattr(api.settings, name))
    result = CliRunner().invoke(cli, ["tenants", "quotas", "set", "default", "--rpm", "100", "--jobs", "3"])
    assert result.exit_code == 0, result.output
    time.sleep(GENERATION_MAX_AGE_S + 0.05)  # another process's change: seen at the next read
    view = api.client.get("/v1/quotas", headers=api.headers()).json()
    assert view["own"]["requests_per_minute"] == 100 and view["limits"]["max_concurrent_jobs"] == 3
    assert view["limits"]["key_requests_per_minute"] == api.settings.rate_limit_per_minute
    assert view["usage"] == {"active_jobs": 0, "storage_bytes": 0}
    assert "workers" not in view  # the limits are shared: the worker count changes nothing
    rates = view["rates"]
    assert rates["shared"] and rates["window_s"] == 60
    assert rates["tenant"]["limit"] == 100 and rates["tenant"]["used"] >= 1
    assert sum(k["used"] for k in rates["keys"].values()) >= 1
    assert api.client.get("/v1/quotas", headers=api.headers("builder")).status_code == 403
    other = api.client.get("/v1/quotas", headers=api.headers("other")).json()
    assert other["own"]["requests_per_minute"] is None
    shown = CliRunner().invoke(cli, ["tenants", "quotas", "show", "default"])
    assert shown.exit_code == 0 and '"requests_per_minute": 100' in shown.output
    events = api.platform.store.list_audit("default", action="quotas.set")
    assert len(events) == 1 and events[0].detail["requests_per_minute"] == 100


def _small_table(api: Api, rows: int = 80) -> dict[str, Any]:
    csv = "x1,x2,kind\n" + "".join(f"{i % 7},{(i * 3) % 11},{'ab'[i % 2]}\n" for i in range(rows))
    response = api.client.post(
        "/v1/datasets", files={"file": ("s.csv", csv.encode(), "text/csv")}, headers=api.headers("builder")
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_synthesize_is_held_to_the_jobs_quota(api: Api) -> None:
    dataset = _small_table(api)
    limits.set_quotas(api.platform, "default", jobs=2)
    url = f"/v1/datasets/{dataset['id']}/synthesize"
    for _ in range(2):
        assert api.client.post(url, json={}, headers=api.headers("builder")).status_code == 202
    for _ in range(3):
        refused = api.client.post(url, json={}, headers=api.headers("builder"))
        _assert_429(refused)
        assert "its limit is 2" in refused.json()["detail"]
    assert len(api.platform.store.list_jobs("default")) == 2


def test_synthesize_past_the_storage_quota_fails_and_stores_nothing(api: Api) -> None:
    dataset = _small_table(api)
    # Room for 200 bytes more: far less than a synthetic copy of 800 rows.
    limits.set_quotas(api.platform, "default", storage_mb=(dataset["size_bytes"] + 200) / limits.MB)
    files_before = sorted(api.files_under("default"))
    assert files_before
    response = api.client.post(
        f"/v1/datasets/{dataset['id']}/synthesize", json={"rows": 800}, headers=api.headers("builder")
    )
    assert response.status_code == 202, response.text
    api.run_jobs()
    job = api.client.get(f"/v1/jobs/{response.json()['id']}", headers=api.headers("builder")).json()
    assert job["status"] == "failed", job
    assert "would pass its quota" in job["error"], job["error"]
    assert [d.id for d in api.platform.store.list_datasets("default")] == [dataset["id"]]
    assert sorted(api.files_under("default")) == files_before  # nothing written and left behind
    assert api.platform.store.storage_bytes("default") == dataset["size_bytes"]


def test_jobs_whose_output_would_pass_the_storage_quota_fail_and_write_nothing(api: Api) -> None:
    dataset = _small_table(api, rows=120)
    body = {"task": "tabular_classification", "dataset_id": dataset["id"], "target": "kind",
            "model_name": "m", "time_budget_s": 3}  # fmt: skip
    limits.set_quotas(api.platform, "default", storage_mb=(dataset["size_bytes"] + 100) / limits.MB)
    train = api.client.post("/v1/jobs", json=body, headers=api.headers("builder"))
    assert train.status_code == 202, train.text
    api.run_jobs()
    failed = api.client.get(f"/v1/jobs/{train.json()['id']}", headers=api.headers("builder")).json()
    assert failed["status"] == "failed" and "would pass its quota" in failed["error"], failed
    assert api.files_under("default", "models") == []
    # With room for the model but not for a scored table of 120 rows, the batch job fails instead.
    limits.set_quotas(api.platform, "default", storage_mb=1000)
    assert api.client.post("/v1/jobs", json=body, headers=api.headers("builder")).status_code == 202
    api.run_jobs()
    # the model's files count too: room for them and the batch input, not for the scored table
    used = api.platform.store.storage_bytes("default")
    assert used > dataset["size_bytes"]
    limits.set_quotas(api.platform, "default", storage_mb=(used + 2000) / limits.MB)
    table = "x1,x2\n" + "1,2\n" * 120
    batch = api.client.post(
        "/v1/models/m/batch?version=1",
        files={"file": ("b.csv", table.encode(), "text/csv")},
        headers=api.headers("builder"),
    )
    assert batch.status_code == 202, batch.text
    api.run_jobs()
    job = api.client.get(f"/v1/jobs/{batch.json()['id']}", headers=api.headers("builder")).json()
    assert job["status"] == "failed" and "would pass its quota" in job["error"], job
    assert not [p for p in api.files_under("default", "jobs") if p.name.startswith("result")]
