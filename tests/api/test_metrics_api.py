"""GET /metrics: each tenant sees only its own series; the operator token sees every tenant and
the process metrics; a metrics key may scrape and do nothing else."""

from __future__ import annotations

import os
from typing import Any

from pydantic import SecretStr

from shopfloor import metrics

Api = Any
OPERATOR = "operator-metrics-token-0123456789abcdef"


def _seed(api: Api) -> None:
    """Work of both tenants, as the processes of a server would have recorded it."""
    metrics.RECORDER.predicted("default", "press-line-a", 1, 3)
    metrics.RECORDER.predicted("other", "secret-model-b", 2, 5)
    metrics.RECORDER.job("other", "train", "succeeded", 12.0)
    metrics.RECORDER.loaded_models({"default": 1, "other": 2})
    api.platform.store.create_job(id="job_q_other", tenant="other", type="train", params={})
    api.platform.store.create_job(id="job_q_default", tenant="default", type="train", params={})
    assert api.client.get("/v1/models", headers=api.headers("other")).status_code == 200


def test_a_tenant_admin_sees_only_its_own_series(api: Api) -> None:
    _seed(api)
    answer = api.client.get("/metrics", headers=api.headers("admin"))
    assert answer.status_code == 200, answer.text
    text = answer.text
    assert "secret-model-b" not in text and 'tenant="other"' not in text
    assert 'tenant=""' not in text and "process_cpu_seconds_total" not in text
    assert 'shopfloor_predictions_total{model="press-line-a",tenant="default",version="1"}' in text
    assert 'shopfloor_jobs_queued{tenant="default"} 1.0' in text
    assert 'shopfloor_jobs_running{tenant="default"} 0.0' in text
    assert f'shopfloor_loaded_models{{pid="{os.getpid()}",tenant="default"}} 1.0' in text
    theirs = api.client.get("/metrics", headers=api.headers("other")).text
    assert "secret-model-b" in theirs and "press-line-a" not in theirs
    own = 'shopfloor_http_requests_total{method="GET",route="/v1/models",status="200",tenant="other"}'
    assert own in theirs
    assert 'tenant="default"' not in theirs


def test_a_metrics_key_scrapes_and_does_nothing_else(api: Api) -> None:
    _seed(api)
    h = api.headers("metrics")
    answer = api.client.get("/metrics", headers=h)
    assert answer.status_code == 200 and "press-line-a" in answer.text
    assert "secret-model-b" not in answer.text
    for method, path in (("GET", "/v1/models"), ("GET", "/v1/keys"), ("GET", "/v1/quotas")):
        refused = api.client.request(method, path, headers=h)
        assert refused.status_code == 403, (path, refused.text)
    body = {"role": "metrics", "name": "prometheus"}
    created = api.client.post("/v1/keys", json=body, headers=api.headers())
    assert created.status_code == 201 and created.json()["role"] == "metrics"


def test_the_operator_token_sees_every_tenant_and_the_processes(api: Api, monkeypatch: Any) -> None:
    _seed(api)
    assert api.client.get("/metrics", headers={"Authorization": f"Bearer {OPERATOR}"}).status_code == 401
    monkeypatch.setattr(api.platform.settings, "metrics_token", SecretStr(OPERATOR))
    text = api.client.get("/metrics", headers={"Authorization": f"Bearer {OPERATOR}"}).text
    assert "secret-model-b" in text and "press-line-a" in text
    assert 'shopfloor_jobs_queued{tenant="other"} 1.0' in text
    assert 'shopfloor_jobs_queued{tenant="default"} 1.0' in text
    assert f'shopfloor_loaded_models{{pid="{os.getpid()}",tenant="other"}} 2.0' in text
    mine = f'{{pid="{os.getpid()}"}}'
    for name in (
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "process_open_fds",
        "process_start_time_seconds",
    ):
        assert f"{name}{mine}" in text, name
    # a tenant's keys still get their own tenant only; a wrong token is no key at all
    assert "secret-model-b" not in api.client.get("/metrics", headers=api.headers("admin")).text
    wrong = api.client.get("/metrics", headers={"Authorization": f"Bearer {OPERATOR}x"})
    assert wrong.status_code == 401


def test_an_unauthenticated_scrape_is_401(api: Api) -> None:
    assert api.client.get("/metrics").status_code == 401
    assert api.client.get("/metrics", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert api.client.get("/metrics", headers=api.headers("consumer")).status_code == 403


def test_other_workers_appear_per_pid_and_dead_ones_keep_only_their_counters(
    api: Api, monkeypatch: Any
) -> None:
    import json
    import time

    from shopfloor.settings import metrics_dir

    folder = metrics_dir(api.settings)
    folder.mkdir(parents=True, exist_ok=True)
    live, dead = os.getppid(), os.getpid() + 10_000  # a running process, and (likely) no process

    def snapshot(pid: int, model: str) -> dict[str, Any]:
        return {
            "format": metrics.SNAPSHOT_FORMAT,
            "pid": pid,
            "predictions": [[["default", model, "1"], 4]],
            "loaded": [[["default"], 3]],
        }

    (folder / f"{live}.json").write_text(json.dumps(snapshot(live, "from-live-worker")))
    stale = folder / f"{dead}.json"
    stale.write_text(json.dumps(snapshot(dead, "from-dead-worker")))
    old = time.time() - 3600
    os.utime(stale, (old, old))
    monkeypatch.setattr(api.platform.settings, "metrics_token", SecretStr(OPERATOR))
    text = api.client.get("/metrics", headers={"Authorization": f"Bearer {OPERATOR}"}).text
    assert "from-live-worker" in text and "from-dead-worker" in text  # counters of both
    assert f'shopfloor_loaded_models{{pid="{live}",tenant="default"}} 3.0' in text
    assert f'pid="{dead}"' not in text  # no gauges, no process metrics of a gone process
    assert f'process_resident_memory_bytes{{pid="{live}"}}' in text
