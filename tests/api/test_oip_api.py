"""The Open Inference Protocol v2 routes in process: metadata, infer, and every refusal in {"error"}."""

from __future__ import annotations

import json
import struct
from typing import Any

import numpy as np
import pytest

from zoo import machines

Api = Any
COLUMNS = ["speed", "torque", "wear", "Type"]


def _train(api: Api, name: str, exclude: list[str]) -> None:
    table = machines(160).drop(columns=exclude)
    builder = api.headers("builder")
    uploaded = api.client.post(
        "/v1/datasets",
        headers=builder,
        files={"file": (f"{name}.csv", table.to_csv(index=False).encode(), "text/csv")},
    )
    assert uploaded.status_code == 201, uploaded.text
    body = {
        "type": "train",
        "task": "tabular_classification",
        "dataset_id": uploaded.json()["id"],
        "target": "failure",
        "model_name": name,
        "time_budget_s": 2,
    }
    assert api.client.post("/v1/jobs", json=body, headers=builder).status_code == 202
    api.run_jobs()
    moved = api.client.put(f"/v1/models/{name}/aliases/production", json={"version": 1}, headers=builder)
    assert moved.status_code == 200, moved.text


def _models(api: Api) -> None:
    _train(api, "line", [])  # numbers and a category
    _train(api, "nums", ["Type"])  # numbers only: also takes one 2-D tensor


@pytest.fixture()
def trained(api_with: Any) -> Api:
    return api_with(_models)


def _columns(rows: int = 2) -> list[dict[str, Any]]:
    frame = machines(rows, seed=3)
    return [
        {"name": "speed", "datatype": "FP64", "shape": [rows], "data": frame["speed"].tolist()},
        {"name": "torque", "datatype": "FP32", "shape": [rows, 1], "data": frame["torque"].tolist()},
        {"name": "wear", "datatype": "FP64", "shape": [rows], "data": frame["wear"].tolist()},
        {"name": "Type", "datatype": "BYTES", "shape": [rows], "data": frame["Type"].tolist()},
    ]


def _infer(api: Api, name: str, body: Any, who: str = "consumer", path: str = "") -> Any:
    return api.client.post(f"/v2/models/{name}{path}/infer", json=body, headers=api.headers(who))


def test_metadata_lists_inputs_and_outputs_from_the_schema(trained: Api) -> None:
    api = trained
    meta = api.client.get("/v2/models/line", headers=api.headers("consumer")).json()
    assert meta["name"] == "line" and meta["versions"] == ["1"] and meta["platform"] == "shopfloor"
    inputs = {i["name"]: (i["datatype"], i["shape"]) for i in meta["inputs"]}
    assert inputs == {
        "speed": ("FP64", [-1]), "torque": ("FP64", [-1]), "wear": ("FP64", [-1]), "Type": ("BYTES", [-1])
    }
    assert meta["outputs"] == [
        {"name": "label", "datatype": "BYTES", "shape": [-1]},
        {"name": "probabilities", "datatype": "FP64", "shape": [-1, 2]},
    ]
    assert meta["parameters"]["classes"] == ["0", "1"] and "table" not in meta["parameters"]
    nums = api.client.get("/v2/models/nums/versions/production", headers=api.headers("consumer")).json()
    assert nums["parameters"]["table"] == {
        "name": "table", "datatype": "FP64", "shape": [-1, 3], "columns": ["speed", "torque", "wear"]
    }
    for path in ("/v2/models/line/ready", "/v2/models/line/versions/1/ready"):
        assert api.client.get(path, headers=api.headers("consumer")).status_code == 200, path
    for path in ("/v2", "/v2/health/live", "/v2/health/ready"):
        assert api.client.get(path, headers=api.headers("metrics")).status_code == 200, path


