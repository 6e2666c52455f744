"""The console's monitoring pages of a deployed model through create_app(): the prediction log (rate,
the newest logged predictions, retention), live performance, drift over time, the challenger and
retraining, each with real figures from logged predictions and feedback; forms checked as the API
checks them, roles, another tenant, CSRF and user text as text."""

from __future__ import annotations

import re
from typing import Any

import pytest
from test_console import HTML, XSS, _browser, _post, _token

import ai4i_like
import threshold_family
import watched
from conftest import Api

MODEL = watched.MODEL


def _build(api: Api) -> dict[str, str]:
    """``mill`` v1 in production logging everything, 200 predictions served with 150 outcomes fed
    back, v2 retrained on newer data (its gate in its report), then run in shadow on 100 more."""
    watched.build(api)
    items = watched.serve(api, watched.rows(200, seed=11), "early")
    watched.feedback(api, items[:150])
    frame = ai4i_like.table(400, seed=2, process="after")
    files = {"file": ("after.csv", frame.to_csv(index=False).encode(), "text/csv")}
    builder = api.headers("builder")
    after = api.client.post("/v1/datasets", headers=builder, files=files, data={"name": "after"})
    assert after.status_code == 201, after.text
    body = {"dataset_id": after.json()["id"]}
    started = api.client.post(f"/v1/models/{MODEL}/retrain", json=body, headers=builder)
    assert started.status_code == 202, started.text
    api.run_jobs()
    mode = {"mode": "shadow", "version": 2}
    shadow = api.client.put(f"/v1/models/{MODEL}/challenger", json=mode, headers=builder)
    assert shadow.status_code == 200, shadow.text
    more = watched.serve(api, watched.rows(100, seed=12, shifted=True), "late")
    assert api.platform.challengers.queue.wait_idle(30)
    api.platform.prediction_log.flush()
    watched.feedback(api, more[:60])
    return {"after": after.json()["id"], "retrain_job": started.json()["id"]}


@pytest.fixture()
def mill(api_with: Any) -> Api:
    return api_with(_build)


def _cells(html: str) -> str:
    return re.sub(r"\s+", " ", html)


def test_the_model_page_links_to_monitoring_and_the_log_page_shows_its_figures(mill: Api) -> None:
    builder = _browser(mill, "builder")
    assert f'href="/models/{MODEL}/monitoring"' in builder.get(f"/models/{MODEL}", headers=HTML).text
    page = builder.get(f"/models/{MODEL}/monitoring", headers=HTML)
    assert page.status_code == 200, page.text
    text = _cells(page.text)
    assert "every prediction is logged" in text and 'name="rate"' in text
    assert "30 days" in text and "Admins of the tenant set it" in text
    assert "f1 (realised)" in text and "precision (estimated)" in text and "At training (hold-out)" in text
    assert f"/models/{MODEL}/monitoring/performance.png?window=1d" in text
    assert re.search(r"<td>300</td><td>210</td>", text), "one window holds 300 logged, 210 with outcomes"
    chart = builder.get(f"/models/{MODEL}/monitoring/performance.png?window=1d&windows=20")
    assert chart.status_code == 200 and chart.content.startswith(b"\x89PNG")
    # an empty span says so in one line; a bad window is an error that names the field
    empty = builder.get(f"/models/{MODEL}/monitoring?window=10&windows=1", headers=HTML)
    assert empty.status_code == 200
    bad = builder.get(f"/models/{MODEL}/monitoring?window=soon", headers=HTML)
    assert bad.status_code == 422 and "window" in bad.text and "1d or 5000" in bad.text
    assert builder.get(f"/models/{MODEL}/monitoring?windows=many", headers=HTML).status_code == 422


def test_the_sampling_rate_form_is_the_apis_and_only_writers_post_it(mill: Api) -> None:
    builder, consumer = _browser(mill, "builder"), _browser(mill, "consumer")
    page = f"/models/{MODEL}/monitoring"
    action = f"/models/{MODEL}/monitoring/rate"
    for wrong in ("1.5", "half", ""):
        refused = _post(builder, page, action, {"rate": wrong})
        assert refused.status_code == 422 and "rate" in refused.text, wrong
    url = f"/v1/models/{MODEL}/prediction-log"
    rate = lambda: mill.client.get(url, headers=mill.headers()).json()["rate"]  # noqa: E731
    assert rate() == 1.0
    assert builder.post(action, data={"rate": "0.25"}, follow_redirects=False).status_code == 403  # no token
    assert _post(consumer, page, action, {"rate": "0.25"}).status_code == 403
    assert 'name="rate"' not in consumer.get(page, headers=HTML).text
    assert rate() == 1.0
    done = _post(builder, page, action, {"rate": "0.25"})
    assert done.status_code == 303 and done.headers["location"] == page
    assert rate() == 0.25 and "about 25.0 % of predictions" in builder.get(page, headers=HTML).text
    events = mill.client.get("/v1/audit?action=prediction_log.rate", headers=mill.headers()).json()["items"]
    assert events and events[-1]["detail"]["rate"] == 0.25


