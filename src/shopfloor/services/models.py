"""Reading models, moving aliases, and the online predict / explain / rules path."""

from __future__ import annotations

from typing import Any

from shopfloor import metrics
from shopfloor.errors import InvalidInput
from shopfloor.platform import Platform
from shopfloor.registry.entities import Model, ModelVersion

EXPLAIN_METHODS = ("shap", "lime", "occlusion", "gradcam", "anomaly_map")


def version_view(mv: ModelVersion) -> dict[str, Any]:
    r = mv.report
    return {
        "model": mv.model,
        "version": mv.version,
        "task": mv.task,
        "status": mv.status,
        "created_at": mv.created_at,
        "job_id": mv.job_id,
        "aliases": list(mv.aliases),
        "metrics": r.get("metrics", {}),
        "stability": r.get("stability", {}),
        "chosen": r.get("chosen"),
        "candidates": r.get("candidates", []),
        "params": r.get("params", {}),
        "lineage": mv.lineage,
        "input_schema": mv.input_schema,
        "report": r,
    }


def model_view(platform: Platform, model: Model, with_versions: bool) -> dict[str, Any]:
    versions = platform.store.list_versions(model.tenant, model.name) if with_versions else []
    return {
        "name": model.name,
        "task": model.task,
        "created_at": model.created_at,
        "latest_version": model.latest_version,
        "aliases": model.aliases,
        "versions": [version_view(v) for v in versions],
    }


def set_alias(platform: Platform, tenant: str, name: str, alias: str, version: int) -> ModelVersion:
    if not alias.replace("-", "").replace("_", "").isalnum() or len(alias) > 64:
        raise InvalidInput(
            f"invalid alias {alias!r}: letters, digits, '-' and '_' only",
            errors=[{"loc": ["path", "alias"], "msg": "invalid alias"}],
        )
    mv = platform.store.set_alias(tenant, name, alias, version)
    platform.generation.bump()  # every process drops its cached alias resolutions
    return mv


def _warnings(results: list[dict[str, Any]]) -> list[str]:
    out: list[str] = []
    for i, r in enumerate(results):
        out.extend(f"record {i}: {w}" for w in r.get("warnings") or ())
    return out


def predict(
    platform: Platform, tenant: str, name: str, version: int | str | None, records: Any
) -> dict[str, Any]:
    loaded = platform.models.get(tenant, name, version)
    loaded.validate(records, platform.settings.max_records_per_request)
    results = loaded.estimator.predict(records)
    mv = loaded.version
    metrics.RECORDER.predicted(name, mv.version, len(results))
    return {"model": name, "version": mv.version, "predictions": results, "warnings": _warnings(results)}


def explain(
    platform: Platform, tenant: str, name: str, version: int | str | None, records: Any, method: str
) -> dict[str, Any]:
    if method not in EXPLAIN_METHODS:
        raise InvalidInput(
            f"unknown explanation method {method!r}; use one of {', '.join(EXPLAIN_METHODS)}",
            errors=[{"loc": ["query", "method"], "msg": "unknown method"}],
        )
    loaded = platform.models.get(tenant, name, version)
    loaded.validate(records, platform.settings.max_records_per_request)
    return {
        "model": name,
        "version": loaded.version.version,
        "method": method,
        "explanations": loaded.estimator.explain(records, method=method),
    }


def rules(platform: Platform, tenant: str, name: str, version: int | str | None) -> dict[str, Any]:
    mv = platform.models.resolve(tenant, name, version)
    found = mv.report.get("rules") or {}
    return {
        "model": name,
        "version": mv.version,
        "fidelity": float(found.get("fidelity", 0.0)),
        "balanced_fidelity": found.get("balanced_fidelity"),
        "per_class_fidelity": found.get("per_class_fidelity"),
        "undescribed_classes": found.get("undescribed_classes"),
        "depth": found.get("depth"),
        "rules": found.get("rules", []),
    }