def test_infer_answers_as_v1_predict_does_and_echoes_the_id(trained: Api) -> None:
    api = trained
    answer = _infer(api, "line", {"id": "req-7", "inputs": _columns()})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["id"] == "req-7" and body["model_name"] == "line" and body["model_version"] == "1"
    out = {o["name"]: o for o in body["outputs"]}
    records = [
        {"speed": s, "torque": t, "wear": w, "Type": k}
        for s, t, w, k in zip(*(c["data"] for c in _columns()), strict=True)
    ]
    v1 = api.client.post(
        "/v1/models/line/predict", json={"records": records}, headers=api.headers("consumer")
    )
    expected = v1.json()["predictions"]
    assert out["label"]["data"] == [str(p["label"]) for p in expected] and out["label"]["shape"] == [2]
    assert out["probabilities"]["shape"] == [2, 2]
    assert out["probabilities"]["data"] == [p["probabilities"][c] for p in expected for c in ("0", "1")]
    for path in ("/versions/1", "/versions/production"):
        assert _infer(api, "line", {"inputs": _columns()}, path=path).json()["outputs"] == body["outputs"]
    # inputs with parameters are read in full, not in the one pass for plain inputs: the same answer
    full = [{**c, "parameters": {}} for c in _columns()]
    assert _infer(api, "line", {"id": "req-7", "inputs": full}).content == answer.content


def test_nan_in_a_number_is_missing_as_null_is_on_v1(trained: Api) -> None:
    api = trained
    columns = _columns(1)
    columns[0]["data"] = [float("nan")]
    body = json.dumps({"inputs": columns}).encode()  # NaN as Python's json writes it
    assert b"NaN" in body
    answer = api.client.post("/v2/models/line/infer", content=body, headers=api.headers("consumer"))
    assert answer.status_code == 200, answer.text
    record = {c["name"]: c["data"][0] for c in columns} | {"speed": None}
    v1 = api.client.post("/v1/models/line/predict", json={"records": [record]}, headers=api.headers())
    expected = v1.json()["predictions"][0]
    out = {o["name"]: o["data"] for o in answer.json()["outputs"]}
    assert out["label"] == [str(expected["label"])]
    assert out["probabilities"] == [expected["probabilities"][c] for c in ("0", "1")]
    warned = v1.json()["warnings"]  # none: a missing value is imputed without one
    assert answer.json().get("parameters") == ({"warnings": warned} if warned else None)


def test_a_table_of_numbers_is_one_tensor_in_schema_order(trained: Api) -> None:
    api = trained
    columns = _columns(3)[:3]
    rows = [list(r) for r in zip(*(c["data"] for c in columns), strict=True)]
    table = {"inputs": [{"name": "input__0", "datatype": "FP64", "shape": [3, 3], "data": rows}]}
    by_table = _infer(api, "nums", table)
    assert by_table.status_code == 200, by_table.text
    for c in columns:
        c["datatype"], c["shape"] = "FP64", [3]
    assert by_table.json()["outputs"] == _infer(api, "nums", {"inputs": columns}).json()["outputs"]
    refused = _infer(api, "line", {"inputs": [{**table["inputs"][0], "shape": [3, 4], "data": [0.0] * 12}]})
    assert refused.status_code == 422 and "Type" in refused.json()["error"]


