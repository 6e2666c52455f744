"""MLflow model directories: read one to import (pickle-free flavours only), write one to export.

Reading never imports MLflow: ``MLmodel`` is YAML read with ``yaml.safe_load``, the signature is
JSON, and only the flavours whose files are a documented, data-only format are accepted:
``lightgbm`` (a Booster's text model file), ``xgboost`` (native JSON or UBJSON) and ``onnx``
(external tensor files of the directory are embedded). Every other flavour is refused with
why: its files are a pickle, a cloudpickle or code, which the server never loads.

Writing gives the layout ``mlflow.onnx.save_model`` writes (``MLmodel`` with the ``onnx`` and
``python_function`` flavours and a column signature, ``model.onnx``, ``conda.yaml``,
``python_env.yaml``, ``requirements.txt``, ``input_example.json`` and
``serving_input_example.json``), so ``mlflow.pyfunc.load_model`` and ``mlflow models serve``
take it as it is.
"""

from __future__ import annotations

import io
import json
import platform as py_platform
import uuid
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import PurePosixPath
from typing import Any

import yaml

from shopfloor.errors import InvalidInput
from shopfloor.security.pickles import looks_like_pickle

MLMODEL = "MLmodel"
#: flavour -> the import format its model file is read as
ACCEPTED = {"onnx": "onnx", "lightgbm": "lightgbm", "xgboost": "xgboost"}
_EXPORT_INSTEAD = (
    "export the model to ONNX (skl2onnx, onnxmltools, torch.onnx.export, tf2onnx) and log it with "
    "mlflow.onnx, or log a LightGBM Booster or an XGBoost model in its native format"
)
_WHY = {
    "sklearn": "scikit-learn models are stored as a pickle, a cloudpickle or a skops file of any class",
    "python_function": "a custom pyfunc model is Python code with a cloudpickle of its object",
    "pytorch": "PyTorch models are stored with torch.save, a pickle",
    "tensorflow": "TensorFlow SavedModels hold graphs with custom code",
    "keras": "Keras models hold custom code and may be pickled",
    "transformers": "transformers pipelines are loaded with custom code",
    "statsmodels": "statsmodels results are pickles",
    "catboost": "the CatBoost flavour is not read here",
    "h2o": "H2O models are binary files read by a Java server",
    "spark": "Spark models are read by a JVM",
}
_NUMERIC = ("double", "float", "long", "integer")


@dataclass(frozen=True)
class MlflowModel:
    """What an import needs from an MLflow model directory."""

    flavour: str
    format: str
    model: bytes
    #: the Shopfloor input schema from the signature, None when the signature cannot give one
    input_schema: list[dict[str, Any]] | None
    #: why the signature gives no input schema (None when it does)
    schema_problem: str | None
    #: column names the signature lists (None for a tensor signature or none)
    columns: list[str] | None


def _bad(message: str, *where: Any) -> InvalidInput:
    return InvalidInput(message, errors=[{"loc": ["body", "file", *where], "msg": message}])


def _root(files: Mapping[str, bytes]) -> str:
    """The folder (within the archive) that holds ``MLmodel``: the root or one folder down."""
    found = sorted(p for p in files if PurePosixPath(p).name == MLMODEL and p.count("/") <= 1)
    if not found:
        raise _bad("the archive holds no MLmodel file (at its root or one folder down): not an MLflow model")
    if len(found) > 1:
        raise _bad(f"the archive holds several MLflow models ({', '.join(found)}); upload one")
    return found[0].rsplit("/", 1)[0] if "/" in found[0] else ""


def _file(files: Mapping[str, bytes], root: str, relative: Any, what: str) -> bytes:
    inside = isinstance(relative, str) and relative and not relative.startswith("/")
    if not inside or ".." in str(relative).split("/"):
        raise _bad(f"MLmodel names {what} as {relative!r}, not a path inside the model directory", MLMODEL)
    key = f"{root}/{relative}" if root else relative
    if key not in files:
        raise _bad(f"MLmodel names {what} {relative!r}, which the archive does not hold", MLMODEL)
    return files[key]


def refusal(flavour: str) -> InvalidInput:
    """The refusal of a flavour whose files are pickles or code."""
    why = _WHY.get(flavour, f"the {flavour!r} flavour stores its model in a form that is not data only")
    return _bad(
        f"MLflow flavour {flavour!r} cannot be imported: {why}, which this server never loads. "
        f"Instead, {_EXPORT_INSTEAD}.",
        MLMODEL,
        "flavors",
    )


