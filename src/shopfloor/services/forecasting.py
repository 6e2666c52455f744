"""Forecasts from a registered ``forecast`` model: series, horizon and interval levels checked."""

from __future__ import annotations

from typing import Any

from shopfloor import metrics
from shopfloor.errors import InvalidInput
from shopfloor.platform import Platform

#: Most series in one answer (ask for more in several calls).
MAX_SERIES = 5000


def forecast(
    platform: Platform, tenant: str, name: str, version: int | str | None, body: dict[str, Any]
) -> dict[str, Any]:
    loaded = platform.models.get(tenant, name, version)
    mv = loaded.version
    if mv.task != "forecast":
        raise InvalidInput(
            f"model {name!r} is a {mv.task} model; forecasts come from forecast models "
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