def test_binary_inputs_and_outputs(trained: Api) -> None:
    api = trained
    columns = _columns()
    blobs = []
    for c in columns:
        if c["datatype"] == "BYTES":
            raw = b"".join(struct.pack("<I", len(v)) + v.encode() for v in c["data"])
        else:
            raw = np.asarray(c["data"], "<f8" if c["datatype"] == "FP64" else "<f4").tobytes()
        blobs.append(raw)
        c["parameters"] = {"binary_data_size": len(raw)}
        del c["data"]
    header = json.dumps(
        {"inputs": columns, "outputs": [{"name": "probabilities", "parameters": {"binary_data": True}}]}
    ).encode()
    answer = api.client.post(
        "/v2/models/line/infer",
        content=header + b"".join(blobs),
        headers={**api.headers("consumer"), "Inference-Header-Content-Length": str(len(header))},
    )
    assert answer.status_code == 200, answer.text
    split = int(answer.headers["Inference-Header-Content-Length"])
    head = json.loads(answer.content[:split])
    (out,) = head["outputs"]
    assert out["name"] == "probabilities" and out["parameters"]["binary_data_size"] == 32
    probabilities = np.frombuffer(answer.content[split:], "<f8").reshape(2, 2)
    assert np.allclose(probabilities.sum(axis=1), 1)


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"datatype": "BYTES", "data": ["fast", "slow"]}, ["'speed'", "takes FP64", "not BYTES"]),
        ({"shape": [1, 2]}, ["'speed'", "[1, 2]"]),
        ({"shape": [3]}, ["'speed'", "holds 3 elements"]),
        ({"name": "velocity"}, ["unknown input 'velocity'"]),
        ({"datatype": "FP8"}, ["'speed'", "unknown datatype"]),
    ],
)
def test_bad_tensors_are_refused_naming_the_input(
    trained: Api, change: dict[str, Any], words: list[str]
) -> None:
    api = trained
    inputs = _columns()
    inputs[0] = {**inputs[0], **change}
    answer = _infer(api, "line", {"inputs": inputs})
    assert answer.status_code == 422 and answer.headers["content-type"] == "application/json"
    assert set(answer.json()) == {"error"}
    assert all(w in answer.json()["error"] for w in words), answer.json()


def test_refusals_in_the_error_shape(trained: Api) -> None:
    api = trained
    missing = _infer(api, "line", {"inputs": _columns()[1:]})
    assert missing.status_code == 422 and "missing input 'speed'" in missing.json()["error"]
    unknown = _infer(api, "nope", {"inputs": _columns()})
    assert unknown.status_code == 404 and set(unknown.json()) == {"error"}
    assert "nope" in unknown.json()["error"]
    assert api.client.get("/v2/models/nope", headers=api.headers("consumer")).status_code == 404
    no_key = api.client.post("/v2/models/line/infer", json={"inputs": _columns()})
    assert no_key.status_code == 401 and "API key" in no_key.json()["error"]
    assert api.client.get("/v2/health/live").status_code == 401
    other = _infer(api, "line", {"inputs": _columns()}, who="other")
    assert other.status_code == 404 and set(other.json()) == {"error"}
    assert api.client.get("/v2/models/line", headers=api.headers("other")).status_code == 404
    forbidden = _infer(api, "line", {"inputs": _columns()}, who="metrics")
    assert forbidden.status_code == 403 and "predict" in forbidden.json()["error"]
    asked = _infer(api, "line", {"inputs": _columns(), "outputs": [{"name": "score"}]})
    assert asked.status_code == 422 and "unknown output 'score'" in asked.json()["error"]
    not_json = api.client.post("/v2/models/line/infer", content=b"{", headers=api.headers("consumer"))
    assert not_json.status_code == 422 and "not valid JSON" in not_json.json()["error"]
    # the other routes keep problem+json
    v1 = api.client.post("/v1/models/nope/predict", json={"records": [{}]}, headers=api.headers("consumer"))
    assert v1.status_code == 404 and v1.headers["content-type"] == "application/problem+json"


def test_binary_bodies_have_the_upload_limit_json_bodies_the_json_one(trained: Api) -> None:
    api = trained
    # the tests' upload limit (1 MB) is under a JSON body's (10 MiB): a body between the two is
    # refused with binary tensors (images, as uploads are), read when it is all JSON
    blob = b"\0" * (api.settings.max_upload_bytes + 128 * 1024)
    size = {"binary_data_size": len(blob)}
    tensor = {"name": "image", "datatype": "BYTES", "shape": [1], "parameters": size}
    header = json.dumps({"inputs": [tensor]}).encode()
    binary = api.client.post(
        "/v2/models/line/infer",
        content=header + blob,
        headers={**api.headers("consumer"), "Inference-Header-Content-Length": str(len(header))},
    )
    assert binary.status_code == 413 and set(binary.json()) == {"error"}
    as_json = api.client.post("/v2/models/line/infer", content=header + blob, headers=api.headers("consumer"))
    assert as_json.status_code == 422 and "not valid JSON" in as_json.json()["error"]
