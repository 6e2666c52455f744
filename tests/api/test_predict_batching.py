"""Predict requests that reach a server together share model calls (serving/batching.py) and
still answer, fail, count and log each request as its own."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from test_prediction_log_api import MODEL, _export, _records, _set_rate, _train

from shopfloor import metrics

Api = Any


@pytest.fixture()
def trained(api_with: Any) -> Api:
    return api_with(_train)


def _together(api: Api, bodies: list[tuple[str, Any]]) -> list[httpx.Response]:
    """POST each ``(key name, body)`` to the predict route at once, on the app's own event loop;
    request ``i`` carries the request id ``r<i>``."""
    app = api.client.app

    async def scenario() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            posts = [
                client.post(
                    f"/v1/models/{MODEL}/predict",
                    json=body,
                    headers={**api.headers(who), "X-Request-ID": f"r{i}"},
                )
                for i, (who, body) in enumerate(bodies)
            ]
            return list(await asyncio.gather(*posts))

    return list(api.client.portal.call(scenario))


def _alone(api: Api, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    body = {"records": records}
    answer = api.client.post(f"/v1/models/{MODEL}/predict", json=body, headers=api.headers("consumer"))
    assert answer.status_code == 200, answer.text
    return list(answer.json()["predictions"])


def test_requests_sent_together_get_the_answers_they_get_alone_and_are_each_logged(trained: Api) -> None:
    api = trained
    assert _set_rate(api, 1.0).status_code == 200
    sent = [_records(1 + i % 3, seed=20 + i) for i in range(12)]
    alone = [_alone(api, records) for records in sent]
    _export(api)  # what the requests alone logged, out of the way
    batcher = api.client.app.state.batcher
    before_batches = batcher.batches
    before = metrics.RECORDER.predictions.get(("default", MODEL, "1"), 0)
    answers = _together(api, [("consumer", {"records": records}) for records in sent])
    assert [a.status_code for a in answers] == [200] * 12
    together = [a.json()["predictions"] for a in answers]
    # the same labels; probabilities to the last bits (a product over several rows may round them apart)
    assert [[p["label"] for p in ps] for ps in together] == [[p["label"] for p in ps] for ps in alone]
    assert all(
        p["probabilities"] == pytest.approx(q["probabilities"], rel=1e-9)
        for ps, qs in zip(together, alone, strict=True)
        for p, q in zip(ps, qs, strict=True)
    )
    assert [a.headers["x-request-id"] for a in answers] == [f"r{i}" for i in range(12)]
    assert batcher.batches > before_batches  # some of them were scored together
    assert metrics.RECORDER.predictions[("default", MODEL, "1")] - before == sum(map(len, sent))
    rows = _export(api, "limit=1000")
    logged = sorted((r["request_id"], r["index"]) for r in rows if r["request_id"].startswith("r"))
    assert logged == sorted((f"r{i}", k) for i, records in enumerate(sent) for k in range(len(records)))


def test_a_bad_request_among_others_fails_alone_and_another_tenant_sees_nothing(trained: Api) -> None:
    api = trained
    good = _records(2, seed=3)
    bad = [{**good[0], "speed": "fast"}]
    bodies = [
        ("consumer", {"records": good}),
        ("consumer", {"records": bad}),
        ("other", {"records": good}),  # tenant "other" has no model of that name
        ("consumer", {"records": good}),
        ("consumer", {"records": []}),
        ("consumer", {"records": good}),
    ]
    answers = _together(api, bodies)
    assert [a.status_code for a in answers] == [200, 422, 404, 200, 422, 200]
    assert answers[1].json()["errors"][0]["loc"] == ["body", "records", 0, "speed"]
    assert answers[2].headers["content-type"].startswith("application/problem+json")
    expected = [p["label"] for p in _alone(api, good)]
    assert all([p["label"] for p in answers[i].json()["predictions"]] == expected for i in (0, 3, 5))