def read_mlflow(files: Mapping[str, bytes]) -> MlflowModel:
    """The model of an MLflow model directory (``{path: bytes}``); raises :class:`InvalidInput`."""
    root = _root(files)
    try:
        mlmodel = yaml.safe_load(files[f"{root}/{MLMODEL}" if root else MLMODEL])
    except yaml.YAMLError as exc:
        raise _bad(f"MLmodel is not valid YAML: {exc}", MLMODEL) from None
    flavors = mlmodel.get("flavors") if isinstance(mlmodel, dict) else None
    if not isinstance(flavors, dict) or not flavors:
        raise _bad("MLmodel lists no flavors", MLMODEL, "flavors")
    accepted = [f for f in ACCEPTED if isinstance(flavors.get(f), dict)]
    if not accepted:
        raise refusal(next((f for f in flavors if f != "python_function"), "python_function"))
    flavour = accepted[0]
    conf = flavors[flavour]
    if flavour == "onnx":
        model = embed_external(files, root, _file(files, root, conf.get("data"), "the ONNX file"))
    elif flavour == "lightgbm":
        model = _lightgbm_file(files, root, conf)
    else:
        model = _xgboost_file(files, root, conf)
    schema, problem, columns = signature_schema(mlmodel.get("signature"))
    return MlflowModel(flavour, ACCEPTED[flavour], model, schema, problem, columns)


def _lightgbm_file(files: Mapping[str, bytes], root: str, conf: Mapping[str, Any]) -> bytes:
    data = conf.get("data")
    model_class = str(conf.get("model_class", "lightgbm.basic.Booster"))
    if model_class != "lightgbm.basic.Booster" or not str(data).endswith((".lgb", ".txt")):
        fmt = conf.get("serialization_format", "pickle")
        raise _bad(
            f"the LightGBM model is a {model_class} stored as {fmt} ({data}), not the Booster's text "
            "model file; log the Booster instead (mlflow.lightgbm.save_model(model.booster_, ...)) or "
            "export it to ONNX",
            MLMODEL,
            "flavors",
            "lightgbm",
        )
    raw = _file(files, root, data, "the LightGBM model file")
    if looks_like_pickle(raw, str(data)) or not raw.lstrip().startswith(b"tree"):
        raise _bad(f"{data} is not a LightGBM text model file", MLMODEL, "flavors", "lightgbm")
    return raw


def _xgboost_file(files: Mapping[str, bytes], root: str, conf: Mapping[str, Any]) -> bytes:
    data = str(conf.get("data", ""))
    fmt = str(conf.get("model_format") or PurePosixPath(data).suffix.lstrip("."))
    if fmt not in ("json", "ubj"):
        raise _bad(
            f"the XGBoost model is stored as {fmt!r}; save it as 'json' or 'ubj' "
            "(mlflow.xgboost.save_model(..., model_format='ubj'))",
            MLMODEL,
            "flavors",
            "xgboost",
        )
    raw = _file(files, root, data, "the XGBoost model file")
    if looks_like_pickle(raw, data):
        raise _bad(f"{data} is a pickle, not an XGBoost {fmt} model", MLMODEL, "flavors", "xgboost")
    return raw


def embed_external(files: Mapping[str, bytes], root: str, data: bytes) -> bytes:
    """The ONNX model with tensors kept in other files of the directory embedded in it."""
    import onnx

    try:
        model = onnx.load_model_from_string(data)
    except Exception as exc:  # noqa: BLE001 - any protobuf failure means the file is unusable
        raise _bad(f"the ONNX file cannot be read: {exc}") from None
    changed = False
    for tensor in model.graph.initializer:
        if tensor.data_location != onnx.TensorProto.EXTERNAL:
            continue
        info = {e.key: e.value for e in tensor.external_data}
        where = info.get("location", "")
        if "/" in where or "\\" in where:
            raise _bad(f"ONNX tensor {tensor.name!r} points at {where!r}, outside the model directory")
        blob = _file(files, root, where, f"the tensor file of {tensor.name!r}")
        offset, length = int(info.get("offset", 0)), int(info.get("length", len(blob)))
        if offset < 0 or length < 0 or offset + length > len(blob):
            raise _bad(f"ONNX tensor {tensor.name!r}: {where} is shorter than the tensor it should hold")
        tensor.raw_data = blob[offset : offset + length]
        del tensor.external_data[:]
        tensor.data_location = onnx.TensorProto.DEFAULT
        changed = True
    return bytes(model.SerializeToString()) if changed else data


