"""Azure Anomaly Detector v1.1 univariate routes in-process: answers, and each refusal in Azure's shape."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest

from azure_series import SHIFT, SPIKES, body, values
from shopfloor.api.routes.azure_common import PREFIX

Api = Any
ENTIRE = f"{PREFIX}/timeseries/entire/detect"
LAST = f"{PREFIX}/timeseries/last/detect"
CHANGES = f"{PREFIX}/timeseries/changepoint/detect"


def _key(api: Api, who: str = "consumer") -> dict[str, str]:
    return {"Ocp-Apim-Subscription-Key": api.keys[who]}


def _refused(response: Any, status: int, code: str, *words: str) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    answer = response.json()
    assert answer["code"] == code == response.headers["x-ms-error-code"], answer
    for word in words:
        assert word in answer["message"], answer
    return str(answer["message"])


def test_entire_detection_flags_the_spikes_and_nothing_else(api: Api) -> None:
    answer = api.client.post(ENTIRE, json=body(), headers=_key(api))
    assert answer.status_code == 200, answer.text
    found = answer.json()
    assert found["period"] == 24
    assert np.flatnonzero(found["isAnomaly"]).tolist() == list(SPIKES)
    assert np.flatnonzero(found["isPositiveAnomaly"]).tolist() == [SPIKES[0], SPIKES[2]]
    assert np.flatnonzero(found["isNegativeAnomaly"]).tolist() == [SPIKES[1]]
    v = values()
    expected, upper = np.array(found["expectedValues"]), np.array(found["upperMargins"])
    assert len(expected) == len(v) == len(found["severity"]) == len(found["lowerMargins"])
    outside = np.abs(v - expected) > upper
    assert outside[list(SPIKES)].all()
    assert (np.array(found["severity"])[list(SPIKES)] > 0.5).all()
    assert sum(found["severity"]) == pytest.approx(sum(np.array(found["severity"])[list(SPIKES)]))
    # the expected value follows the level after the shift
    assert abs(np.median(expected[SHIFT + 10 :] - v[SHIFT + 10 :])) < 0.5


def test_a_lower_sensitivity_widens_the_band(api: Api) -> None:
    wide = api.client.post(ENTIRE, json=body(sensitivity=10), headers=_key(api)).json()
    usual = api.client.post(ENTIRE, json=body(), headers=_key(api)).json()
    assert wide["upperMargins"][0] > 2 * usual["upperMargins"][0]
    assert sum(wide["isAnomaly"]) <= sum(usual["isAnomaly"])


def test_last_point_detection(api: Api) -> None:
    spike = api.client.post(LAST, json=body(values()[: SPIKES[2] + 1]), headers=_key(api)).json()
    assert spike["isAnomaly"] and spike["isPositiveAnomaly"] and not spike["isNegativeAnomaly"]
    assert spike["severity"] > 0.5
    assert spike["expectedValue"] + spike["upperMargin"] < values()[SPIKES[2]]
    assert spike["suggestedWindow"] == 4 * 24 + 1 and spike["period"] == 24
    calm = api.client.post(LAST, json=body(values()[: SPIKES[2] + 5]), headers=_key(api)).json()
    assert not calm["isAnomaly"] and calm["severity"] == 0


def test_change_point_detection_finds_the_shift(api: Api) -> None:
    answer = api.client.post(CHANGES, json=body(), headers=_key(api))
    assert answer.status_code == 200, answer.text
    found = answer.json()
    assert np.flatnonzero(found["isChangePoint"]).tolist() == [SHIFT]
    scores = np.array(found["confidenceScores"])
    assert scores[SHIFT] > 0.99 and np.delete(scores, SHIFT).max() < 0.99


def test_missing_points_are_filled_and_left_out_of_the_answer(api: Api) -> None:
    request = body()
    del request["series"][100:103]
    found = api.client.post(ENTIRE, json=request, headers=_key(api)).json()
    assert len(found["isAnomaly"]) == len(request["series"])
    assert np.flatnonzero(found["isAnomaly"]).tolist() == [SPIKES[0], SPIKES[1] - 3, SPIKES[2] - 3]
    kept = api.client.post(ENTIRE, json={**request, "imputeMode": "notFill"}, headers=_key(api))
    assert kept.status_code == 200 and len(kept.json()["isAnomaly"]) == len(request["series"])


def test_too_few_points(api: Api) -> None:
    few = body(values()[:11])
    _refused(api.client.post(ENTIRE, json=few, headers=_key(api)), 400, "InvalidSeries", "11", "at least 12")


def test_unordered_timestamps(api: Api) -> None:
    request = body()
    series = request["series"]
    series[40], series[41] = series[41], series[40]
    message = _refused(api.client.post(ENTIRE, json=request, headers=_key(api)), 400, "InvalidSeries")
    assert "point 41" in message and "ascend" in message
    twice = copy.deepcopy(body())
    twice["series"][5]["timestamp"] = twice["series"][4]["timestamp"]
    _refused(api.client.post(LAST, json=twice, headers=_key(api)), 400, "InvalidSeries", "point 5", "repeats")


def test_bad_granularity(api: Api) -> None:
    request = body(granularity="fortnightly")
    response = api.client.post(ENTIRE, json=request, headers=_key(api))
    _refused(response, 400, "InvalidGranularity", "fortnightly")
    off = body(granularity="daily")  # hourly points are not a whole number of days apart
    _refused(api.client.post(ENTIRE, json=off, headers=_key(api)), 400, "InvalidSeries", "point 1", "daily")
    no_granularity = body()
    del no_granularity["granularity"]
    _refused(api.client.post(CHANGES, json=no_granularity, headers=_key(api)), 400, "RequiredGranularity")


@pytest.mark.parametrize(
    ("options", "code", "field"),
    [
        ({"sensitivity": 120}, "InvalidModelArgument", "sensitivity"),
        ({"maxAnomalyRatio": 0.9}, "InvalidModelArgument", "maxAnomalyRatio"),
        ({"period": -1}, "InvalidPeriod", "period"),
        ({"period": 400}, "InvalidPeriod", "period"),
        ({"customInterval": 0}, "InvalidCustomInterval", "customInterval"),
        ({"imputeMode": "guess"}, "InvalidImputeMode", "imputeMode"),
        ({"imputeMode": "fixed"}, "InvalidImputeFixedValue", "imputeFixedValue"),
    ],
)
def test_bad_options(api: Api, options: dict[str, Any], code: str, field: str) -> None:
    response = api.client.post(ENTIRE, json=body(**options), headers=_key(api))
    _refused(response, 400, code, field)


def test_bad_bodies(api: Api) -> None:
    empty = api.client.post(ENTIRE, json={"granularity": "hourly"}, headers=_key(api))
    _refused(empty, 400, "RequiredSeries")
    broken = api.client.post(
        ENTIRE, content=b'{"series": [', headers={**_key(api), "Content-Type": "application/json"}
    )
    _refused(broken, 400, "InvalidJsonFormat")
    request = body()
    request["series"][3]["value"] = "high"
    _refused(api.client.post(ENTIRE, json=request, headers=_key(api)), 400, "BadArgument", "series.3.value")
    request["series"][3]["timestamp"] = "yesterday"
    request["series"][3]["value"] = 1.0
    _refused(api.client.post(ENTIRE, json=request, headers=_key(api)), 400, "InvalidSeries", "yesterday")


def test_missing_key_401(api: Api) -> None:
    for route in (ENTIRE, LAST, CHANGES):
        _refused(api.client.post(route, json=body()), 401, "Unauthorized", "Ocp-Apim-Subscription-Key")
    bad = {"Ocp-Apim-Subscription-Key": "sfk_nope_nope"}
    _refused(api.client.post(ENTIRE, json=body(), headers=bad), 401, "Unauthorized")
    # a bearer key is not the header this API reads
    _refused(api.client.post(ENTIRE, json=body(), headers=api.headers("admin")), 401, "Unauthorized")


def test_wrong_role_403(api: Api) -> None:
    for route in (ENTIRE, LAST, CHANGES):
        response = api.client.post(route, json=body(), headers=_key(api, "metrics"))
        _refused(response, 403, "Forbidden", "predict")
