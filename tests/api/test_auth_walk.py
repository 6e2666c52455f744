"""Walk every route in the OpenAPI schema: no key -> 401, wrong role -> 403, other tenant -> 404."""

from __future__ import annotations

import re
from typing import Any

from shopfloor.registry.source_entities import Source
from shopfloor.security.keys import Principal
from shopfloor.services import alerts

Api = Any
#: The Azure Anomaly Detector routes: the key in Ocp-Apim-Subscription-Key, errors as {code, message}.
AZURE = "/anomalydetector/v1.1"
ALERT_RULE = {"name": "walked", "model": "walkmodel", "signal": "drift_score", "comparison": ">", "bound": 0}

# (method, path) -> roles allowed. Every route in the schema must be listed here.
ALLOWED = {
    ("GET", "/healthz"): None,  # public
    ("GET", "/readyz"): None,  # public, like liveness: load balancers and orchestrators ask it
    ("GET", "/metrics"): {"admin", "metrics"},  # each its own tenant's series (test_metrics_api)
    ("POST", "/v1/datasets"): {"admin", "builder"},
    ("GET", "/v1/datasets"): {"admin", "builder"},
    ("GET", "/v1/datasets/{dataset_id}"): {"admin", "builder"},
    ("POST", "/v1/jobs"): {"admin", "builder"},
    ("GET", "/v1/jobs"): {"admin", "builder"},
    ("GET", "/v1/jobs/{job_id}"): {"admin", "builder"},
    ("POST", "/v1/jobs/{job_id}/cancel"): {"admin", "builder"},
    ("GET", "/v1/jobs/{job_id}/result"): {"admin", "builder"},
    ("GET", "/v1/models"): {"admin", "builder", "consumer"},
    ("GET", "/v1/models/{name}"): {"admin", "builder", "consumer"},
    ("GET", "/v1/models/{name}/versions/{version}"): {"admin", "builder", "consumer"},
    ("PUT", "/v1/models/{name}/aliases/{alias}"): {"admin", "builder"},
    ("POST", "/v1/models/{name}/promote"): {"admin", "builder"},
    ("POST", "/v1/models/{name}/retrain"): {"admin", "builder"},
    ("PATCH", "/v1/models/{name}"): {"admin", "builder"},
    ("DELETE", "/v1/models/{name}"): {"admin", "builder"},
    ("POST", "/v1/models/{name}/predict"): {"admin", "builder", "consumer"},
    ("POST", "/v1/models/{name}/explain"): {"admin", "builder", "consumer"},
    ("GET", "/v1/models/{name}/rules"): {"admin", "builder", "consumer"},
    ("GET", "/v1/models/{name}/versions/{version}/plots/{kind}"): {"admin", "builder", "consumer"},
    ("GET", "/v1/models/{name}/versions/{version}/export"): {"admin", "builder"},
    ("POST", "/v1/models/{name}/batch"): {"admin", "builder"},
    # Answers within 300 trials need predict; a larger budget is a job (admin, builder: test_optimize_api).
    ("POST", "/v1/models/{name}/optimize"): {"admin", "builder", "consumer"},
    ("POST", "/v1/models/{name}/forecast"): {"admin", "builder", "consumer"},
    ("POST", "/v1/models/{name}/score"): {"admin", "builder", "consumer"},
    ("DELETE", "/v1/models/{name}/score/state"): {"admin", "builder", "consumer"},
    # a window of records runs the model like predict; a dataset id as the window also needs
    # datasets:read (test_drift_api)
    ("POST", "/v1/models/{name}/drift"): {"admin", "builder", "consumer"},
    ("POST", "/v1/models/{name}/drift/plot"): {"admin", "builder", "consumer"},
    ("GET", "/v1/models/{name}/drift/profile"): {"admin", "builder", "consumer"},
    # drift over time of the logged predictions: aggregates per window, read as a drift check is
    ("GET", "/v1/models/{name}/drift/timeline"): {"admin", "builder", "consumer"},
    ("GET", "/v1/models/{name}/drift/timeline/plot"): {"admin", "builder", "consumer"},
    ("POST", "/v1/keys"): {"admin"},
    ("GET", "/v1/keys"): {"admin"},
    ("DELETE", "/v1/keys/{key_id}"): {"admin"},
    ("POST", "/v1/datasets/{dataset_id}/synthesize"): {"admin", "builder"},
    ("POST", "/v1/models/{name}/versions"): {"admin", "builder"},
    ("GET", "/v1/audit"): {"admin"},
    ("GET", "/v1/audit/export"): {"admin"},
    ("GET", "/v1/quotas"): {"admin"},
    ("GET", "/v1/hub"): {"admin", "builder", "consumer"},
    ("POST", "/v1/hub/{model}/embed"): {"admin", "builder", "consumer"},
    ("POST", "/v1/hub/{model}/classify"): {"admin", "builder", "consumer"},
    ("GET", "/v1/masking"): {"admin"},
    ("PUT", "/v1/masking"): {"admin"},
    ("POST", "/v1/masking/preview"): {"admin"},
    ("GET", "/v1/models/{name}/prediction-log"): {"admin", "builder", "consumer"},
    ("PUT", "/v1/models/{name}/prediction-log"): {"admin", "builder"},
    # logged inputs and answers of every caller: the model's owners only
    ("GET", "/v1/models/{name}/predictions"): {"admin", "builder"},
    # the application that asked for a prediction reports what really happened
    ("POST", "/v1/models/{name}/feedback"): {"admin", "builder", "consumer"},
    ("GET", "/v1/models/{name}/performance"): {"admin", "builder", "consumer"},
    ("GET", "/v1/models/{name}/performance/plot"): {"admin", "builder", "consumer"},
    ("GET", "/v1/models/{name}/challenger"): {"admin", "builder", "consumer"},
    ("PUT", "/v1/models/{name}/challenger"): {"admin", "builder"},
    ("GET", "/v1/models/{name}/challenger/report"): {"admin", "builder", "consumer"},
    ("GET", "/v1/models/{name}/challenger/report/plot"): {"admin", "builder", "consumer"},
    ("POST", "/v1/models/{name}/challenger/promote"): {"admin", "builder"},
    ("GET", "/v1/prediction-log/retention"): {"admin"},
    ("PUT", "/v1/prediction-log/retention"): {"admin"},
    ("POST", "/v1/alerts/rules"): {"admin", "builder"},
    ("GET", "/v1/alerts/rules"): {"admin", "builder"},
    ("GET", "/v1/alerts/rules/{rule_id}"): {"admin", "builder"},
    ("PATCH", "/v1/alerts/rules/{rule_id}"): {"admin", "builder"},
    ("DELETE", "/v1/alerts/rules/{rule_id}"): {"admin", "builder"},
    ("POST", "/v1/alerts/rules/{rule_id}/secret"): {"admin", "builder"},
    ("POST", "/v1/alerts/rules/{rule_id}/test"): {"admin", "builder"},
    ("GET", "/v1/alerts/rules/{rule_id}/deliveries"): {"admin", "builder"},
    ("GET", "/v1/alerts/states"): {"admin", "builder"},
    ("GET", "/v1/alerts/prometheus-rules"): {"admin", "builder"},
    ("POST", "/openai/v1/embeddings"): {"admin", "builder", "consumer"},
    ("GET", "/openai/v1/models"): {"admin", "builder", "consumer"},
    ("GET", "/openai/v1/models/{model}"): {"admin", "builder", "consumer"},
    # Azure Anomaly Detector multivariate: training and batch detection queue jobs
    ("POST", f"{AZURE}/multivariate/models"): {"admin", "builder"},
    ("GET", f"{AZURE}/multivariate/models"): {"admin", "builder", "consumer"},
    ("GET", f"{AZURE}/multivariate/models/{{modelId}}"): {"admin", "builder", "consumer"},
    ("DELETE", f"{AZURE}/multivariate/models/{{modelId}}"): {"admin", "builder"},
    ("POST", f"{AZURE}/multivariate/models/{{modelId}}:detect-batch"): {"admin", "builder"},
    ("GET", f"{AZURE}/multivariate/detect-batch/{{resultId}}"): {"admin", "builder"},
    ("POST", f"{AZURE}/multivariate/models/{{modelId}}:detect-last"): {"admin", "builder", "consumer"},
    ("POST", "/v1/sources"): {"admin", "builder"},
    ("GET", "/v1/sources"): {"admin", "builder"},
    ("GET", "/v1/sources/{name}"): {"admin", "builder"},
    ("DELETE", "/v1/sources/{name}"): {"admin", "builder"},
    # Azure Anomaly Detector, univariate: the key in Ocp-Apim-Subscription-Key, errors in Azure's shape
    ("POST", "/anomalydetector/v1.1/timeseries/entire/detect"): {"admin", "builder", "consumer"},
    ("POST", "/anomalydetector/v1.1/timeseries/last/detect"): {"admin", "builder", "consumer"},
    ("POST", "/anomalydetector/v1.1/timeseries/changepoint/detect"): {"admin", "builder", "consumer"},
    # Open Inference Protocol: health and server metadata for any key, the rest as on /v1
    ("GET", "/v2/health/live"): {"admin", "builder", "consumer", "metrics"},
    ("GET", "/v2/health/ready"): {"admin", "builder", "consumer", "metrics"},
    ("GET", "/v2"): {"admin", "builder", "consumer", "metrics"},
    ("GET", "/v2/models/{name}"): {"admin", "builder", "consumer"},
    ("GET", "/v2/models/{name}/versions/{version}"): {"admin", "builder", "consumer"},
    ("GET", "/v2/models/{name}/ready"): {"admin", "builder", "consumer"},
    ("GET", "/v2/models/{name}/versions/{version}/ready"): {"admin", "builder", "consumer"},
    ("POST", "/v2/models/{name}/infer"): {"admin", "builder", "consumer"},
    ("POST", "/v2/models/{name}/versions/{version}/infer"): {"admin", "builder", "consumer"},
}