def signature_schema(
    signature: Any,
) -> tuple[list[dict[str, Any]] | None, str | None, list[str] | None]:
    """``(input schema, why there is none, column names)`` from MLmodel's ``signature``."""
    if not isinstance(signature, dict) or not signature.get("inputs"):
        return None, "the MLmodel has no signature: give input_schema", None
    try:
        inputs = signature["inputs"]
        inputs = json.loads(inputs) if isinstance(inputs, str) else inputs
    except ValueError:
        return None, "the MLmodel signature's inputs are not JSON: give input_schema", None
    if not isinstance(inputs, list) or not all(isinstance(c, dict) for c in inputs):
        return None, "the MLmodel signature's inputs are not a list of columns: give input_schema", None
    if any("name" not in c for c in inputs):
        return None, "the MLmodel signature is a tensor signature (no column names): give input_schema", None
    columns = [str(c["name"]) for c in inputs]
    schema: list[dict[str, Any]] = []
    for c in inputs:
        kind = c.get("type")
        if kind in _NUMERIC:
            schema.append({"name": str(c["name"]), "type": "numeric"})
        elif kind == "boolean":
            schema.append({"name": str(c["name"]), "type": "boolean"})
        elif kind == "string":
            why = f"signature column {c['name']!r} is a string: give input_schema with its categories"
            return None, why, columns
        else:
            return None, f"signature column {c['name']!r} has type {kind!r}, not a table column", columns
    return schema, None, columns


# ---------------------------------------------------------------------------------------- export
def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _colspec(schema: Sequence[Mapping[str, Any]]) -> str:
    types = {"numeric": "double", "boolean": "double", "categorical": "string"}
    return json.dumps([{"type": types[c["type"]], "name": c["name"], "required": True} for c in schema])


def _outputs(kind: str, classes: Sequence[Any]) -> str:
    if kind == "regression":
        return json.dumps([{"type": "double", "name": "prediction", "required": True}])
    numbers = all(isinstance(c, int) and not isinstance(c, bool) for c in classes)
    out = [{"type": "long" if numbers else "string", "name": "prediction", "required": True}]
    out += [{"type": "double", "name": f"proba_{c}", "required": True} for c in classes]
    return json.dumps(out)


def mlflow_zip(
    onnx_model: bytes,
    folder: str,
    schema: Sequence[Mapping[str, Any]],
    kind: str,
    classes: Sequence[Any],
    example: Sequence[Mapping[str, Any]],
    about: Mapping[str, Any],
) -> bytes:
    """A zip of one folder ``folder`` holding the MLflow model directory of ``onnx_model``."""
    python = py_platform.python_version()
    pins = [
        f"{p}=={v}" if (v := _version(p)) else p for p in ("onnx", "onnxruntime", "pandas", "numpy")
    ]
    requirements = ["mlflow-skinny", *pins]
    columns = [c["name"] for c in schema]
    rows = [[_example_value(r.get(c["name"]), c["type"]) for c in schema] for r in example]
    mlmodel = {
        "flavors": {
            "onnx": {
                "code": None,
                "data": "model.onnx",
                "onnx_session_options": None,
                "onnx_version": _version("onnx"),
                "providers": ["CPUExecutionProvider"],
            },
            "python_function": {
                "data": "model.onnx",
                "env": {"conda": "conda.yaml", "virtualenv": "python_env.yaml"},
                "loader_module": "mlflow.onnx",
                "python_version": python,
            },
        },
        "metadata": dict(about),
        "model_size_bytes": len(onnx_model),
        "model_uuid": uuid.uuid4().hex,
        "saved_input_example_info": {
            "artifact_path": "input_example.json",
            "pandas_orient": "split",
            "serving_input_path": "serving_input_example.json",
            "type": "dataframe",
        },
        "signature": {"inputs": _colspec(schema), "outputs": _outputs(kind, classes), "params": None},
        "utc_time_created": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f"),
    }
    conda = {
        "channels": ["conda-forge"],
        "dependencies": [f"python={python}", "pip", {"pip": requirements}],
        "name": "shopfloor-export",
    }
    env = {"python": python, "build_dependencies": ["pip"], "dependencies": ["-r requirements.txt"]}
    split = {"columns": columns, "data": rows}
    entries = {
        MLMODEL: yaml.safe_dump(mlmodel, sort_keys=True).encode(),
        "model.onnx": onnx_model,
        "conda.yaml": yaml.safe_dump(conda, sort_keys=False).encode(),
        "python_env.yaml": yaml.safe_dump(env, sort_keys=False).encode(),
        "requirements.txt": ("\n".join(requirements) + "\n").encode(),
        "input_example.json": json.dumps(split).encode(),
        "serving_input_example.json": json.dumps({"dataframe_split": split}, indent=2).encode(),
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(f"{folder}/{name}", data)
    return buffer.getvalue()


def _example_value(value: Any, kind: str) -> Any:
    if kind == "categorical":
        return "" if value is None else str(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
