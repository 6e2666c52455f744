"""Forecasts from a registered ``forecast`` model: series, horizon and interval levels checked."""

from __future__ import annotations

from typing import Any

from shopfloor import metrics
from shopfloor.context import Platform
from shopfloor.errors import InvalidInput, NotFound
from shopfloor.tasks import catalog

#: Most series in one answer (ask for more in several calls).
MAX_SERIES = 5000
#: Most numbers in one answer: series x horizon x (forecast + lower and upper bound per level).
MAX_VALUES = 2_000_000


def forecast(
    platform: Platform, tenant: str, name: str, version: int | str | None, body: dict[str, Any]
) -> dict[str, Any]:
    loaded = platform.models.get(tenant, name, version)
    mv = loaded.version
    if not catalog.capabilities(mv.task).forecast:
        which = catalog.join_names(catalog.tasks_where(lambda c: c.forecast), "or")
        raise InvalidInput(
            f"model {name!r} is a {mv.task} model; forecasts come from {which} models "
            "(use predict for this one)",
            errors=[{"loc": ["path", "name"], "msg": f"a {mv.task} model"}],
        )
    series = body.get("series", "all")
    if isinstance(series, list) and len(series) > MAX_SERIES:
        raise InvalidInput(
            f"{len(series)} series asked; at most {MAX_SERIES} per call",
            errors=[{"loc": ["body", "series"], "msg": f"more than {MAX_SERIES}"}],
        )
    levels = body.get("levels") or [80.0, 95.0]
    _check_size(loaded.estimator, series, body.get("horizon"), levels)
    out = loaded.estimator.forecast(series, body.get("horizon"), levels)
    metrics.RECORDER.predicted(tenant, name, mv.version, len(out))
    horizon = len(out[0]["forecast"]) if out else int(body.get("horizon") or 0)
    return {
        "model": name,
        "version": mv.version,
        "chosen": mv.report.get("chosen"),
        "horizon": horizon,
        "levels": levels,
        "forecasts": out,
    }


def _check_size(estimator: Any, series: Any, horizon: Any, levels: list[Any]) -> None:
    """Refuse an answer of more than :data:`MAX_VALUES` numbers before computing it (422 at the
    series: "all" of a model with many series, a long horizon and many levels multiply)."""
    count = len(series) if isinstance(series, list) else len(estimator.ids_)
    periods = horizon if isinstance(horizon, int) and horizon > 0 else int(estimator.point_.shape[1])
    values = count * periods * (1 + 2 * len(levels))
    if values > MAX_VALUES:
        most = max(1, MAX_VALUES // (periods * (1 + 2 * len(levels))))
        raise InvalidInput(
            f"{count} series x {periods} periods x {len(levels)} levels would be {values:,} numbers; at most "
            f"{MAX_VALUES:,} per call: ask for at most {most} series at a time",
            errors=[{"loc": ["body", "series"], "msg": f"at most {most} series at this horizon and levels"}],
        )


def history(
    platform: Platform, tenant: str, name: str, version: int | str | None, series: list[str], last: int = 104
) -> dict[str, dict[str, list[Any]]]:
    """The last ``last`` observed periods of each of ``series`` from the dataset the version was
    trained on (its lineage): ``{series: {"periods": [...], "values": [...]}}``, for charts that
    show the forecast after its history. Series the dataset no longer holds are left out."""
    from shopfloor.data.stored import load_frame

    loaded = platform.models.get(tenant, name, version)
    dataset_id = (loaded.version.lineage or {}).get("dataset_id")
    est = loaded.estimator
    if not dataset_id or not series:
        return {}
    columns = [est.series_column, est.time_column, est.value_column]
    try:
        dataset = platform.store.get_dataset(tenant, dataset_id)
    except NotFound:  # no longer stored: the forecast is shown without its history
        return {}
    frame = load_frame(platform, dataset, columns=columns)
    frame = frame[frame[est.series_column].astype(str).isin(series)].dropna(subset=[est.value_column])
    out: dict[str, dict[str, list[Any]]] = {}
    for key, part in frame.groupby(frame[est.series_column].astype(str), sort=False):
        part = part.sort_values(est.time_column).tail(last)
        periods = [p.isoformat() if hasattr(p, "isoformat") else p for p in part[est.time_column].tolist()]
        out[str(key)] = {"periods": periods, "values": part[est.value_column].astype(float).tolist()}
    return out
