"""The Open Inference Protocol (v2) over Shopfloor's models: metadata, and tensors to records and back.

A model's inputs are its input schema's columns, one tensor each: numbers as FP64 (any integer or
floating type accepted), true/false as BOOL (or 0/1 numbers), categories as BYTES (or integers),
dates, text and encoded image files as BYTES, recording channels as FP32 ``[n, samples]``. A model
whose columns are all numbers or true/false also takes the whole table as one 2-D FP32/FP64 tensor
``[n, columns]`` in the schema's order (any name that is not a column; ``table`` in the metadata).
NaN in a number means missing, as ``null`` does in ``/v1``. Its outputs are the fields of each
record's answer its family declares (``Capabilities.tensor_answers``).

Scoring is :func:`shopfloor.services.models.predict`, the ``/v1`` predict path (validation, the
prediction log, metrics, the challenger): :func:`prepare` turns the request into its records, and
:func:`answer` turns the answers into the protocol's response.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, NamedTuple

from shopfloor.context import Platform
from shopfloor.errors import InvalidInput, RegistryUnavailable
from shopfloor.registry.entities import ModelVersion
from shopfloor.services.readiness import readiness
from shopfloor.serving import tensors as T
from shopfloor.serving.tensors import BYTES, FLOATS, INTEGERS, Tensor, bad
from shopfloor.tasks import catalog

#: The name the metadata gives the one 2-D tensor a table of numbers may be sent as.
TABLE = "table"
PLATFORM = "shopfloor"
_NUMBERS = FLOATS | INTEGERS

#: Per schema type: the datatype the metadata names and every datatype accepted.
_INPUT_TYPES: dict[str, tuple[str, frozenset[str]]] = {
    "numeric": ("FP64", _NUMBERS),
    "boolean": ("BOOL", _NUMBERS | {"BOOL"}),
    "categorical": ("BYTES", INTEGERS | {BYTES}),
    "datetime": ("BYTES", frozenset({BYTES})),
    "text": ("BYTES", frozenset({BYTES})),
    "image": ("BYTES", frozenset({BYTES})),
    "waveform": ("FP32", FLOATS),
}
#: Per answer kind: the output's datatype and whether it has a second axis (classes, steps).
_OUTPUT_TYPES: dict[str, tuple[str, bool]] = {
    "class": (BYTES, False),
    "classes": ("BOOL", True),
    "scores": ("FP64", True),
    "number": ("FP64", False),
    "flag": ("BOOL", False),
    "count": ("INT64", False),
    "sequence": ("FP64", True),
}
#: Columns sent as text: their BYTES become strings (an image's bytes stay bytes).
_TEXT_TYPES = frozenset({"categorical", "datetime", "text"})


_TENSOR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["name", "datatype", "shape"],
    "properties": {
        "name": {"type": "string"},
        "datatype": {"type": "string", "enum": list(T.DATATYPES)},
        "shape": {"type": "array", "items": {"type": "integer", "minimum": 0}},
        "parameters": {"type": "object", "properties": {"binary_data_size": {"type": "integer"}}},
        "data": {"type": "array", "description": "The elements, flat or nested, in row-major order"},
    },
}
#: The JSON header of an infer request (its OpenAPI description).
REQUEST_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["inputs"],
    "properties": {
        "id": {"type": "string", "maxLength": 256, "description": "Echoed in the answer"},
        "parameters": {
            "type": "object",
            "properties": {"binary_data_output": {"type": "boolean", "description": "All outputs in binary"}},
        },
        "inputs": {"type": "array", "minItems": 1, "items": _TENSOR_SCHEMA},
        "outputs": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name"],
                "properties": {
                    "name": {"type": "string"},
                    "parameters": {"type": "object", "properties": {"binary_data": {"type": "boolean"}}},
                },
            },
        },
    },
}


@dataclass(frozen=True)
class Output:
    """One output a model gives: its name (the answer's field), kind, datatype and shape."""

    name: str
    kind: str
    datatype: str
    shape: list[int]


class Prepared(NamedTuple):
    """An infer request made ready for the predict path: the records, and what to answer with."""

    id: str | None  # the request's, echoed
    records: list[dict[str, Any]]
    outputs: list[tuple[Output, bool]]  # each output to send, and whether in binary
    table: bool  # the model reads table rows (cheap to score inline), not images, text or recordings
    framed: bool  # some output goes in binary after the JSON header


def outputs_of(mv: ModelVersion) -> list[Output]:
    """The outputs of model version ``mv`` (empty for a task that does not answer per record)."""
    declared = catalog.capabilities(mv.task).tensor_answers
    classes = mv.report.get("classes")
    width = len(classes) if isinstance(classes, list) and classes else -1
    multi = bool(mv.report.get("multi_label"))
    out = []
    for field, kind in declared:
        if (kind == "class" and multi) or (kind == "classes" and not multi):
            continue
        datatype, wide = _OUTPUT_TYPES[kind]
        second = width if kind in ("classes", "scores") else -1
        out.append(Output(field, kind, datatype, [-1, second] if wide else [-1]))
    return out


@dataclass(frozen=True)
class _Model:
    """What the tensors of one model version need, worked out once per version."""

    outputs: list[Output]
    columns: dict[str, tuple[str, str, frozenset[str]]]  # name -> type, datatype named, accepted
    table: bool  # the model reads table rows (cheap to score inline), not images, text or recordings
    # name -> datatypes accepted, for requests of plain inputs (tensors.plain_columns), whose
    # elements are the records' values as they are; None where a column takes samples [n, samples]
    plain: dict[str, frozenset[str]] | None
    every: dict[bool, list[tuple[Output, bool]]]  # every output, in JSON (False) or in binary (True)


_MODELS: dict[tuple[str, str, int, str], _Model] = {}
_MAX_MODELS = 4096
_ANY = (BYTES, frozenset(T.DATATYPES))


def _served(mv: ModelVersion) -> _Model:
    # the artifact tells a model made again under its name from the one deleted
    key = (mv.tenant, mv.model, mv.version, mv.artifact)
    found = _MODELS.get(key)
    if found is None:
        outputs = _outputs_served(mv)
        kinds = {str(c["name"]): str(c.get("type")) for c in mv.input_schema}
        columns = {name: (kind, *_INPUT_TYPES.get(kind, _ANY)) for name, kind in kinds.items()}
        if len(_MODELS) >= _MAX_MODELS:
            _MODELS.clear()
        table = catalog.capabilities(mv.task).inputs == "table"
        plain: dict[str, frozenset[str]] | None = None
        if columns and "waveform" not in kinds.values():
            plain = {name: accepted for name, (_, _, accepted) in columns.items()}
        every = {binary: [(o, binary) for o in outputs] for binary in (False, True)}
        found = _MODELS[key] = _Model(outputs, columns, table, plain, every)
    return found


def _outputs_served(mv: ModelVersion) -> list[Output]:
    outputs = outputs_of(mv)
    if not outputs:
        raise InvalidInput(
            f"model {mv.model!r} ({mv.task}) answers per asset or per stream, not one answer per record, "
            f"so it has no tensors to answer with: use POST /v1/models/{mv.model}/predict",
            errors=[{"loc": ["path", "name"], "msg": "not served by the Open Inference Protocol"}],
        )
    return outputs


def server_ready(platform: Platform) -> None:
    """Nothing when the registry, the artifact store and the schema revision answer (``/readyz``);
    503 naming the checks that failed otherwise."""
    report = readiness(platform)
    if report.failed:
        raise RegistryUnavailable(f"not ready: the {', '.join(report.failed)} check failed")


def model_ready(platform: Platform, tenant: str, name: str, version: int | str | None) -> None:
    """Nothing when the model version is loaded (loading it now if need be) and answers per record;
    NotFound, InvalidInput or the loading error otherwise."""
    loaded = platform.models.get(tenant, name, version)
    _served(loaded.version)  # raises for a task that does not answer per record


def _table_columns(schema: list[dict[str, Any]]) -> bool:
    return bool(schema) and all(c.get("type") in ("numeric", "boolean") for c in schema)


def metadata(platform: Platform, tenant: str, name: str, version: int | str | None) -> dict[str, Any]:
    """The model metadata answer: versions, inputs and outputs (datatypes and shapes from the input
    schema), and in ``parameters`` the version meant, its task and aliases, its classes and the
    2-D table input where the model takes one."""
    mv = platform.models.resolve(tenant, name, version)
    outputs = _served(mv).outputs
    versions = platform.store.list_versions(tenant, name)
    parameters: dict[str, Any] = {"version": mv.version, "task": mv.task, "aliases": list(mv.aliases)}
    if isinstance(mv.report.get("classes"), list):
        parameters["classes"] = [str(c) for c in mv.report["classes"]]
    if _table_columns(mv.input_schema):
        parameters[TABLE] = {
            "name": TABLE,
            "datatype": "FP64",
            "shape": [-1, len(mv.input_schema)],
            "columns": [c["name"] for c in mv.input_schema],
        }
    return {
        "name": name,
        "versions": [str(v.version) for v in versions],
        "platform": PLATFORM,
        "inputs": [_input_entry(c) for c in mv.input_schema],
        "outputs": [{"name": o.name, "datatype": o.datatype, "shape": o.shape} for o in outputs],
        "parameters": parameters,
    }


def _input_entry(column: dict[str, Any]) -> dict[str, Any]:
    datatype, _ = _INPUT_TYPES.get(str(column.get("type")), (BYTES, frozenset()))
    shape = [-1, -1] if column.get("type") == "waveform" else [-1]
    return {"name": column["name"], "datatype": datatype, "shape": shape}


def prepare(
    platform: Platform,
    tenant: str,
    name: str,
    version: int | str | None,
    body: bytes,
    header_length: str | None,
    encoding: str | None,
) -> Prepared:
    """The records of the infer request ``body`` for model ``name`` and the outputs to answer with;
    ``header_length`` and ``encoding``: see :func:`~shopfloor.serving.tensors.parse_request`.

    Raises:
        NotFound: no such model or version in the tenant (before the body is read).
        InvalidInput: a task that does not answer per record; a body that is no infer request; a
            missing, unknown or repeated input; a datatype or shape the input's column does not take
            (naming the input); an output asked for that the model does not give.
        UnsupportedMediaType: a compressed body.
    """
    mv = platform.models.resolve(tenant, name, version)
    model = _served(mv)
    header, split = T.read_header(body, header_length, encoding)
    # the common case, one plain JSON input per column, read in one pass (NaN: see _missing_as_none)
    plain = None
    if model.plain is not None and split == len(body) and b"NaN" not in body:
        plain = T.plain_columns(header, model.plain)
    if plain is not None:
        records = _plain_records(plain, model.columns)
        asked, binary = T.requested_outputs(header)
        chosen = _chosen(model, asked, binary)
        return Prepared(T.request_id(header), records, chosen, model.table, _framed(chosen))
    request = T.request_of(header, memoryview(body)[split:])
    inputs = request.inputs
    if len(inputs) == 1 and inputs[0].name not in model.columns and len(inputs[0].shape) == 2:
        records = _table_records(inputs[0], mv.input_schema)
    else:
        records = _column_records(inputs, model.columns)
    chosen = _chosen(model, request.outputs, request.binary_output)
    return Prepared(request.id, records, chosen, model.table, _framed(chosen))


def _framed(chosen: list[tuple[Output, bool]]) -> bool:
    return any([binary for _, binary in chosen])


def _chosen(model: _Model, asked: dict[str, bool] | None, binary: bool) -> list[tuple[Output, bool]]:
    if asked is None:
        return model.every[binary]
    by_name = {o.name: o for o in model.outputs}
    unknown = next((n for n in asked if n not in by_name), None)
    if unknown is not None:
        raise bad(f"unknown output {unknown!r}; the model gives {', '.join(by_name)}", "outputs")
    return [(by_name[n], wanted) for n, wanted in asked.items()]


def _plain_records(plain: dict[str, list[Any]], columns: dict[str, Any]) -> list[dict[str, Any]]:
    """The records of plain inputs (every column given, one value per record), keys in schema order."""
    if len(next(iter(plain.values()))) == 1:  # one record: no transposing
        return [{name: plain[name][0] for name in columns}]
    values = [plain[name] for name in columns]
    return [dict(zip(columns, row, strict=True)) for row in zip(*values, strict=True)]


def _table_records(tensor: Tensor, schema: list[dict[str, Any]]) -> list[dict[str, Any]]:
    names = [str(c["name"]) for c in schema]
    if tensor.datatype not in ("FP32", "FP64"):
        raise bad(
            f"input {tensor.name!r}: a table of inputs is sent as FP32 or FP64, not {tensor.datatype}; "
            f"or send one input per column ({', '.join(names)})"
        )
    if not _table_columns(schema):
        other = [str(c["name"]) for c in schema if c.get("type") not in ("numeric", "boolean")]
        raise bad(
            f"input {tensor.name!r} is no column of the model, and the model's inputs cannot be one table "
            f"of numbers ({', '.join(other)} are not numbers): send one input per column ({', '.join(names)})"
        )
    rows, width = tensor.shape
    if width != len(names):
        raise bad(
            f"input {tensor.name!r}: shape {list(tensor.shape)}; a table is [n, {len(names)}], one column "
            f"per input in this order: {', '.join(names)}"
        )
    values = _missing_as_none(tensor.values)
    return [dict(zip(names, values[i * width : (i + 1) * width], strict=True)) for i in range(rows)]


def _column_records(
    inputs: list[Tensor], columns: dict[str, tuple[str, str, frozenset[str]]]
) -> list[dict[str, Any]]:
    given = {t.name: t for t in inputs}
    if len(given) != len(columns) or given.keys() != columns.keys():
        unknown = next((t.name for t in inputs if t.name not in columns), None)
        if unknown is not None:
            raise bad(f"unknown input {unknown!r}; the model takes {', '.join(columns)}", "inputs")
        missing = next(name for name in columns if name not in given)
        raise bad(f"missing input {missing!r}; the model takes {', '.join(columns)}", "inputs")
    names = list(columns)
    values = [_column_values(given[name], *columns[name]) for name in names]
    if len({len(v) for v in values}) != 1:
        shapes = ", ".join(f"{name} {list(given[name].shape)}" for name in names)
        raise bad(f"every input needs the same first dimension (one per record): {shapes}", "inputs")
    return [dict(zip(names, row, strict=True)) for row in zip(*values, strict=True)]


def _column_values(tensor: Tensor, kind: str, expected: str, accepted: frozenset[str]) -> list[Any]:
    if tensor.datatype not in accepted:
        raise bad(
            f"input {tensor.name!r} ({kind}) takes {expected}"
            + (f" (or {', '.join(sorted(accepted - {expected}))})" if len(accepted) > 1 else "")
            + f", not {tensor.datatype}"
        )
    if kind == "waveform":
        if len(tensor.shape) != 2 or not tensor.shape[1]:
            raise bad(f"input {tensor.name!r}: samples come as [n, samples], not {list(tensor.shape)}")
        n, width = tensor.shape
        return [tensor.values[i * width : (i + 1) * width] for i in range(n)]
    shape = tensor.shape
    if not (len(shape) == 1 or (len(shape) == 2 and shape[1] == 1)):
        raise bad(f"input {tensor.name!r}: one value per record, shape [n] or [n, 1], not {list(shape)}")
    if tensor.datatype in FLOATS:
        return _missing_as_none(tensor.values)
    if tensor.datatype == BYTES and kind in _TEXT_TYPES:
        return [_text(tensor.name, i, v) for i, v in enumerate(tensor.values)]
    return tensor.values


def _missing_as_none(values: list[Any]) -> list[Any]:
    return [None if v != v else v for v in values]  # NaN is the only value not equal to itself


def _text(name: str, i: int, value: str | bytes) -> str:
    if isinstance(value, str):
        return value
    try:
        return value.decode()
    except UnicodeDecodeError:
        raise bad(f"input {name!r}: element {i} is not UTF-8 text") from None


def answer(name: str, prepared: Prepared, result: dict[str, Any]) -> tuple[bytes, int | None]:
    """The infer response for the predict ``result`` of ``prepared``: its body, and the length of
    the JSON header when outputs follow in binary."""
    answers = result["predictions"]
    fields = {"model_name": name, "model_version": str(result["version"])}
    if prepared.id is not None:
        fields["id"] = prepared.id
    warnings = {"warnings": result["warnings"]} if result.get("warnings") else None
    if not prepared.framed:
        outputs = [(o.name, o.datatype, *_output_values(o, answers)) for o, _ in prepared.outputs]
        return T.json_response(fields, outputs, warnings), None
    entries, blobs = [], []
    for out, binary in prepared.outputs:
        shape, values = _output_values(out, answers)
        entry, blob = T.output(out.name, out.datatype, shape, values, binary)
        entries.append(entry)
        blobs.append(blob)
    header: dict[str, Any] = {**fields, "outputs": entries}
    if warnings is not None:
        header["parameters"] = warnings
    return T.response(header, blobs)


def _output_values(out: Output, answers: list[dict[str, Any]]) -> tuple[list[int], list[Any]]:
    field, kind, n = out.name, out.kind, len(answers)
    fields = [a.get(field) for a in answers]
    if kind == "class":
        return [n], [None if v is None else str(v) for v in fields]
    if kind == "flag":
        return [n], [bool(v) for v in fields]
    if kind == "count":
        return [n], [int(v or 0) for v in fields]
    if kind == "number":
        return [n], _numbers(fields)
    if kind == "sequence":
        width = len(fields[0] or []) if fields else 0
        return [n, width], _numbers([x for v in fields for x in (v or [None] * width)])
    # classes and scores: one column per class, in the order of the answers' probabilities
    classes = list((answers[0].get("probabilities") or {}) if answers else {})
    if kind == "scores":
        return [n, len(classes)], _numbers([(v or {}).get(c) for v in fields for c in classes])
    chosen = [{str(x) for x in v or ()} for v in fields]
    return [n, len(classes)], [c in labels for labels in chosen for c in classes]


def _numbers(values: list[Any]) -> list[float | None]:
    # a finite float as it is (x - x is 0.0 only for those), anything else through _number
    return [x if type(x) is float and x - x == 0.0 else _number(x) for x in values]


def _number(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None
