"""Rate limits and quotas: 429 problem+json with Retry-After, per tenant."""

from __future__ import annotations

import time
from typing import Any

from typer.testing import CliRunner

from shopfloor.cli import app as cli
from shopfloor.security import limits
from shopfloor.security.keys import GENERATION_MAX_AGE_S, Principal

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
    assert retry <= 12  # one request every 60/5 s
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


def test_limit_per_process_is_divided_by_workers(api: Api) -> None:
    settings = api.settings.model_copy(update={"workers": 4, "rate_limit_per_minute": 40})
    platform = type(api.platform)(
        settings=settings,
        store=api.platform.store,
        artifacts=api.platform.artifacts,
        secret=api.platform.secret,
        generation=api.platform.generation,
    )
    who = Principal(key_id="key_x", tenant="default", role="admin")
    limiter = limits.Limiter(platform)
    for _ in range(10):
        limiter.admit(who)
    try:
        limiter.admit(who)
    except limits.RateLimited as exc:
        assert "40 requests per minute" in exc.detail
    else:
        raise AssertionError("the 11th request of 40/min over 4 workers must be refused")


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
    assert api.client.get("/v1/quotas", headers=api.headers("builder")).status_code == 403
    other = api.client.get("/v1/quotas", headers=api.headers("other")).json()
    assert other["own"]["requests_per_minute"] is None
    shown = CliRunner().invoke(cli, ["tenants", "quotas", "show", "default"])
    assert shown.exit_code == 0 and '"requests_per_minute": 100' in shown.output
    events = api.platform.store.list_audit("default", action="quotas.set")
    assert len(events) == 1 and events[0].detail["requests_per_minute"] == 100