def test_logged_predictions_are_paged_newest_first_and_kept_from_consumers(mill: Api) -> None:
    builder = _browser(mill, "builder")
    first = builder.get(f"/models/{MODEL}/predictions", headers=HTML)
    assert first.status_code == 200, first.text
    text = _cells(first.text)
    assert "Page 1 of 8 (400 in all)" in text and 'rel="next"' in text
    assert "challenger:shadow" in text and "late-1" in text and "early-" not in text  # newest first
    assert "Torque [Nm]" in text and "not known" in text
    last = _cells(builder.get(f"/models/{MODEL}/predictions?page=8", headers=HTML).text)
    assert "early-0" in last and "Page 8 of 8" in last
    assert re.search(r"<td>\d</td>\s*<td>", last) or "<td>0</td>" in last or "<td>1</td>" in last  # outcomes
    assert _browser(mill, "consumer").get(f"/models/{MODEL}/predictions", headers=HTML).status_code == 403


def test_drift_over_time_and_the_training_profile(mill: Api) -> None:
    consumer = _browser(mill, "consumer")
    page = consumer.get(f"/models/{MODEL}/drift?window=100&windows=5", headers=HTML)
    assert page.status_code == 200, page.text
    text = _cells(page.text)
    assert "Drift per window of 100" in text and "Training profile" in text
    assert "Tool wear [min]" in text and "800 training rows" in text
    assert f"/models/{MODEL}/drift/timeline.png?window=100" in text
    assert "<span class=\"error\">yes</span>" in text  # the shifted rows drifted: tool wear moved
    assert "Tool wear" in text.split("Inputs that moved most", 1)[1]
    chart = consumer.get(f"/models/{MODEL}/drift/timeline.png?window=100&windows=5")
    assert chart.status_code == 200 and chart.content.startswith(b"\x89PNG")
    # a span with no window of 30 logged predictions says so instead of failing
    quiet = _cells(consumer.get(f"/models/{MODEL}/drift?window=10&windows=1", headers=HTML).text)
    assert "No window has data enough to check yet" in quiet and "a check needs 30" in quiet
    assert "timeline.png" not in quiet
    over = consumer.get(f"/models/{MODEL}/drift?windows=51", headers=HTML)
    assert over.status_code == 422 and "windows" in over.text


def test_challenger_setting_report_and_promotion(mill: Api) -> None:
    builder, consumer = _browser(mill, "builder"), _browser(mill, "consumer")
    page = f"/models/{MODEL}/challenger"
    text = _cells(builder.get(page, headers=HTML).text)
    assert "shadow" in text and "version 2" in text
    assert "Records answered by both" in text and "100 in 2 requests" in text
    assert "f1 on 60 outcomes fed back" in text and "Latency p50 / p95" in text
    assert f"{page}/report.png?window=1h" in text and "data-confirm" in text
    chart = builder.get(f"{page}/report.png?window=1h&windows=24")
    assert chart.status_code == 200 and chart.content.startswith(b"\x89PNG")
    setting = lambda: mill.client.get(f"/v1/models/{MODEL}/challenger", headers=mill.headers()).json()  # noqa: E731
    # canary needs a share from 0 to 1; a share is for canary only; a consumer cannot set anything
    for data in ({"mode": "canary"}, {"mode": "canary", "share": "2"}, {"mode": "shadow", "share": "0.3"},
                 {"mode": "sometimes"}):  # fmt: skip
        refused = _post(builder, page, page, data)
        assert refused.status_code == 422, data
    assert _post(consumer, page, page, {"mode": "off"}).status_code == 403
    assert 'action="/models/mill/challenger"' not in consumer.get(page, headers=HTML).text
    assert setting()["mode"] == "shadow"
    done = _post(builder, page, page, {"mode": "canary", "share": "0.2"})
    assert done.status_code == 303 and (setting()["mode"], setting()["share"]) == ("canary", 0.2)
    assert "answers 20.0 % of requests" in builder.get(page, headers=HTML).text
    # promotion from a stale page is refused with its reason; from the current one it moves production
    stale = _post(builder, page, f"{page}/promote", {"version": "2", "champion": "2"})
    assert stale.status_code == 409 and setting()["champion"] == 1
    moved = _post(builder, page, f"{page}/promote", {"version": "2", "champion": "1"})
    assert moved.status_code == 303
    assert (setting()["champion"], setting()["mode"]) == (2, "off")


