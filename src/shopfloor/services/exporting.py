"""Exporting a model version to portable formats: ONNX, or an MLflow model directory around it.

Only tasks that declare the format in their capabilities (``export``) are exported: the trained
tabular models, whose ONNX graph takes the raw named columns and holds the preprocessing. Others
get a :class:`~shopfloor.errors.Conflict` (409) saying why. Every export is audited.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from shopfloor.context import Platform
from shopfloor.errors import Conflict, InvalidInput
from shopfloor.security.keys import Principal
from shopfloor.services import audit
from shopfloor.services.mlflow_models import mlflow_zip
from shopfloor.tasks import catalog

FORMATS = ("onnx", "mlflow")
#: rows of the model's own background sample written as the MLflow input example
EXAMPLE_ROWS = 3


@dataclass(frozen=True)
class Exported:
    """One exported file: its suggested name, media type and bytes."""

    filename: str
    media_type: str
    data: bytes


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.\-]", "_", name)


def export_model(
    platform: Platform,
    principal: Principal,
    name: str,
    version: int,
    format: str,  # noqa: A002 - the query parameter's name
) -> Exported:
    """The version ``version`` of ``name`` (the caller's tenant) as ``format``; audited.

    Raises :class:`InvalidInput` for an unknown format, :class:`~shopfloor.errors.NotFound` for an
    unknown model or version, :class:`Conflict` for a task that cannot be exported.
    """
    if format not in FORMATS:
        raise InvalidInput(
            f"format must be one of {', '.join(FORMATS)}",
            errors=[{"loc": ["query", "format"], "msg": f"unknown format {format!r}"}],
        )
    mv = platform.models.resolve(principal.tenant, name, version)
    caps = catalog.capabilities(mv.task)
    if "onnx" not in caps.export:
        raise Conflict(
            f"version {mv.version} of {name!r} is a {mv.task} model, which cannot be exported: only "
            "models trained here on tables (tabular_classification, tabular_regression) have an ONNX "
            "form with their preprocessing; an imported model's own file is what was uploaded",
            errors=[{"loc": ["path", "name"], "msg": f"task {mv.task} has no portable export"}],
        )
    estimator = platform.models.get(principal.tenant, name, mv.version).estimator
    about = {"shopfloor_model": name, "shopfloor_version": str(mv.version), "shopfloor_task": mv.task}
    onnx_model = estimator.to_onnx(about)
    stem = f"{_safe(name)}-v{mv.version}"
    if format == "onnx":
        out = Exported(f"{stem}.onnx", "application/octet-stream", onnx_model)
    else:
        classes = (mv.report.get("classes") or []) if caps.prediction == "classification" else []
        example = estimator.background_records()[:EXAMPLE_ROWS]
        data = mlflow_zip(onnx_model, stem, mv.input_schema, caps.prediction, classes, example, about)
        out = Exported(f"{stem}-mlflow.zip", "application/zip", data)
    audit.record(
        platform, principal, "model.export", name, model=name, version=mv.version, format=format,
        size_bytes=len(out.data),
    )
    return out
