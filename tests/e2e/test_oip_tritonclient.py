"""tritonclient.http against the real server: the Open Inference Protocol v2 on a tabular, a text and an
image model (tiny ones), with JSON and binary inputs, and an error decoded as InferenceServerException."""

from __future__ import annotations

import base64
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from shopfloor import Client

sys.path.insert(0, str(Path(__file__).parent))
from server import Server  # noqa: E402

from zoo import machines, orders, part_png, parts_zip  # noqa: E402

pytestmark = pytest.mark.e2e


class Served:
    def __init__(self, server: Server, sdk: Client) -> None:
        self.sdk = sdk
        self.key = sdk.create_key("consumer")["secret"]
        self.url = server.url
        self.triton = httpclient.InferenceServerClient(url=server.url.removeprefix("http://"))

    @property
    def auth(self) -> dict[str, str]:
        # A new dict per call: tritonclient adds Inference-Header-Content-Length to the dict it is
        # given, which a later JSON request would then send as well.
        return {"Authorization": f"Bearer {self.key}"}


def _train(sdk: Client, path: Path, target: str, name: str, **more: Any) -> None:
    dataset = sdk.upload_dataset(path)
    sdk.wait(sdk.train(dataset["id"], target, name, **more)["id"], timeout=300)
    sdk.set_alias(name, "production", 1)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("oip")
    server = Server(root / "home").start()
    key = server.admin_key()
    assert key
    try:
        with Client(server.url, key) as sdk:
            (root / "line.csv").write_text(machines(160).to_csv(index=False))
            _train(sdk, root / "line.csv", "failure", "line", time_budget_s=2)
            (root / "orders.csv").write_text(orders().to_csv(index=False))
            text_options = {"candidates": ["tfidf"]}
            text = {"task": "text_classification", "options": text_options}
            _train(sdk, root / "orders.csv", "system", "orders", **text)
            (root / "parts.zip").write_bytes(parts_zip(good=10, scratched=10))
            image_options = {"size": 32, "max_epochs": 1, "patience": 1, "stability_seeds": 0}
            image = {"task": "image_classification", "options": image_options}
            _train(sdk, root / "parts.zip", "label", "inspect", **image)
            yield Served(server, sdk)
    finally:
        server.stop()


def _input(name: str, values: np.ndarray, binary: bool) -> httpclient.InferInput:
    datatype = "BYTES" if values.dtype == object else "FP64" if values.dtype == np.float64 else "FP32"
    tensor = httpclient.InferInput(name, list(values.shape), datatype)
    tensor.set_data_from_numpy(values, binary_data=binary)
    return tensor


def _texts(values: np.ndarray) -> list[str]:
    """BYTES outputs: bytes when sent in binary, str when in JSON."""
    return [v.decode() if isinstance(v, bytes) else v for v in values]


def test_server_and_model_ready_and_metadata(served: Served) -> None:
    triton, auth = served.triton, {"Authorization": f"Bearer {served.key}"}
    assert triton.is_server_live(headers=auth) and triton.is_server_ready(headers=auth)
    assert triton.get_server_metadata(headers=auth)["name"] == "shopfloor"
    for name in ("line", "orders", "inspect"):
        assert triton.is_model_ready(name, headers=auth)
        assert triton.is_model_ready(name, "production", headers=auth)
    meta = triton.get_model_metadata("line", headers=auth)
    assert {i["name"]: i["datatype"] for i in meta["inputs"]} == {
        "speed": "FP64", "torque": "FP64", "wear": "FP64", "Type": "BYTES"
    }
    text = triton.get_model_metadata("orders", "1", headers=auth)
    assert text["inputs"] == [{"name": "text", "datatype": "BYTES", "shape": [-1]}]
    assert [o["name"] for o in text["outputs"]] == ["label", "probabilities"]
    image = triton.get_model_metadata("inspect", headers=auth)
    assert image["inputs"] == [{"name": "image", "datatype": "BYTES", "shape": [-1]}]
    assert not triton.is_model_ready("nope", headers=auth)