def test_retraining_form_jobs_with_their_gate_and_gated_promotion(mill: Api) -> None:
    builder, consumer = _browser(mill, "builder"), _browser(mill, "consumer")
    page = f"/models/{MODEL}/retraining"
    text = _cells(builder.get(page, headers=HTML).text)
    job = mill.made["retrain_job"]
    assert f'href="/jobs/{job}"' in text and "succeeded" in text
    gate = mill.client.get(f"/v1/models/{MODEL}/versions/2", headers=mill.headers()).json()["report"]["gate"]
    word = "passed" if gate["passed"] else "failed"
    assert f'<span class="{"good" if gate["passed"] else "error"}">{word}</span>' in text
    assert gate["summary"].split(":")[0] in text and 'name="dataset_id"' in text
    # bad requests change nothing; a consumer sees no forms and may not post them
    before = len(mill.client.get("/v1/jobs", headers=mill.headers()).json()["items"])
    assert _post(builder, page, f"/models/{MODEL}/retrain", {"dataset_id": ""}).status_code == 422
    assert _post(builder, page, f"/models/{MODEL}/retrain", {"dataset_id": "ds_nope"}).status_code == 404
    refused = _post(consumer, page, f"/models/{MODEL}/retrain", {"dataset_id": mill.made["after"]})
    assert refused.status_code == 403
    assert 'name="dataset_id"' not in consumer.get(page, headers=HTML).text
    assert len(mill.client.get("/v1/jobs", headers=mill.headers()).json()["items"]) == before
    data = {"dataset_id": mill.made["after"], "promote": "if_gate_passes"}
    started = _post(builder, page, f"/models/{MODEL}/retrain", data)
    assert started.status_code == 303 and started.headers["location"].startswith("/jobs/")
    queued = mill.client.get("/v1" + started.headers["location"], headers=mill.headers()).json()
    assert queued["type"] == "retrain" and queued["params"]["promote"] == "if_gate_passes"
    # gated promotion of version 2: a failed gate is refused with its reason unless forced
    model = f"/v1/models/{MODEL}"
    production = lambda: mill.client.get(model, headers=mill.headers()).json()["aliases"]  # noqa: E731
    if not gate["passed"]:
        refused = _post(builder, page, f"/models/{MODEL}/promote", {"version": "2", "expected": "1"})
        assert refused.status_code == 409 and "failed its retraining gate" in refused.text
        assert production()["production"] == 1
    forced = {"version": "2", "expected": "1", "force": "yes"}
    assert _post(consumer, page, f"/models/{MODEL}/promote", forced).status_code == 403
    moved = _post(builder, page, f"/models/{MODEL}/promote", forced)
    assert moved.status_code == 303 and production()["production"] == 2


def test_another_tenant_gets_not_found_and_user_text_stays_text(mill: Api) -> None:
    other = _browser(mill, "other")
    pages = ("monitoring", "predictions", "drift", "challenger", "retraining", "monitoring/performance.png")
    for path in pages:
        assert other.get(f"/models/{MODEL}/{path}", headers=HTML).status_code == 404, path
    assert _post(other, "/", f"/models/{MODEL}/monitoring/rate", {"rate": "0"}).status_code == 404
    assert _post(other, "/", f"/models/{MODEL}/challenger", {"mode": "off"}).status_code == 404
    builder = _browser(mill, "builder")
    sent = mill.client.post(
        f"/v1/models/{MODEL}/predict",
        json={"records": [{**watched.records(watched.rows(1, seed=3))[0], "Type": XSS}]},
        headers={**mill.headers("consumer"), "X-Request-ID": XSS},
    )
    assert sent.status_code in (200, 422)
    mill.platform.prediction_log.flush()
    shown = builder.get(f"/models/{MODEL}/predictions", headers=HTML).text
    assert XSS not in shown
    token = _token(shown)
    bad = builder.post(f"/models/{MODEL}/challenger", data={"csrf_token": token, "mode": XSS})
    assert bad.status_code == 422 and XSS not in bad.text


def test_sections_that_do_not_apply_to_a_family_say_so_in_one_line(threshold_models: Api) -> None:
    """A regressor has no CBPE estimate, and a family with no training profile has no drift."""
    api = threshold_models
    name = threshold_family.VALUE
    logged = api.client.put(f"/v1/models/{name}/prediction-log", json={"rate": 1}, headers=api.headers())
    assert logged.is_success
    builder = _browser(api, "builder")
    text = _cells(builder.get(f"/models/{name}/monitoring", headers=HTML).text)
    assert "No estimate without outcomes (CBPE)" in text and "No window holds a logged prediction yet" in text
    drift = builder.get(f"/models/{name}/drift", headers=HTML)
    assert drift.status_code == 200, drift.text
    assert "does not apply to this model" in drift.text or "no training profile" in drift.text
    challenger = _cells(builder.get(f"/models/{name}/challenger", headers=HTML).text)
    assert "No comparison:" in challenger
    retraining = _cells(builder.get(f"/models/{name}/retraining", headers=HTML).text)
    assert "no gate (not retrained)" in retraining