AZURE_SERIES = [{"timestamp": f"2026-01-01T{h:02d}:00:00Z", "value": float(h % 5)} for h in range(24)]


# Routes whose path names the object they create: another tenant creates its own, no 404 to expect.
CREATES = {("POST", "/v1/models/{name}/versions")}

# Routes whose path names something every tenant shares (the hub's pretrained models): no 404.
SHARED = {
    ("POST", "/v1/hub/{model}/embed"),
    ("POST", "/v1/hub/{model}/classify"),
    ("GET", "/openai/v1/models/{model}"),
}


def _routes(api: Api) -> list[tuple[str, str]]:
    schema = api.client.get("/openapi.json").json()
    return [(m.upper(), p) for p, ops in schema["paths"].items() for m in ops]


def _objects(api: Api) -> dict[str, str]:
    """Objects owned by tenant 'default', made straight in the registry."""
    store = api.platform.store
    ds = store.add_dataset(
        id="ds_walk",
        tenant="default",
        name="walk",
        rows=1,
        sha256="0" * 64,
        size_bytes=1,
        format="csv",
        columns=[],
        artifact="default/datasets/ds_walk",
    )
    job = store.create_job(id="job_walk", tenant="default", type="train", params={})
    store.add_version(
        tenant="default",
        model="walkmodel",
        task="tabular_classification",
        report={},
        input_schema=[],
        files={},
        artifact="default/models/walkmodel/x",
        lineage={},
        job_id=None,
    )
    store.set_alias("default", "walkmodel", "production", 1)
    key = store.list_keys("default")[0]
    walker = Principal(key_id=key.id, tenant="default", role="admin")
    rule = alerts.create_rule(api.platform, walker, {**ALERT_RULE, "name": "walk-rule"})
    store.add_azure_model(
        tenant="default", model_id="mv-walk", model="walkmodel", job_id=job.id, dataset_id=ds.id,
        info={"slidingWindow": 300}, variable_states=[],
    )
    store.add_azure_result(
        tenant="default", result_id="mv-walk-result", model_id="mv-walk", job_id=job.id, setup={},
        variable_states=[],
    )
    # a source named like the model: the {name} of its routes
    source = Source("default", "walkmodel", "http://127.0.0.1:9000", "us-east-1", "k", ("walk",), b"x")
    store.add_source(source)
    return {
        "modelId": "mv-walk",
        "resultId": "mv-walk-result",
        "dataset_id": ds.id,
        "job_id": job.id,
        "name": "walkmodel",
        "version": "1",
        "alias": "production",
        "model": "all-MiniLM-L6-v2",
        "key_id": key.id,
        "kind": "confusion",
        "rule_id": rule["id"],
    }


