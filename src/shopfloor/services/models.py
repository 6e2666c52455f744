"""Reading models, moving aliases, and the online predict / explain / rules path."""

from __future__ import annotations

import logging
import time
from typing import Any

from shopfloor import metrics
from shopfloor.context import Platform
from shopfloor.errors import Conflict, InvalidInput, PayloadTooLarge
from shopfloor.explain.contributions import LIME_SAMPLES
from shopfloor.registry.entities import PRODUCTION, Model, ModelVersion
from shopfloor.services import challenger
from shopfloor.services.failures import failures_logged, loaded_model, log_failure
from shopfloor.services.parts import naming_files, warnings_of, with_files
from shopfloor.serving.batching import MicroBatcher
from shopfloor.tasks import catalog
from shopfloor.telemetry.logcontext import current_request_id

log = logging.getLogger(__name__)

#: Records one explain request may hold, for the methods that cost many model calls per record
#: (SHAP is one exact pass: up to SHOPFLOOR_MAX_RECORDS_PER_REQUEST). LIME scores LIME_SAMPLES
#: perturbed rows per record: 50 records are 50,000 model rows, a second or two on a forest,
#: where 1,000 records held a core for minutes.
EXPLAIN_RECORDS = {"lime": 50, "occlusion": 20, "gradcam": 16, "anomaly_map": 16}
_EXPLAIN_COST = {
    "lime": f"each costs {LIME_SAMPLES} model evaluations",
    "occlusion": "each costs a model call per word, up to 64",
    "gradcam": "each costs a forward and a backward pass",
    "anomaly_map": "each costs a pass over its patches",
}


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
        "description": model.description,
        "aliases": model.aliases,
        "versions": [version_view(v) for v in versions],
    }


def check_gate(mv: ModelVersion, force: bool, loc: list[str]) -> dict[str, Any] | None:
    """The version's retraining gate (None for a version no gate judged); Conflict when the gate
    failed and ``force`` is not given: production never moves to it by accident."""
    gate = mv.report.get("gate")
    if isinstance(gate, dict) and not gate.get("passed") and not force:
        raise Conflict(
            f"version {mv.version} of {mv.model!r} failed its retraining gate: {gate.get('summary')} "
            "Send force: true to promote it anyway.",
            errors=[{"loc": loc, "msg": "its gate failed"}],
        )
    return gate if isinstance(gate, dict) else None


def set_alias(
    platform: Platform, tenant: str, name: str, alias: str, version: int, force: bool = False
) -> ModelVersion:
    """Point ``alias`` at ``version``; production is refused a version whose gate failed unless
    ``force``."""
    if not alias.replace("-", "").replace("_", "").isalnum() or len(alias) > 64:
        raise InvalidInput(
            f"invalid alias {alias!r}: letters, digits, '-' and '_' only",
            errors=[{"loc": ["path", "alias"], "msg": "invalid alias"}],
        )
    if alias == PRODUCTION:
        check_gate(platform.store.get_version(tenant, name, version), force, ["body", "version"])
    mv = platform.store.set_alias(tenant, name, alias, version)
    platform.generation.bump()  # every process drops its cached alias resolutions
    return mv


def delete_model(platform: Platform, tenant: str, name: str) -> list[ModelVersion]:
    """Remove model ``name`` and every version of it; returns the versions removed.

    The registry rows go first, in one transaction that moves the generation, so every server
    answers 404 for the model within a second; then the versions' files. Files that cannot be
    deleted then stay as orphans that ``shopfloor doctor --delete-orphans`` removes.
    """
    gone = platform.store.delete_model(tenant, name)
    platform.generation.bump()  # this process at once; the others at their next read
    for mv in gone:
        try:
            platform.sealed.delete_prefix(mv.artifact)
        except OSError as exc:
            log.warning("model %s version %s: its files stay as orphans: %s", name, mv.version, exc)
    return gone