@pytest.mark.parametrize("binary", [False, True])
def test_infer_a_tabular_model(served: Served, binary: bool) -> None:
    frame = machines(3, seed=4)
    inputs = [_input(c, frame[c].to_numpy(np.float64), binary) for c in ("speed", "torque", "wear")]
    inputs.append(_input("Type", frame["Type"].to_numpy(object), binary))
    outputs = [httpclient.InferRequestedOutput(n, binary_data=binary) for n in ("label", "probabilities")]
    result = served.triton.infer("line", inputs, request_id="r1", outputs=outputs, headers=served.auth)
    assert result.get_response()["id"] == "r1"
    records = frame.drop(columns="failure").to_dict("records")
    expected = served.sdk.predict("line", records)["predictions"]
    assert _texts(result.as_numpy("label")) == [str(p["label"]) for p in expected]
    probabilities = result.as_numpy("probabilities")
    assert probabilities.shape == (3, 2)
    assert np.allclose(probabilities, [[p["probabilities"]["0"], p["probabilities"]["1"]] for p in expected])


@pytest.mark.parametrize("binary", [False, True])
def test_infer_a_text_model(served: Served, binary: bool) -> None:
    texts = np.array(["hydraulic hose leaking oil", "battery flat wiring fuse blown"], dtype=object)
    result = served.triton.infer("orders", [_input("text", texts, binary)], headers=served.auth)
    assert _texts(result.as_numpy("label")) == ["hydraulics", "electrical"]
    assert result.as_numpy("probabilities").shape == (2, 3)


def test_infer_an_image_model_with_encoded_files(served: Served) -> None:
    rng = np.random.default_rng(9)
    files = [part_png(rng, scratched=False), part_png(rng, scratched=True)]
    binary = served.triton.infer(
        "inspect", [_input("image", np.array(files, dtype=object), True)], headers=served.auth
    )
    # in JSON, an image file is its base64 text, as on /v1
    encoded = np.array([base64.b64encode(f).decode() for f in files], dtype=object)
    in_json = served.triton.infer("inspect", [_input("image", encoded, False)], headers=served.auth)
    assert binary.as_numpy("probabilities").shape == (2, 2)
    assert np.allclose(binary.as_numpy("probabilities"), in_json.as_numpy("probabilities"))
    expected = served.sdk.predict("inspect", [{"image": e} for e in encoded])["predictions"]
    assert _texts(binary.as_numpy("label")) == [p["label"] for p in expected]


def test_errors_are_inference_server_exceptions(served: Served) -> None:
    frame = machines(2, seed=4)
    wrong = [_input("speed", frame["Type"].to_numpy(object), True)]
    wrong += [_input(c, frame[c].to_numpy(np.float64), True) for c in ("torque", "wear")]
    wrong.append(_input("Type", frame["Type"].to_numpy(object), True))
    with pytest.raises(InferenceServerException) as caught:
        served.triton.infer("line", wrong, headers=served.auth)
    assert "input 'speed'" in caught.value.message() and caught.value.status() == "422"
    with pytest.raises(InferenceServerException) as missing:
        served.triton.get_model_metadata("nope", headers=served.auth)
    assert "nope" in missing.value.message() and missing.value.status() == "404"
    with pytest.raises(InferenceServerException) as no_key:
        served.triton.get_model_metadata("line")
    assert "API key" in no_key.value.message() and no_key.value.status() == "401"


def test_the_documented_example_runs(
    served: Served, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    page = (Path(__file__).parents[2] / "docs" / "protocols" / "oip.md").read_text()
    code = page.split("```python\n", 1)[1].split("```", 1)[0]
    monkeypatch.setenv("SHOPFLOOR_URL", served.url)
    monkeypatch.setenv("SHOPFLOOR_API_KEY", served.key)
    exec(compile(code, "docs/protocols/oip.md", "exec"), {})  # noqa: S102 - the page's own example
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == "[('speed', 'FP64'), ('torque', 'FP64'), ('wear', 'FP64'), ('Type', 'BYTES')]"
    assert printed[-2] == "press-7" and printed[-1].startswith("422 missing input 'speed'")