def _refusal(path: str, response: Any, status: int) -> None:
    """The refusal is in the shape the route's clients decode: the Open Inference Protocol's, Azure's,
    OpenAI's, or problem+json."""
    if path.startswith("/v2"):
        assert set(response.json()) == {"error"} and response.status_code == status, response.text
        return
    if path.startswith("/openai/"):
        error = response.json()["error"]
        assert error["message"] and error["type"] == "invalid_request_error", response.text
        return
    if path.startswith(AZURE):
        assert response.headers["content-type"].startswith("application/json")
        assert response.json()["code"] == response.headers["x-ms-error-code"]
        return
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["status"] == status


def _call(api: Api, method: str, path: str, who: str | None):
    """A well-formed request, so that only the key decides the answer."""
    kwargs: dict = {"headers": _headers(api, path, who)}
    azure_times = {"startTime": "2026-01-01T00:00:00Z", "endTime": "2026-01-02T00:00:00Z"}
    if path == f"{AZURE}/multivariate/models" and method == "POST":
        kwargs["json"] = {"dataSource": "shopfloor://datasets/ds_walk", **azure_times}
    elif path.endswith(":detect-batch"):
        source = {"dataSource": "shopfloor://datasets/ds_walk", "topContributorCount": 3}
        kwargs["json"] = {**source, **azure_times}
    elif path.endswith(":detect-last"):
        one = {"timestamps": ["2026-01-01T00:00:00Z"], "values": [1.0]}
        kwargs["json"] = {"variables": [{"variable": "a", **one}], "topContributorCount": 3}
    elif path.startswith(f"{AZURE}/timeseries/"):
        kwargs["json"] = {"series": AZURE_SERIES, "granularity": "hourly"}
    elif path.endswith("/batch") or path == "/v1/datasets" and method == "POST":
        kwargs["files"] = {"file": ("x.csv", b"a,b\n1,2\n", "text/csv")}
    elif "/aliases/" in path or path.endswith("/promote"):
        kwargs["json"] = {"version": 1}
    elif path.endswith("/retrain"):
        kwargs["json"] = {"dataset_id": "ds_walk"}
    elif method == "PATCH" and path.startswith("/v1/models/"):
        kwargs["json"] = {"description": "walked"}
    elif path.endswith(("/predict", "/explain", "/score", "/drift", "/drift/plot")):
        kwargs["json"] = {"records": [{"a": 1}]}
    elif path.endswith("/forecast"):
        kwargs["json"] = {"series": "all", "horizon": 1}
    elif path.endswith("/optimize"):
        kwargs["json"] = {"controls": {"a": {"min": 0, "max": 1}}}
    elif path == "/openai/v1/embeddings":
        kwargs["json"] = {"model": "all-MiniLM-L6-v2", "input": ["pump seal leaking"]}
    elif path.endswith("/embed"):
        kwargs["json"] = {"texts": ["pump seal leaking"], "variant": "torch"}
    elif path.endswith("/classify"):
        labels = ["hydraulics", "engine"]
        kwargs["json"] = {"texts": ["pump seal leaking"], "labels": labels, "variant": "torch"}
    elif path == "/v1/masking" and method == "PUT":
        kwargs["json"] = {"names": ["Ann Lee"]}
    elif path.endswith("/prediction-log") and method == "PUT":
        kwargs["json"] = {"rate": 0.5}
    elif path == "/v1/prediction-log/retention" and method == "PUT":
        kwargs["json"] = {"days": 10}
    elif path.endswith("/challenger") and method == "PUT":
        kwargs["json"] = {"mode": "off"}
    elif path.endswith("/challenger/promote"):
        kwargs["json"] = {"version": 1}
    elif path.endswith("/feedback"):
        kwargs["json"] = {"items": [{"request_id": "r1", "outcome": 1}]}
    elif path == "/v1/masking/preview":
        kwargs["json"] = {"text": "call Ann Lee"}
    elif path == "/v1/alerts/rules" and method == "POST":
        kwargs["json"] = ALERT_RULE
    elif method == "PATCH" and path.startswith("/v1/alerts/rules/"):
        kwargs["json"] = {"bound": 0.4}
    elif path == "/v1/sources" and method == "POST":
        kwargs["json"] = {"name": "walked", "endpoint_url": "http://127.0.0.1:9000", "access_key_id": "k",
                          "secret_access_key": "s", "buckets": ["walked"]}
    elif path == "/v1/keys" and method == "POST":
        kwargs["json"] = {"role": "consumer"}
    elif path == "/v1/jobs" and method == "POST":
        kwargs["json"] = {
            "task": "tabular_classification",
            "dataset_id": "ds_walk",
            "target": "a",
            "model_name": "m",
        }
    return api.client.request(method, path, **kwargs)