def predict(
    platform: Platform,
    tenant: str,
    name: str,
    version: int | str | None,
    records: Any,
    files: list[str] | None = None,
    key: str | None = None,
) -> dict[str, Any]:
    """The model's answer for each record; with ``files`` (the records came from those files, see
    :func:`~shopfloor.services.parts.part_records`), each answer and error names its file. While the
    model's challenger runs, the version that answers is the trial's (``key`` picks a canary's side;
    default: the request id) and the other side runs off the request path. A call that fails once
    the model is asked is logged as failed (:mod:`shopfloor.services.failures`)."""
    trial = platform.challengers.trial(tenant, name, version, key)
    if trial is not None:
        return challenger.predict(platform, tenant, name, trial, records, files)
    started = time.perf_counter()
    loaded = loaded_model(platform, tenant, name, version, "predict", records, started)
    with naming_files(files):
        loaded.validate(records, platform.settings.max_records_per_request)
        with failures_logged(platform, tenant, loaded.version, "predict", records, started):
            results = loaded.estimator.predict(records)
    return _answered(platform, tenant, name, loaded.version, records, results, files, started)


async def predict_together(
    platform: Platform,
    batcher: MicroBatcher,
    tenant: str,
    name: str,
    version: int | str | None,
    records: Any,
    key: str | None = None,
) -> dict[str, Any]:
    """:func:`predict` for a request of records sent as JSON (a few: it runs on the event loop),
    whose model call ``batcher`` may share with other requests for the same version of the same
    tenant's model waiting at once (:mod:`shopfloor.serving.batching`). Everything else stays the
    request's own: its challenger trial, validation and errors, log entry and metrics."""
    trial = platform.challengers.trial(tenant, name, version, key)
    if trial is not None:
        return challenger.predict(platform, tenant, name, trial, records, None)
    started = time.perf_counter()
    loaded = loaded_model(platform, tenant, name, version, "predict", records, started)
    loaded.validate(records, platform.settings.max_records_per_request)
    mv = loaded.version
    try:  # failures_logged, without a context manager's cost on the hot path
        if loaded.batched:
            together = (tenant, name, mv.version, mv.artifact)  # never across tenants or versions
            results = await batcher.predict(together, records, loaded.estimator.predict)
        else:
            results = loaded.estimator.predict(records)
    except Exception as exc:
        log_failure(platform, tenant, mv, "predict", records, started, exc)
        raise
    return _answered(platform, tenant, name, mv, records, results, None, started)


def _answered(
    platform: Platform,
    tenant: str,
    name: str,
    mv: ModelVersion,
    records: Any,
    results: list[dict[str, Any]],
    files: list[str] | None,
    started: float,
) -> dict[str, Any]:
    """The answer of one predict request: counted, logged (sampled) and shaped."""
    answers = with_files(results, files)
    metrics.RECORDER.predicted(tenant, name, mv.version, len(results))
    platform.prediction_log.add(
        tenant,
        name,
        mv.version,
        "predict",
        schema=mv.input_schema,
        records=records,
        answers=answers,
        latency_s=time.perf_counter() - started,
        request_id=current_request_id(),
    )
    return {
        "model": name,
        "version": mv.version,
        "predictions": answers,
        "warnings": warnings_of(results, files),
    }


def explain(
    platform: Platform,
    tenant: str,
    name: str,
    version: int | str | None,
    records: Any,
    method: str,
    files: list[str] | None = None,
) -> dict[str, Any]:
    methods = catalog.explain_methods()
    if method not in methods:
        raise InvalidInput(
            f"unknown explanation method {method!r}; use one of {', '.join(methods)}",
            errors=[{"loc": ["query", "method"], "msg": "unknown method"}],
        )
    cap = EXPLAIN_RECORDS.get(method)
    if cap is not None and isinstance(records, list) and len(records) > cap:
        raise PayloadTooLarge(
            f"{len(records)} records to explain with {method}; at most {cap} per request "
            f"({_EXPLAIN_COST[method]}): split the request, or use method=shap where the model has it",
            errors=[{"loc": ["body", "records"], "msg": f"at most {cap} records for {method}"}],
            limit=cap,
        )
    loaded = platform.models.get(tenant, name, version)
    with naming_files(files):
        loaded.validate(records, platform.settings.max_records_per_request)
        explanations = loaded.estimator.explain(records, method=method)
    return {
        "model": name,
        "version": loaded.version.version,
        "method": method,
        "explanations": with_files(explanations, files),
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
