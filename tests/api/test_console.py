"""The browser console through create_app(): sign-in and sessions, CSRF, roles, tenants, user text
as text, and each page over the same services as the API (the real browser runs in tests/browser)."""

from __future__ import annotations

import io
import re
import zipfile
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from conftest import Api
from shopfloor.security.sessions import COOKIE
from shopfloor.services import audit
from zoo import machines

HTML = {"Accept": "text/html"}
XSS = "<img src=x onerror=alert(1)>"


def _token(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has a form with a CSRF token"
    return found.group(1)


def _signin(client: TestClient, key: str) -> Any:
    form = client.get("/signin", headers=HTML)
    return client.post(
        "/signin", data={"api_key": key, "csrf_token": _token(form.text), "next": "/"}, follow_redirects=False
    )


def _browser(api: Api, who: str) -> TestClient:
    """A client of the same app with its own cookie jar, signed in as ``who``."""
    client = TestClient(api.client.app, raise_server_exceptions=False)
    assert _signin(client, api.keys[who]).status_code == 303
    return client


def _post(client: TestClient, page: str, action: str, data: dict[str, Any] | None = None, **kw: Any) -> Any:
    """Submit a form of ``page`` to ``action`` with the page's CSRF token."""
    token = _token(client.get(page, headers=HTML).text)
    return client.post(action, data={"csrf_token": token, **(data or {})}, follow_redirects=False, **kw)


def test_signed_out_browsers_are_sent_to_sign_in_and_the_api_still_answers_json(api: Api) -> None:
    answer = api.client.get("/models", headers=HTML, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/signin?next=/models"
    assert api.client.get("/v1/models").headers["content-type"].startswith("application/problem+json")
    assert (
        api.client.get("/v1/nothing", headers=HTML).headers["content-type"].startswith("application/problem")
    )
    missing = api.client.get("/nothing-here", headers=HTML)
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("text/html")


def test_sign_in_sets_a_sealed_httponly_strict_cookie_and_sign_out_needs_the_token(api: Api) -> None:
    client = TestClient(api.client.app, raise_server_exceptions=False)
    page = client.get("/signin", headers=HTML)
    assert page.status_code == 200
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    # a forged form (no sign-in cookie pair) and a wrong key are refused, with a page that says why
    forged = TestClient(api.client.app).post(
        "/signin", data={"api_key": api.keys["admin"], "csrf_token": "x"}
    )
    assert forged.status_code == 403 and COOKIE not in forged.cookies
    wrong = client.post("/signin", data={"api_key": "sfk_nope_nope", "csrf_token": _token(page.text)})
    assert wrong.status_code == 401 and "Sign-in refused" in wrong.text
    signed = _signin(client, api.keys["builder"])
    assert signed.status_code == 303
    cookie = signed.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    assert api.keys["builder"].split("_", 2)[2] not in cookie  # sealed, not readable
    home = client.get("/", headers=HTML)
    assert home.status_code == 200 and "builder" in home.text
    assert (
        client.post("/signout", data={"csrf_token": "wrong"}, follow_redirects=False).headers["location"]
        == "/"
    )
    assert client.get("/", headers=HTML, follow_redirects=False).status_code == 200  # still signed in
    out = _post(client, "/", "/signout")
    assert out.headers["location"] == "/signin"
    assert client.get("/", headers=HTML, follow_redirects=False).status_code == 303


def test_the_role_decides_what_is_shown_and_the_server_refuses_the_rest(api: Api) -> None:
    consumer, admin = _browser(api, "consumer"), _browser(api, "admin")
    nav = consumer.get("/", headers=HTML).text
    assert 'href="/models"' in nav and 'href="/datasets"' not in nav and 'href="/admin/keys"' not in nav
    assert all(
        f'href="{p}"' in admin.get("/", headers=HTML).text for p in ("/datasets", "/train", "/admin/keys")
    )
    assert consumer.get("/datasets", headers=HTML).status_code == 403
    assert consumer.get("/admin/keys", headers=HTML).status_code == 403
    # a builder action posted by a consumer, even with the consumer's own valid token
    token = _token(consumer.get("/", headers=HTML).text)
    refused = consumer.post("/datasets", data={"csrf_token": token}, files={"file": ("t.csv", b"a,b\n1,2\n")})
    assert refused.status_code == 403
    assert api.client.get("/v1/datasets", headers=api.headers("admin")).json()["items"] == []


def test_forms_without_the_session_token_change_nothing(api: Api) -> None:
    admin = _browser(api, "admin")
    other = _browser(api, "builder")
    stolen = _token(other.get("/", headers=HTML).text)  # another session's token
    for data in ({}, {"csrf_token": "0" * 64}, {"csrf_token": stolen}):
        answer = admin.post("/admin/keys", data={"role": "admin", **data}, follow_redirects=False)
        assert answer.status_code == 403, data
    keys = api.client.get("/v1/keys", headers=api.headers("admin")).json()["items"]
    assert len(keys) == 4  # admin, builder, consumer and metrics: nothing created


def test_user_text_is_never_markup(api: Api) -> None:
    builder = _browser(api, "builder")
    table = pd.DataFrame({XSS: [1, 2, 3], "note": ["<script>alert(2)</script>", "<b>x</b>", "ok"]})
    made = _post(
        builder,
        "/datasets",
        "/datasets",
        {"name": "xss"},
        files={"file": ("x.csv", table.to_csv(index=False).encode(), "text/csv")},
    )
    assert made.status_code == 303, made.text
    page = builder.get(made.headers["location"], headers=HTML)
    assert page.status_code == 200
    assert XSS not in page.text and "&lt;img src=x onerror=alert(1)&gt;" in page.text
    assert "<script>alert(2)" not in page.text and "<b>x</b>" not in page.text
    assert "<script>" not in re.sub(
        r'<script src="/console-static/console.js" defer></script>', "", page.text
    )


def test_another_tenants_dataset_is_not_found(api: Api) -> None:
    made = api.client.post(
        "/v1/datasets", files={"file": ("t.csv", b"a,b\n1,2\n3,4\n")}, headers=api.headers("other")
    )
    assert made.status_code == 201
    admin = _browser(api, "admin")
    answer = admin.get(f"/datasets/{made.json()['id']}", headers=HTML)
    assert answer.status_code == 404 and answer.headers["content-type"].startswith("text/html")


def test_a_bad_upload_shows_where_and_stores_nothing(api: Api) -> None:
    builder = _browser(api, "builder")
    answer = _post(
        builder,
        "/datasets",
        "/datasets",
        {"asset_column": "a"},
        files={"file": ("t.csv", b"a,b\n1,2\n", "text/csv")},
    )
    assert answer.status_code == 422
    assert "time_column" in answer.text and 'role="alert"' in answer.text
    assert api.client.get("/v1/datasets", headers=api.headers("admin")).json()["items"] == []


def test_revoking_a_key_ends_its_sessions(api: Api) -> None:
    builder = _browser(api, "builder")
    assert builder.get("/", headers=HTML, follow_redirects=False).status_code == 200
    keys = api.client.get("/v1/keys", headers=api.headers("admin")).json()["items"]
    builder_id = next(k["id"] for k in keys if k["role"] == "builder")
    admin = _browser(api, "admin")
    assert _post(admin, "/admin/keys", f"/admin/keys/{builder_id}/revoke").status_code == 303
    gone = builder.get("/", headers=HTML, follow_redirects=False)
    assert gone.status_code == 303 and gone.headers["location"].startswith("/signin")


def test_admin_creates_a_key_shown_once_and_sees_audit_quotas_and_masking(api: Api) -> None:
    admin = _browser(api, "admin")
    made = _post(admin, "/admin/keys", "/admin/keys", {"role": "consumer", "name": "line 3"})
    assert made.status_code == 201
    secret = re.search(r'value="(sfk_[^"]+)"', made.text)
    assert secret and "sfk_" not in admin.get("/admin/keys", headers=HTML).text
    assert (
        api.client.get("/v1/models", headers={"Authorization": f"Bearer {secret.group(1)}"}).status_code
        == 200
    )
    audit = admin.get("/admin/audit?action=key.create", headers=HTML)
    assert audit.status_code == 200 and "key.create" in audit.text and "console.signin" not in audit.text
    assert "console.signin" in admin.get("/admin/audit", headers=HTML).text
    assert admin.get("/admin/audit?since=yesterday", headers=HTML).status_code == 422
    quotas = admin.get("/admin/quotas", headers=HTML)
    assert (
        quotas.status_code == 200 and "requests_per_minute" in quotas.text and "storage_bytes" in quotas.text
    )
    shown = _post(admin, "/admin/masking", "/admin/masking/preview", {"text": "call me at jane@example.com"})
    assert shown.status_code == 200 and "jane@example.com" not in shown.text.split('id="masked"')[1]
    saved = _post(admin, "/admin/masking", "/admin/masking", {"policy": '{"names": ["Jane Roe"]}'})
    assert saved.status_code == 200 and "Saved" in saved.text
    assert api.client.get("/v1/masking", headers=api.headers("admin")).json()["names"] == ["Jane Roe"]
    for bad in ("{not json", '{"nicknames": []}', "[1]"):
        refused = _post(admin, "/admin/masking", "/admin/masking", {"policy": bad})
        assert refused.status_code == 422 and 'role="alert"' in refused.text, bad
    assert api.client.get("/v1/masking", headers=api.headers("admin")).json()["names"] == ["Jane Roe"]


@pytest.fixture()
def trained(api: Api) -> TestClient:
    """A builder's browser after training a small failure model through the console."""
    builder = _browser(api, "builder")
    table = machines(160)
    made = _post(
        builder,
        "/datasets",
        "/datasets",
        {"name": "line"},
        files={"file": ("line.csv", table.to_csv(index=False).encode(), "text/csv")},
    )
    dataset_id = made.headers["location"].rsplit("/", 1)[1]
    form = builder.get(f"/train?dataset_id={dataset_id}&task=tabular_classification", headers=HTML)
    assert 'name="target"' in form.text and 'name="exclude"' in form.text
    rul = builder.get(f"/train?dataset_id={dataset_id}&task=rul", headers=HTML).text
    assert 'name="option.window"' in rul and "Network window" in rul  # from the family's option model
    assert 'name="target"' not in rul  # rul derives its target
    started = _post(
        builder,
        f"/train?dataset_id={dataset_id}&task=tabular_classification",
        "/train",
        {
            "dataset_id": dataset_id,
            "task": "tabular_classification",
            "model_name": "line",
            "target": "failure",
            "time_budget_s": "2",
        },
    )
    assert started.status_code == 303, started.text
    job_page = started.headers["location"]
    assert 'data-job="' in builder.get(job_page, headers=HTML).text
    api.run_jobs()
    status = builder.get(job_page + "/status").json()
    assert status["status"] == "succeeded", status
    return builder


def test_train_report_promote_try_and_batch(api: Api, trained: TestClient) -> None:
    builder = trained
    report = builder.get("/models/line/versions/1", headers=HTML)
    assert report.status_code == 200 and "Metrics" in report.text
    plots = re.findall(r'src="(/models/line/versions/1/plots/[a-z]+\.png)"', report.text)
    assert plots and all(builder.get(p).headers["content-type"] == "image/png" for p in plots)
    # before any promotion the latest version can be tried
    assert "Try line v1" in builder.get("/models/line/try", headers=HTML).text
    promoted = _post(builder, "/models/line", "/models/line/aliases", {"version": "1", "alias": "production"})
    assert promoted.status_code == 303
    assert api.client.get("/v1/models/line", headers=api.headers("admin")).json()["aliases"] == {
        "production": 1
    }
    jobs = builder.get("/jobs?status=succeeded", headers=HTML)
    assert jobs.status_code == 200 and '<option value="succeeded" selected>' in jobs.text
    assert builder.get("/jobs?status=failed", headers=HTML).text.count('href="/jobs/job_') == 0
    form = builder.get("/models/line/try", headers=HTML)
    assert 'name="field.torque"' in form.text
    fields = dict(re.findall(r'name="(field\.[a-z]+)" value="([^"]*)"', form.text))
    answer = _post(
        builder, "/models/line/try", "/models/line/try", {"version": "1", **fields, "field.Type": "L"}
    )
    assert answer.status_code == 200, answer.text
    assert "Answer of version 1" in answer.text and answer.text.count("data:image/svg+xml;base64,") >= 2
    batch = _post(
        builder,
        "/models/line/try",
        "/models/line/batch",
        {"version": "1"},
        files={"file": ("rows.csv", machines(20).drop(columns="failure").to_csv(index=False).encode())},
    )
    assert batch.status_code == 303
    api.run_jobs()
    result = builder.get(batch.headers["location"] + "/result")
    assert result.status_code == 200 and len(result.text.strip().splitlines()) == 21


def test_a_model_description_is_text_and_only_builders_change_it(api: Api, trained: TestClient) -> None:
    builder, consumer = trained, _browser(api, "consumer")
    text = f"Tool wear on line 1 {XSS}\n<b>owner</b>: maintenance"
    saved = _post(builder, "/models/line", "/models/line/description", {"description": text})
    assert saved.status_code == 303 and saved.headers["location"] == "/models/line"
    for url in ("/models/line", "/models"):
        shown = consumer.get(url, headers=HTML).text
        assert XSS not in shown and "<b>owner</b>" not in shown
        assert "&lt;img src=x onerror=alert(1)&gt;" in shown
    assert "Save description" not in consumer.get("/models/line", headers=HTML).text
    assert api.client.get("/v1/models/line", headers=api.headers()).json()["description"] == text
    # refused, and nothing changes: a consumer's post, a control character
    token = _token(consumer.get("/models/line", headers=HTML).text)
    refused = consumer.post("/models/line/description", data={"csrf_token": token, "description": "x"})
    assert refused.status_code == 403
    bad = _post(builder, "/models/line", "/models/line/description", {"description": "bell\x07"})
    assert bad.status_code == 422 and "control character U+0007" in bad.text
    assert api.client.get("/v1/models/line", headers=api.headers()).json()["description"] == text
    # batch scoring needs a role that can follow the job: refused as forbidden, and audited
    batch = consumer.post(
        "/models/line/batch", data={"csrf_token": token}, files={"file": ("r.csv", b"a\n1\n")}
    )
    assert batch.status_code == 403
    audit.flush(api.platform, everything=True)
    denied = api.client.get("/v1/audit?action=auth.denied", headers=api.headers()).json()["items"]
    assert any(e["detail"].get("permission") == "jobs:read" for e in denied), denied


def test_the_optimiser_form_finds_settings_and_reports_mistakes(api: Api, trained: TestClient) -> None:
    builder = trained
    form = builder.get("/models/line/optimise", headers=HTML)
    assert form.status_code == 200 and 'name="role.speed"' in form.text
    fields = dict(re.findall(r'name="((?:min|max|fixed)\.[a-zA-Z]+)" size="\d+" value="([^"]*)"', form.text))
    answer = _post(
        builder, "/models/line/optimise", "/models/line/optimise",
        {"version": "1", **fields, "role.speed": "control", "role.torque": "control", "objective": "minimize",
         "c0.feature": "torque", "c0.op": ">=", "c0.value": "30"},
    )
    assert answer.status_code == 200, answer.text
    assert "Best settings" in answer.text and "sensitivity of the prediction to speed" in answer.text
    impossible = {**fields, "role.torque": "control", "min.torque": "10", "max.torque": "20"}
    infeasible = _post(
        builder, "/models/line/optimise", "/models/line/optimise",
        {"version": "1", **impossible, "c0.feature": "torque", "c0.op": ">=", "c0.value": "30"},
    )
    assert infeasible.status_code == 200 and "No setting meets the constraints" in infeasible.text
    bad = _post(builder, "/models/line/optimise", "/models/line/optimise",
                {"version": "1", **fields, "role.speed": "control", "min.speed": "fast"})
    assert bad.status_code == 422 and "speed" in bad.text


def test_a_recording_dataset_page_shows_its_facts_and_class_spectra(api: Api) -> None:
    """What the profile holds, read generically: the facts of a waveform column (duration, rate,
    channels, clipping, DC offset) and the chart it drew (mean spectrum per class), never the
    chart's data; a recording label cannot become markup."""
    from signal_data import RATE, waveform

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for i, order in enumerate([3.1, 3.1, None, None]):
            out = io.BytesIO()
            np.save(out, waveform(order, 1750, seed=i))
            zf.writestr(f"r{i}.npy", out.getvalue())
        zf.writestr(
            "labels.csv",
            "file,label\n"
            + "".join(f'r{i}.npy,"{lab}"\n' for i, lab in enumerate([XSS, XSS, "normal", "normal"])),
        )
    builder = _browser(api, "builder")
    upload = {"file": ("rec.zip", buffer.getvalue(), "application/zip")}
    form = {"name": "recordings", "format": "signals", "sampling_rate": "fast"}
    refused = _post(builder, "/datasets", "/datasets", form, files=upload)
    assert refused.status_code == 422 and "sampling rate must be a number" in refused.text
    assert api.client.get("/v1/datasets", headers=api.headers("builder")).json()["items"] == []
    made = _post(builder, "/datasets", "/datasets", {**form, "sampling_rate": str(RATE)}, files=upload)
    assert made.status_code == 303, made.text
    page = builder.get(made.headers["location"], headers=HTML)
    assert page.status_code == 200
    section = page.text[page.text.index("<h2>signal (waveform)</h2>") : page.text.index("<caption>Columns")]
    for fact in ("duration s", "sampling rate hz", "channels", "clipping", "dc offset"):
        assert f"<dt>{fact}</dt>" in section, fact
    assert "max_share" in section and "max_abs" in section
    assert "min 1, median 1, max 1, total 4" in section  # four one-second recordings
    assert re.search(r'<img src="data:image/svg\+xml;base64,[^"]+" alt="spectra of signal">', section)
    assert "frequency_hz" not in page.text and "<svg" not in page.text  # the chart's data stays out
    assert XSS not in page.text
