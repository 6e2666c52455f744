"""Azure Anomaly Detector multivariate answers built from Shopfloor's jobs and anomaly scores.

* Status: a queued job is ``CREATED``, a running one ``RUNNING``, a succeeded one ``READY``, a
  failed or cancelled one ``FAILED`` (its error in ``errors``).
* A scored timestamp: ``isAnomaly`` is the anomaly family's flag (score above the threshold set for
  the false-alarm rate); ``score`` the family's score; ``severity`` ``1 - threshold / score`` for an
  anomaly (0 to 1, growing with the score), 0 otherwise; ``interpretation`` the variables by their
  share of the abnormality (``contributionScore``, 0 to 1, the top ``topContributorCount``), each
  with ``correlationChanges.changedVariables``: the other variables whose share is above an even
  share (``1 / variables``) at that timestamp, those that broke away from normal together with it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from shopfloor.registry.azure_entities import AzureModel, AzureResult
from shopfloor.registry.entities import Job

STATUS = {
    "queued": "CREATED",
    "running": "RUNNING",
    "succeeded": "READY",
    "failed": "FAILED",
    "cancelled": "FAILED",
}
CONTRIBUTION_PREFIX = "contribution_"
#: The per-epoch lists of Azure's modelState: empty, the family is not trained by epochs.
MODEL_STATE = ("epochIds", "trainLosses", "validationLosses", "latenciesInSeconds")


def iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _errors(job: Job, code: str) -> list[dict[str, str]]:
    if job.status == "failed":
        return [{"code": code, "message": job.error or "the job failed"}]
    if job.status == "cancelled":
        return [{"code": code, "message": "the job was cancelled"}]
    return []


def _updated(job: Job) -> datetime:
    return job.finished_at or job.started_at or job.created_at


def model_view(model: AzureModel, job: Job) -> dict[str, Any]:
    """An Azure ``AnomalyDetectionModel``: the training request, its status and diagnostics."""
    info = {
        **model.info,
        "status": STATUS[job.status],
        "errors": _errors(job, "TrainingFailed"),
        "diagnosticsInfo": {
            "modelState": {k: [] for k in MODEL_STATE},
            "variableStates": model.variable_states,
        },
    }
    return {
        "modelId": model.model_id,
        "createdTime": iso(model.created_at),
        "lastUpdatedTime": iso(_updated(job)),
        "modelInfo": info,
    }


def interpretation(shares: Mapping[str, float], top: int) -> list[dict[str, Any]]:
    """The variables by share (percent) of a timestamp's abnormality, the ``top`` largest first."""
    if not shares:
        return []
    even = 100.0 / len(shares)
    ranked = sorted(shares.items(), key=lambda kv: (-kv[1], kv[0]))
    strong = [name for name, share in ranked if share > even]
    return [
        {
            "variable": name,
            "contributionScore": round(float(share) / 100.0, 6),
            "correlationChanges": {"changedVariables": [v for v in strong if v != name]},
        }
        for name, share in ranked[: max(0, top)]
    ]


def _value(
    flagged: bool, score: float, ratio: float, shares: Mapping[str, float], top: int
) -> dict[str, Any]:
    severity = float(1.0 - 1.0 / ratio) if flagged and ratio > 1.0 else 0.0
    return {
        "isAnomaly": bool(flagged),
        "severity": round(severity, 6),
        "score": float(score),
        "interpretation": interpretation(shares, top) if flagged else [],
    }


def point_state(timestamp: pd.Timestamp, point: Mapping[str, Any], top: int) -> dict[str, Any]:
    """An Azure ``AnomalyState`` from one point of a Shopfloor anomaly prediction."""
    value = _value(point["flagged"], point["score"], point["severity"]["value"], point["contributions"], top)
    return {"timestamp": iso(timestamp.to_pydatetime()), "value": value, "errors": []}


def batch_view(
    result: AzureResult, job: Job, scored: pd.DataFrame | None, time_column: str
) -> dict[str, Any]:
    """An Azure ``MultivariateDetectionResult``: the status, setup and (once the batch job succeeded,
    ``scored`` its output) one state per timestamp between startTime and endTime."""
    summary = {
        "status": STATUS[job.status],
        "errors": _errors(job, "DetectionFailed"),
        "variableStates": result.variable_states,
        "setupInfo": result.setup,
    }
    return {"resultId": result.result_id, "summary": summary, "results": _states(result, scored, time_column)}


def _states(result: AzureResult, scored: pd.DataFrame | None, time_column: str) -> list[dict[str, Any]]:
    if scored is None or scored.empty:
        return []
    times = pd.to_datetime(scored[time_column], utc=True, format="ISO8601")
    start, end = (pd.Timestamp(result.setup[k]) for k in ("startTime", "endTime"))
    keep = ((times >= start) & (times <= end)).to_numpy()
    columns = [c for c in scored.columns if c.startswith(CONTRIBUTION_PREFIX)]
    names = [c.removeprefix(CONTRIBUTION_PREFIX) for c in columns]
    top = int(result.setup.get("topContributorCount") or 10)
    shares = scored[columns].to_numpy(float)
    flags = scored["anomaly_flag"].astype(str).str.lower().eq("true").to_numpy()
    scores, ratios = scored["anomaly_score"].to_numpy(float), scored["severity"].to_numpy(float)
    out = []
    for i in np.flatnonzero(keep):
        row = {n: float(s) for n, s in zip(names, shares[i], strict=True) if np.isfinite(s)}
        value = _value(bool(flags[i]), float(scores[i]), float(ratios[i]), row, top)
        out.append({"timestamp": iso(times.iloc[i].to_pydatetime()), "value": value, "errors": []})
    return out