def _headers(api: Api, path: str, who: str | None, secret: str | None = None) -> dict[str, str]:
    """The key of ``who`` (or ``secret``) as the route's protocol sends it."""
    key = secret or (api.keys[who] if who else None)
    if key is None:
        return {}
    if path.startswith(AZURE):
        return {"Ocp-Apim-Subscription-Key": key}
    return {"Authorization": f"Bearer {key}"}


def test_every_route_is_in_the_permission_table(api: Api) -> None:
    assert set(_routes(api)) == set(ALLOWED)


def test_no_key_gives_401_everywhere_but_healthz(api: Api) -> None:
    objs = _objects(api)
    for method, template in _routes(api):
        path = template.format(**objs)
        response = _call(api, method, path, None)
        if ALLOWED[(method, template)] is None:
            assert response.status_code == 200
            continue
        assert response.status_code == 401, (method, path, response.text)
        _refusal(path, response, 401)
        bad = api.client.request(method, path, headers=_headers(api, path, None, "sfk_nope_nope"))
        assert bad.status_code == 401, (method, path)


def test_roles_without_the_right_get_403(api: Api) -> None:
    objs = _objects(api)
    checked = 0
    for method, template in _routes(api):
        allowed = ALLOWED[(method, template)]
        if allowed is None:
            continue
        for role in {"admin", "builder", "consumer", "metrics"} - allowed:
            response = _call(api, method, template.format(**objs), role)
            assert response.status_code == 403, (role, method, template, response.text)
            _refusal(template, response, 403)
            checked += 1
    assert checked >= 15


