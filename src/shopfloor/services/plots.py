"""Charts of a model version's evaluation, rendered from its stored report (and its model).

``confusion``, ``stability`` and ``candidates`` read only the registry entry; ``importance``
loads the model and explains the background rows it stored at training time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from shopfloor.context import Platform
from shopfloor.errors import InvalidInput
from shopfloor.explain import plots
from shopfloor.registry.entities import ModelVersion
from shopfloor.tasks import catalog

#: at most this many stored background rows are explained for the importance chart
IMPORTANCE_ROWS = 200


def _unknown_kind(kind: str) -> InvalidInput:
    return InvalidInput(
        f"unknown plot kind {kind!r}; use one of {', '.join(plots.KINDS)}",
        errors=[{"loc": ["path", "kind"], "msg": f"unknown kind; one of {', '.join(plots.KINDS)}"}],
    )


def _not_applicable(kind: str, mv: ModelVersion, why: str, applies: Sequence[str]) -> InvalidInput:
    return InvalidInput(
        f"no {kind!r} plot for {mv.model} version {mv.version}: {why}; "
        f"kinds that apply here: {', '.join(applies) or 'none'}",
        errors=[{"loc": ["path", "kind"], "msg": why}],
    )


def applicable_kinds(report: Mapping[str, Any]) -> list[str]:
    """The plot kinds a report has the data for (importance needs a model; assumed available)."""
    metrics = report.get("metrics") or {}
    kinds = []
    if report.get("kind") == "classification" and metrics.get("confusion_matrix"):
        kinds.append("confusion")
    if report.get("features"):
        kinds.append("importance")
    if (report.get("stability") or {}).get("metrics"):
        kinds.append("stability")
    if candidate_scores(report):
        kinds.append("candidates")
    if any(c.get("mase_by_step") for c in report.get("candidates") or []):
        kinds.append("horizon")
    return kinds


def render(platform: Platform, tenant: str, name: str, version: int, kind: str) -> bytes:
    """PNG bytes of chart ``kind`` for ``name`` version ``version`` in ``tenant``.

    Raises :class:`InvalidInput` (422) for an unknown kind or one the version's task has
    no data for, :class:`NotFound` (404) for an unknown model or version.
    """
    if kind not in plots.KINDS:
        raise _unknown_kind(kind)
    mv = platform.store.get_version(tenant, name, version)
    report = mv.report
    applies = applicable_kinds(report)
    metrics = report.get("metrics") or {}
    if kind == "confusion":
        if report.get("kind") != "classification":
            raise _not_applicable(kind, mv, "a confusion matrix needs a classification model", applies)
        if not metrics.get("confusion_matrix"):
            raise _not_applicable(kind, mv, "the report has no confusion matrix", applies)
        return plots.confusion_png(
            metrics["confusion_matrix"],
            metrics.get("confusion_matrix_labels") or report.get("classes") or [],
            threshold=report.get("threshold"),
            f1=metrics.get("f1"),
            title=f"{mv.model} v{mv.version}: confusion matrix (held-out split)",
        )
    if kind == "stability":
        stab = report.get("stability") or {}
        if not stab.get("metrics"):
            raise _not_applicable(kind, mv, "the report has no stability results", applies)
        return plots.stability_png(
            stab["metrics"],
            metrics,
            n_splits=stab.get("n"),
            title=f"{mv.model} v{mv.version}: stability across seeded splits",
        )
    if kind == "candidates":
        if not candidate_scores(report):
            raise _not_applicable(kind, mv, "the report lists no candidate with a comparable score", applies)
        return plots.candidates_png(
            candidate_scores(report),
            metric=report.get("metric"),
            title=f"{mv.model} v{mv.version}: model candidates "
            + f"({catalog.capabilities(mv.task).validation})",
        )
    if kind == "horizon":
        if "horizon" not in applies:
            raise _not_applicable(kind, mv, "errors per step ahead are reported by forecast models", applies)
        return plots.horizon_png(
            report["candidates"], title=f"{mv.model} v{mv.version}: backtest error by step ahead"
        )
    return _importance(platform, tenant, mv, applies)


def candidate_scores(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The report's candidates as ``{"name", "cv_score", "cv_std", "chosen"}`` rows, those with a
    finite score only: ``cv_score`` itself (tabular, forecast), else the selection metric among the
    candidate's held-out ``metrics`` (RUL). Empty when no candidate has one."""
    metric = report.get("metric")
    rows = []
    for c in report.get("candidates") or []:
        if not isinstance(c, Mapping):
            continue
        score: Any = c.get("cv_score")
        if not plots.finite(score) and isinstance(metric, str):
            score = (c.get("metrics") or {}).get(metric)
        if plots.finite(score):
            rows.append({**c, "cv_score": float(score)})
    return rows


def _importance(platform: Platform, tenant: str, mv: ModelVersion, applies: Sequence[str]) -> bytes:
    if not mv.report.get("features"):
        raise _not_applicable("importance", mv, "the report describes no input columns", applies)
    estimator = platform.models.get(tenant, mv.model, mv.version).estimator
    # The estimator's reference sample, as input records (families without one have no importance).
    records = estimator.background_records()
    if not records:
        raise _not_applicable("importance", mv, "the model stored no background rows", applies)
    explanations = estimator.explain(records[:IMPORTANCE_ROWS], method="shap")
    importance = mean_abs_contributions(explanations)
    space = explanations[0].get("output_space", "value") if explanations else "value"
    return plots.importance_png(
        importance,
        output_space=space,
        n_rows=len(explanations),
        title=f"{mv.model} v{mv.version}: feature importance",
    )


def mean_abs_contributions(explanations: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """Global importance: the mean absolute contribution of each input column over the rows."""
    if not explanations:
        return {}
    columns = list(explanations[0]["contributions"])
    values = np.array([[abs(float(e["contributions"].get(c, 0.0))) for c in columns] for e in explanations])
    return dict(zip(columns, values.mean(axis=0).tolist(), strict=True))
