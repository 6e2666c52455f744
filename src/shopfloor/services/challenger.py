"""A model's challenger: its mode (off, shadow, canary), requests served while it runs, promotion.

The challenger is the version behind the model's ``challenger`` alias; its mode and canary share are
kept in the registry (:mod:`shopfloor.registry.sql_challenger`) and read per request through the
process's cache (:mod:`shopfloor.serving.challenger`). While it runs, ``predict`` and stream ``score``
requests that name no version (or an alias) are served by one side and run on the other off the
request path; both answers go to the prediction log under the same request id, whatever the model's
sampling rate, with their side and whether they were served as the source (``champion:served``,
``challenger:shadow``, ...). The comparison report reads them back
(:mod:`shopfloor.services.challenger_report`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

from shopfloor import metrics
from shopfloor.context import Platform
from shopfloor.errors import InvalidInput
from shopfloor.registry.entities import CHALLENGER_MODES, ChallengerSetting
from shopfloor.services.parts import naming_files, warnings_of, with_files
from shopfloor.serving.cache import LoadedModel
from shopfloor.serving.challenger import Trial, source
from shopfloor.tasks import catalog
from shopfloor.telemetry.logcontext import LogContext, bind, current_request_id, unbind

#: One side's run on the records of a request: its answers and how long the model took (seconds).
Run = Callable[[LoadedModel], tuple[list[dict[str, Any]], float]]

#: The requests a challenger takes part in.
ROUTES = ("POST /v1/models/{name}/predict", "POST /v1/models/{name}/score")


def _log(
    platform: Platform,
    tenant: str,
    name: str,
    loaded: LoadedModel,
    src: str,
    records: Sequence[Any],
    answers: Sequence[dict[str, Any]],
    latency_s: float,
    request_id: str | None,
) -> None:
    # every answer, whatever the model's sampling rate: the comparison pairs them by request id
    platform.prediction_log.add(
        tenant, name, loaded.version.version, src, schema=loaded.version.input_schema, records=records,
        answers=answers, latency_s=latency_s, request_id=request_id, picked=range(len(answers)),
    )


def serve_trial(
    platform: Platform,
    tenant: str,
    name: str,
    trial: Trial,
    loaded: LoadedModel,
    records: Sequence[Any],
    answers: list[dict[str, Any]],
    latency_s: float,
    run: Run,
) -> None:
    """Log the served side's ``answers`` and queue the other side's ``run`` on the same ``records``
    (dropped and counted when the queue is full; the caller never waits for it)."""
    request_id = current_request_id()
    _log(platform, tenant, name, loaded, source(trial.served, True), records, answers, latency_s, request_id)
    side, version = trial.shadowed

    def shadow() -> None:
        token = bind(LogContext(request_id=request_id, tenant=tenant))  # its log lines name the request
        try:
            other = platform.models.get(tenant, name, version)
            found, took = run(other)  # not counted as predictions: nobody was answered
            _log(platform, tenant, name, other, source(side, False), records, found, took, request_id)
        finally:
            unbind(token)

    platform.challengers.submit(tenant, name, shadow)


def _predict_with(
    platform: Platform, loaded: LoadedModel, records: Any, files: list[str] | None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], float]:
    started = time.perf_counter()
    with naming_files(files):
        loaded.validate(records, platform.settings.max_records_per_request)
        results = loaded.estimator.predict(records)
    return results, with_files(results, files), time.perf_counter() - started


def predict(
    platform: Platform, tenant: str, name: str, trial: Trial, records: Any, files: list[str] | None
) -> dict[str, Any]:
    """``services.models.predict`` while the model's challenger runs: the trial's side answers."""
    loaded = platform.models.get(tenant, name, trial.answering)
    results, answers, latency = _predict_with(platform, loaded, records, files)
    metrics.RECORDER.predicted(tenant, name, trial.answering, len(results))

    def other(model: LoadedModel) -> tuple[list[dict[str, Any]], float]:
        _, found, took = _predict_with(platform, model, records, files)
        return found, took

    serve_trial(platform, tenant, name, trial, loaded, records, answers, latency, other)
    return {
        "model": name,
        "version": trial.answering,
        "predictions": answers,
        "warnings": warnings_of(results, files),
    }


# ---- the setting --------------------------------------------------------------------------------
def view(found: ChallengerSetting) -> dict[str, Any]:
    return {
        "model": found.model,
        "mode": found.mode,
        "share": found.share,
        "champion": found.champion,
        "challenger": found.challenger,
        "updated_at": found.updated_at,
        "updated_by": found.updated_by,
        "routes": list(ROUTES),
    }


def get(platform: Platform, tenant: str, name: str) -> dict[str, Any]:
    """The challenger of ``name``: mode, share and the versions on each side (404: unknown model)."""
    return view(platform.store.get_challenger(tenant, name))


def _checked(mode: Any, share: Any) -> float:
    if mode not in CHALLENGER_MODES:
        raise InvalidInput(
            f"mode {mode!r}: use one of {', '.join(CHALLENGER_MODES)}",
            errors=[{"loc": ["body", "mode"], "msg": f"one of {', '.join(CHALLENGER_MODES)}"}],
        )
    if mode != "canary":
        if share not in (None, 0, 0.0):
            raise InvalidInput(
                f"a share is for canary mode only (mode {mode!r} runs the challenger on every request "
                "or on none)",
                errors=[{"loc": ["body", "share"], "msg": "for canary mode only"}],
            )
        return 0.0
    if isinstance(share, bool) or not isinstance(share, int | float) or not math.isfinite(share):
        raise InvalidInput(
            "canary mode needs a share: the part of requests the challenger answers, from 0 to 1",
            errors=[{"loc": ["body", "share"], "msg": "required in canary mode, 0 to 1"}],
        )
    if not 0.0 <= float(share) <= 1.0:
        raise InvalidInput(
            f"share {share!r}: the part of requests the challenger answers is from 0 to 1",
            errors=[{"loc": ["body", "share"], "msg": "must be between 0 and 1"}],
        )
    return float(share)


def set_mode(
    platform: Platform,
    tenant: str,
    name: str,
    mode: str,
    share: float | None = None,
    version: int | None = None,
    by: str | None = None,
) -> dict[str, Any]:
    """Run the challenger of ``name`` in ``mode`` (``version``: point the ``challenger`` alias at it
    first); every server applies it within a second. 404 for an unknown model or version, 422 for a
    bad mode or share or a task that serves neither predict nor score, 409 without a challenger."""
    value = _checked(mode, share)
    if mode != "off":
        task = platform.store.get_model(tenant, name).task
        caps = catalog.capabilities(task)
        if not (caps.predict or caps.stream):
            raise InvalidInput(
                f"model {name!r} is a {task} model, which serves neither predict nor score: a challenger "
                "runs beside those requests only",
                errors=[{"loc": ["body", "mode"], "msg": "this task serves no request a challenger joins"}],
            )
    found = platform.store.set_challenger(tenant, name, mode, value, version=version, by=by)
    platform.generation.bump()  # this process at once; the others at their next read
    return view(found)


def promote(
    platform: Platform, tenant: str, name: str, version: int, champion: int | None = None
) -> dict[str, Any]:
    """Point ``production`` at the challenger (``version``: the one the caller saw; ``champion``: the
    production version it saw, when given) and turn the mode off, atomically. 409 when either changed."""
    before, after = platform.store.promote_challenger(tenant, name, version, champion)
    platform.generation.bump()
    return {"model": name, "production": after, "previous": before, "mode": "off"}
