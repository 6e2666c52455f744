"""Importing a model file trained elsewhere as a new model version. Nothing is stored on rejection.

``format`` is the file's format (onnx, lightgbm, xgboost, skops) or ``mlflow``: a zip or tar(.gz)
of an MLflow model directory whose flavour is pickle-free (:mod:`shopfloor.services.mlflow_models`);
its signature gives the input schema unless ``input_schema`` is sent.
"""

from __future__ import annotations

import json
import re
from typing import Any

from shopfloor.context import Platform
from shopfloor.data.model_archive import ModelArchiveLimits, read_model_archive
from shopfloor.errors import InvalidInput
from shopfloor.jobs.registering import register_version
from shopfloor.registry.entities import ModelVersion
from shopfloor.security.pickles import PICKLE_HINT, looks_like_pickle
from shopfloor.services.mlflow_models import MlflowModel, read_mlflow
from shopfloor.tasks import catalog

FORMATS = ("onnx", "lightgbm", "xgboost", "skops", "mlflow")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$")
_TYPES = ("numeric", "categorical", "boolean")


def import_tasks() -> dict[str, str]:
    """The ``task`` an import request may name -> the imported task its model is registered as."""
    found = {catalog.capabilities(t).imported_as: t for t in catalog.tasks_where(lambda c: not c.trainable)}
    return {name: task for name, task in sorted(found.items()) if name is not None}


def _bad(field: str, message: str) -> InvalidInput:
    return InvalidInput(message, errors=[{"loc": ["body", field], "msg": message}])


def parse_schema(text: str) -> list[dict[str, Any]]:
    """The ``input_schema`` form field: a JSON list of ``{"name", "type", "categories"?}``."""
    try:
        raw = json.loads(text)
    except ValueError:
        raise _bad("input_schema", "input_schema must be JSON") from None
    if not isinstance(raw, list) or not raw:
        raise _bad("input_schema", "input_schema must be a non-empty JSON list")
    out, seen = [], set()
    for i, entry in enumerate(raw):
        ok = isinstance(entry, dict) and isinstance(entry.get("name"), str) and entry.get("type") in _TYPES
        cats = entry.get("categories") if isinstance(entry, dict) else None
        if not ok or entry["name"] in seen or (entry["type"] == "categorical" and not isinstance(cats, list)):
            raise InvalidInput(
                f"input_schema[{i}] needs a unique 'name', a 'type' in {_TYPES} and, for a categorical, "
                "a 'categories' list",
                errors=[{"loc": ["body", "input_schema", i], "msg": "invalid entry"}],
            )
        seen.add(entry["name"])
        item = {"name": entry["name"], "type": entry["type"]}
        if entry["type"] == "categorical" and isinstance(cats, list):
            item["categories"] = [str(c) if not isinstance(c, int | float) else c for c in cats]
        out.append(item)
    return out


def import_model(
    platform: Platform,
    tenant: str,
    name: str,
    *,
    data: bytes,
    filename: str | None,
    format: str,  # noqa: A002 - the form field's name
    task: str,
    input_schema: str | None,
    classes: str | None,
    lineage: dict[str, Any],
) -> ModelVersion:
    """Check the file (refusing pickles, untrusted types and MLflow flavours that are pickles or
    code), load it, then store and register it."""
    if not _NAME.match(name):
        raise InvalidInput(
            f"invalid model name {name!r}", errors=[{"loc": ["path", "name"], "msg": "invalid"}]
        )
    if format not in FORMATS:
        raise _bad("format", f"format must be one of {', '.join(FORMATS)}")
    imported = import_tasks()
    if task not in imported:
        raise _bad("task", f"task must be one of {', '.join(imported)}")
    if looks_like_pickle(data, filename):
        raise _bad("file", PICKLE_HINT)
    found: MlflowModel | None = None
    if format == "mlflow":
        found = read_mlflow(read_model_archive(data, ModelArchiveLimits()))
        model_format, data = found.format, found.model  # the file inside is what is loaded
        schema = _mlflow_schema(found, input_schema)
    elif input_schema is None:
        raise _bad("input_schema", f"input_schema is required for format {format!r}")
    else:
        model_format, schema = format, parse_schema(input_schema)
    class_list = None
    if classes:
        try:
            class_list = json.loads(classes)
        except ValueError:
            raise _bad("classes", "classes must be a JSON list") from None
        if not isinstance(class_list, list) or len(class_list) < 2:
            raise _bad("classes", "classes must be a JSON list of at least two labels")
    spec = catalog.spec(imported[task])
    estimator = catalog.estimator_class(spec.name).from_file(
        data, **spec.fixed, format=model_format, input_schema=schema, classes=class_list
    )
    return register_version(
        platform,
        tenant=tenant,
        model=name,
        task=spec.name,
        files=estimator.save(),
        report=estimator.report_,
        input_schema=schema,
        lineage={
            **lineage,
            "format": model_format,
            "filename": filename,
            "sha256": estimator.report_["sha256"],
            **({"mlflow_flavour": found.flavour} if found else {}),
        },
    )


def _mlflow_schema(found: MlflowModel, input_schema: str | None) -> list[dict[str, Any]]:
    """The schema sent (its names must be the signature's columns, when it lists some), else the
    one the signature gives; refused when neither is there."""
    if input_schema is not None:
        schema = parse_schema(input_schema)
        names = [c["name"] for c in schema]
        if found.columns is not None and sorted(names) != sorted(found.columns):
            raise _bad(
                "input_schema",
                f"input_schema names {names} but the MLflow signature's columns are {found.columns}",
            )
        return schema
    if found.input_schema is None:
        raise _bad("input_schema", str(found.schema_problem))
    return found.input_schema