def test_another_tenants_objects_answer_404(api: Api) -> None:
    objs = _objects(api)
    checked = 0
    for method, template in _routes(api):
        if not re.search(r"\{", template) or (method, template) in CREATES | SHARED:
            continue
        response = _call(api, method, template.format(**objs), "other")
        assert response.status_code == 404, (method, template, response.text)
        checked += 1
    assert checked >= 10
    # and the lists of the other tenant do not show them
    assert api.client.get("/v1/datasets", headers=api.headers("other")).json()["items"] == []
    assert api.client.get("/v1/models", headers=api.headers("other")).json()["items"] == []
    assert api.client.get("/v1/jobs", headers=api.headers("other")).json()["items"] == []


def test_revoked_key_fails_at_once(api: Api) -> None:
    created = api.client.post("/v1/keys", json={"role": "consumer"}, headers=api.headers()).json()
    headers = {"Authorization": f"Bearer {created['secret']}"}
    assert api.client.get("/v1/models", headers=headers).status_code == 200
    assert api.client.delete(f"/v1/keys/{created['id']}", headers=api.headers()).status_code == 204
    response = api.client.get("/v1/models", headers=headers)
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]
    listed = api.client.get("/v1/keys", headers=api.headers()).json()["items"]
    assert all("secret" not in k and "secret_hash" not in k for k in listed)


def test_keys_are_stored_hashed(api: Api) -> None:
    created = api.client.post("/v1/keys", json={"role": "builder"}, headers=api.headers()).json()
    stored = api.platform.store.get_key(created["id"])
    assert stored is not None
    assert created["secret"].split("_", 2)[2] not in stored.secret_hash


def test_docs_are_served_without_a_cdn(api: Api) -> None:
    page = api.client.get("/docs")
    assert page.status_code == 200 and "/static/docs/swagger-ui-bundle.js" in page.text
    assert "cdn." not in page.text and "googleapis" not in page.text
    assert api.client.get("/static/docs/swagger-ui-bundle.js").status_code == 200
    assert "redoc.standalone.js" in api.client.get("/redoc").text


def test_metrics_merge_every_process(api: Api) -> None:
    """Job processes and other API workers leave snapshots; /metrics adds them to its own counts."""
    import json
    import os

    from shopfloor.settings import metrics_dir

    folder = metrics_dir(api.settings)
    folder.mkdir(parents=True, exist_ok=True)
    other = {
        "format": 2,
        "pid": os.getpid() + 1,
        "requests": [[["default", "POST", "/v1/models/{name}/predict", "200"], 5]],
        "latency": [],
        "predictions": [[["default", "merge-check", "1"], 7]],
        "jobs": [[["default", "merge-check-job", "succeeded"], 2]],
        "job_seconds": [[["default", "merge-check-job", "succeeded"], [0, 1, 1] + [0] * 9, 42.0]],
    }
    (folder / f"{os.getpid() + 1}.json").write_text(json.dumps(other))
    # a snapshot of an older layout (no tenant label) is not merged, not an error
    (folder / f"{os.getpid() + 2}.json").write_text(json.dumps({"predictions": [[["old", "1"], 1]]}))
    api.client.get("/v1/models", headers=api.headers())
    text = api.client.get("/metrics", headers=api.headers()).text
    job = 'outcome="succeeded",tenant="default",type="merge-check-job"'
    assert 'shopfloor_predictions_total{model="merge-check",tenant="default",version="1"} 7.0' in text
    assert f"shopfloor_jobs_total{{{job}}} 2.0" in text
    assert f'shopfloor_job_duration_seconds_bucket{{le="5",{job}}} 1.0' in text
    assert f"shopfloor_job_duration_seconds_sum{{{job}}} 42.0" in text
    assert (
        'shopfloor_http_requests_total{method="GET",route="/v1/models",status="200",tenant="default"}' in text
    )
    assert (
        'shopfloor_http_request_duration_seconds_bucket{le="+Inf",method="GET",route="/v1/models",'
        'tenant="default"}' in text
    )
    assert 'model="old"' not in text
