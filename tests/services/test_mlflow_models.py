"""Reading MLflow model directories: flavours, signatures, ONNX tensors in other files."""

from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import yaml
from onnx import TensorProto, helper, numpy_helper

from shopfloor.errors import InvalidInput
from shopfloor.services.mlflow_models import read_mlflow, signature_schema

COLUMNS = json.dumps(
    [{"type": "double", "name": "a"}, {"type": "long", "name": "b"}, {"type": "boolean", "name": "c"}]
)


def _onnx_with_weights(tmp_path: object) -> tuple[bytes, bytes]:
    """A MatMul model whose 3x1 weight lives in an external file ``weights.bin``."""
    weight = numpy_helper.from_array(np.array([[1.0], [2.0], [3.0]], dtype=np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["X", "w"], ["Y"])],
        "g",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, 3])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [None, 1])],
        [weight],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = f"{tmp_path}/model.onnx"
    onnx.save_model(model, path, save_as_external_data=True, location="weights.bin", size_threshold=0)
    with open(path, "rb") as f, open(f"{tmp_path}/weights.bin", "rb") as w:
        return f.read(), w.read()


def _mlmodel(**flavors: object) -> bytes:
    return yaml.safe_dump({"flavors": flavors, "signature": {"inputs": COLUMNS, "outputs": None}}).encode()


def test_onnx_tensors_in_other_files_are_embedded(tmp_path: object) -> None:
    model, weights = _onnx_with_weights(tmp_path)
    mlmodel = _mlmodel(onnx={"data": "model.onnx"})
    files = {"m/MLmodel": mlmodel, "m/model.onnx": model, "m/weights.bin": weights}
    found = read_mlflow(files)
    assert found.format == "onnx" and found.input_schema == [
        {"name": "a", "type": "numeric"},
        {"name": "b", "type": "numeric"},
        {"name": "c", "type": "boolean"},
    ]
    session = ort.InferenceSession(found.model)
    (out,) = session.run(None, {"X": np.array([[1.0, 1.0, 1.0]], dtype=np.float32)})
    assert out.tolist() == [[6.0]]
    del files["m/weights.bin"]
    with pytest.raises(InvalidInput, match="weights.bin"):
        read_mlflow(files)


def test_onnx_tensor_file_outside_the_directory_is_refused(tmp_path: object) -> None:
    model, _ = _onnx_with_weights(tmp_path)
    proto = onnx.load_model_from_string(model)
    for entry in proto.graph.initializer[0].external_data:
        if entry.key == "location":
            entry.value = "../../etc/passwd"
    files = {"MLmodel": _mlmodel(onnx={"data": "model.onnx"}), "model.onnx": proto.SerializeToString()}
    with pytest.raises(InvalidInput, match="outside the model directory"):
        read_mlflow(files)


def test_flavour_choice_and_refusals() -> None:
    both = _mlmodel(python_function={"loader_module": "mlflow.onnx"}, onnx={"data": "../model.onnx"})
    with pytest.raises(InvalidInput, match="not a path inside"):
        read_mlflow({"MLmodel": both})
    with pytest.raises(InvalidInput, match="'pytorch'.*torch.save"):
        read_mlflow({"MLmodel": _mlmodel(pytorch={"model_data": "data"})})
    with pytest.raises(InvalidInput, match="no MLmodel"):
        read_mlflow({"model/deep/er/MLmodel": b""})
    with pytest.raises(InvalidInput, match="several"):
        read_mlflow({"a/MLmodel": b"", "b/MLmodel": b""})
    with pytest.raises(InvalidInput, match="'ubj'"):
        read_mlflow({"MLmodel": _mlmodel(xgboost={"data": "model.xgb", "model_format": "xgb"})})


def test_signatures() -> None:
    assert signature_schema(None)[1] == "the MLmodel has no signature: give input_schema"
    tensor = json.dumps([{"type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1, 3]}}])
    assert "tensor signature" in str(signature_schema({"inputs": tensor})[1])
    strings = json.dumps([{"type": "string", "name": "kind"}])
    schema, why, columns = signature_schema({"inputs": strings})
    assert schema is None and columns == ["kind"] and "categories" in str(why)
