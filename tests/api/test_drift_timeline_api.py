"""Drift over time from the prediction log: windows of logged predictions against the training
profile (as a check of the same rows says) and the chart; another tenant gets 404, a model that
logs nothing has no window to check."""

from __future__ import annotations

from typing import Any

import pytest

import watched
from watched import MODEL

Api = Any
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture()
def mill(api_with: Any) -> Api:
    return api_with(watched.build)


def _timeline(api: Api, query: str, who: str = "consumer") -> Any:
    return api.client.get(f"/v1/models/{MODEL}/drift/timeline?{query}", headers=api.headers(who))


def test_each_window_of_logged_predictions_is_checked_as_its_rows_would_be(mill: Api) -> None:
    api = mill
    watched.serve(api, watched.rows(200, seed=11), "calm-a")
    watched.serve(api, watched.rows(200, seed=12), "calm-b")
    shifted = watched.rows(200, seed=13, shifted=True)
    watched.serve(api, shifted, "worn")
    answer = _timeline(api, "window=200&windows=3")
    assert answer.status_code == 200, answer.text
    found = answer.json()
    assert (found["model"], found["version"], found["window"]["count"]) == (MODEL, 1, 200)
    windows = found["windows"]
    assert [w["predictions"] for w in windows] == [200, 200, 200]
    assert [w["checked"] for w in windows] == [True] * 3 and [w["rows"] for w in windows] == [200] * 3
    assert [w["drifted"] for w in windows] == [False, False, True], [w["summary"] for w in windows]
    assert windows[0]["start"] <= windows[0]["end"] <= windows[1]["start"]
    worn = next(f for f in windows[2]["findings"] if f["name"] == "Tool wear [min]")
    assert worn["drifted"] and worn["column"] == "Tool wear [min]" and "Tool wear" in windows[2]["summary"]
    # the logged window compared is the window served: the same figures as a check of its rows
    body = {"records": watched.records(shifted)}
    direct = api.client.post(f"/v1/models/{MODEL}/drift", json=body, headers=api.headers("consumer")).json()
    by_name = {f["name"]: f["distance"] for f in direct["inputs"]}
    assert {f["name"]: f["distance"] for f in windows[2]["findings"] if f["role"] == "input"} == by_name
    assert windows[2]["score"] == max(by_name.values())

    plot = api.client.get(f"/v1/models/{MODEL}/drift/timeline/plot?window=200&windows=3",
                          headers=api.headers())
    assert plot.status_code == 200 and plot.content.startswith(PNG)
    assert plot.headers["content-type"] == "image/png"


def test_time_windows_without_enough_predictions_are_not_checked(mill: Api) -> None:
    api = mill
    watched.serve(api, watched.rows(100, seed=21), "recent")
    found = _timeline(api, "window=1h&windows=2").json()
    early, late = found["windows"]
    assert early["checked"] is False and early["predictions"] == 0 and early["drifted"] is None
    assert "not checked" in early["summary"]
    assert late["checked"] is True and late["predictions"] == 100 and late["drifted"] is False
    assert found["window"]["seconds"] == 3600


def test_another_tenant_and_bad_requests(mill: Api) -> None:
    api = mill
    assert _timeline(api, "window=1h", who="other").status_code == 404
    theirs = api.client.get(f"/v1/models/{MODEL}/drift/timeline/plot", headers=api.headers("other"))
    assert theirs.status_code == 404
    assert api.client.get(f"/v1/models/{MODEL}/drift/timeline").status_code == 401
    bad = _timeline(api, "window=2x")
    assert bad.status_code == 422 and bad.json()["errors"][0]["loc"] == ["query", "window"]
    assert _timeline(api, "window=1h&windows=51").status_code == 422
    assert _timeline(api, "window=1h&alpha=2").status_code == 422
    # nothing logged yet: nothing to draw, and the answer says why
    empty = api.client.get(f"/v1/models/{MODEL}/drift/timeline/plot?window=1h", headers=api.headers())
    assert empty.status_code == 409 and "logged predictions" in empty.json()["detail"]
