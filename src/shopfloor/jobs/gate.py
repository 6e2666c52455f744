"""The gate a retrained version must pass before it may replace the champion it was compared with.

Three checks, each stored with its figures and a sentence in words:

held_out
    The new version and the champion score the same rows: the new version's own hold-out split of
    the new data, less the rows of the data the champion was trained on (it has seen them). The
    metric is the one the family's report selects models by (``report["metric"]``), its direction
    from :func:`shopfloor.evaluation.metrics.greater_is_better`. The new version must be better.
live
    Both score the labelled live records (logged predictions with feedback) that the platform's
    :class:`~shopfloor.jobs.live.LiveLabelledSource` has since the champion was registered; the
    new version must be better there too. With fewer than :data:`MIN_LIVE_RECORDS` records the
    check is not available, and the gate decides on the held-out rows alone (and says so).
stability
    The held-out improvement must exceed the champion's stability band: the spread (standard
    deviation) of that metric over the seeded splits of its training report. A smaller
    improvement cannot be told from the noise of which rows happened to be held out.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from shopfloor.errors import ShopfloorError
from shopfloor.evaluation.metrics import greater_is_better
from shopfloor.jobs.live import LabelledRecords, LiveLabelledSource
from shopfloor.registry.entities import ModelVersion

#: The fewest labelled live records the live check compares on; with fewer it is not available.
MIN_LIVE_RECORDS = 20
#: Resamples of the held-out rows that measure the spread of the improvement itself, and the
#: most rows one resample holds.
RESAMPLES = 50
RESAMPLE_ROWS = 5_000
NOT_AVAILABLE = "live: not available (no labelled live data)"


@dataclass(frozen=True)
class Comparison:
    """One metric of both models on the same rows."""

    metric: str
    challenger: float
    champion: float
    rows: int

    @property
    def improvement(self) -> float:
        """How much better the new version is (negative: worse), whatever the metric's direction."""
        gain = self.challenger - self.champion
        return gain if greater_is_better(self.metric) else -gain

    @property
    def computable(self) -> bool:
        return math.isfinite(self.challenger) and math.isfinite(self.champion)

    def figures(self) -> dict[str, Any]:
        return {
            "challenger": _rounded(self.challenger),
            "champion": _rounded(self.champion),
            "improvement": _rounded(self.improvement),
            "rows": self.rows,
        }


def _rounded(value: float) -> float | None:
    return round(value, 6) if math.isfinite(value) else None


def _num(value: float) -> str:
    return f"{value:.4f}" if math.isfinite(value) else "not computable"


def _versus(c: Comparison, champion: str, where: str) -> str:
    """``On 120 held-out rows, f1 is 0.9120 for the new version and 0.4130 for version 1``."""
    return (
        f"{where}, {c.metric} is {_num(c.challenger)} for the new version and {_num(c.champion)} "
        f"for {champion}"
    )


def _verdict(c: Comparison) -> str:
    if not c.computable:
        return f"{c.metric} cannot be computed on these rows, so the new version is not shown to be better"
    if c.improvement > 0:
        return f"better by {abs(c.improvement):.4f}"
    if c.improvement == 0:
        return "no better"
    return f"worse by {abs(c.improvement):.4f}"


def compare_on(challenger: Any, champion: Any, rows: pd.DataFrame, target: str, metric: str) -> Comparison:
    """``metric`` of both fitted models on the same labelled rows (NaN where the rows cannot give it)."""
    values = [float(m.score_rows(rows, target).get(metric, math.nan)) for m in (challenger, champion)]
    return Comparison(metric, values[0], values[1], len(rows))


def held_out_check(
    challenger: Any, champion: Any, frame: pd.DataFrame, target: str, seen: np.ndarray, metric: str, who: str
) -> tuple[dict[str, Any], Comparison | None, pd.DataFrame]:
    """The held-out check, its comparison (None when no row was left to compare on) and the rows
    compared on. ``seen`` marks the rows of ``frame`` from the data the champion was trained on."""
    rows, none = challenger.holdout_rows(), frame.iloc[:0]
    if rows is None:
        return _failed(f"held-out: the new version names no hold-out rows to compare {who} on."), None, none
    rows = np.asarray(rows)
    fresh = rows[~seen[rows]]
    left_out = int(len(rows) - len(fresh))
    if len(fresh) == 0:
        return _failed(
            f"held-out: all {len(rows)} held-out rows come from the data {who} was trained on; "
            "retrain with new data to compare on rows it has not seen.",
            left_out=left_out,
        ), None, none
    part = frame.iloc[fresh]
    c = compare_on(challenger, champion, part, target, metric)
    passed = c.computable and c.improvement > 0
    message = f"held-out: {_versus(c, who, f'On {c.rows} held-out rows of the new data')}: {_verdict(c)}."
    if left_out:
        message += f" {left_out} more held-out rows come from the data {who} was trained on and are left out."
    check = {"passed": passed, "metric": metric, **c.figures(), "left_out": left_out, "message": message}
    return check, c, part


def live_check(
    challenger: Any,
    champion: Any,
    live: LabelledRecords | None,
    target: str,
    metric: str,
    who: str,
    since: datetime | None,
) -> dict[str, Any]:
    """The live check: available with at least :data:`MIN_LIVE_RECORDS` labelled records."""
    when = f" since {since.isoformat(timespec='seconds')}" if since is not None else ""
    if live is None:
        return {"available": False, "passed": None, "records": 0, "message": NOT_AVAILABLE}
    rows = live.inputs.assign(**{target: live.outcomes.to_numpy()})
    rows = rows.loc[rows[target].notna()]
    if len(rows) == 0:
        return {"available": False, "passed": None, "records": 0, "message": NOT_AVAILABLE}
    if len(rows) < MIN_LIVE_RECORDS:
        return {
            "available": False,
            "passed": None,
            "records": len(rows),
            "message": f"live: not available ({len(rows)} labelled live records{when}; "
            f"at least {MIN_LIVE_RECORDS} are needed)",
        }
    try:
        c = compare_on(challenger, champion, rows, target, metric)
    except (ShopfloorError, ValueError, TypeError, KeyError) as exc:  # records as logged, not as checked
        why = exc.detail if isinstance(exc, ShopfloorError) else f"{type(exc).__name__}: {exc}"
        return {
            "available": False,
            "passed": None,
            "records": len(rows),
            "message": f"live: not available (the live records could not be scored: {why})",
        }
    message = f"live: {_versus(c, who, f'On {c.rows} labelled live records{when}')}: {_verdict(c)}."
    passed = c.computable and c.improvement > 0
    return {"available": True, "passed": passed, "metric": metric, **c.figures(), "message": message}


def band_of(report: Mapping[str, Any], metric: str) -> tuple[float, int] | None:
    """The spread (standard deviation) of ``metric`` over a report's seeded splits, and how many
    splits; None when fewer than two splits measured it."""
    stability = report.get("stability") or {}
    found = (stability.get("metrics") or {}).get(metric) or {}
    values = [v for v in found.get("values") or [] if v is not None and math.isfinite(v)]
    std = found.get("std")
    if len(values) < 2 or std is None or not math.isfinite(std):
        return None
    return float(std), len(values)


def resampled_spread(
    challenger: Any, champion: Any, rows: pd.DataFrame, target: str, metric: str, n: int = RESAMPLES
) -> tuple[float, int, int] | None:
    """The spread (standard deviation) of the improvement over ``n`` resamples (with replacement)
    of ``rows``, how many resamples gave both figures, and the rows each resample holds (at most
    :data:`RESAMPLE_ROWS`: a larger hold-out is resampled at that size, which overstates its
    spread a little); None with fewer than two resamples."""
    rng = np.random.default_rng(0)
    size = min(len(rows), RESAMPLE_ROWS)
    gains = []
    for _ in range(n):
        c = compare_on(challenger, champion, rows.iloc[rng.integers(0, len(rows), size)], target, metric)
        if c.computable:
            gains.append(c.improvement)
    return (float(np.std(gains, ddof=1)), len(gains), size) if len(gains) >= 2 else None


def stability_check(
    held_out: Comparison | None,
    champion: ModelVersion,
    challenger_report: Mapping[str, Any],
    who: str,
    resampled: Callable[[], tuple[float, int, int] | None],
) -> dict[str, Any]:
    """The stability check: the held-out improvement against the champion's stability band (the
    new version's when the champion's report measured none) and against the spread of the
    improvement itself over resamples of the rows compared on (``resampled()``, measured only
    for an improvement beyond the band): a small hold-out is noisier than the splits of a fit."""
    metric = held_out.metric if held_out is not None else str(challenger_report.get("metric"))
    band, whose, note = band_of(champion.report, metric), who, ""
    if band is None:
        band, whose, note = band_of(challenger_report, metric), "the new version", f"; {who} has none"
    figures: dict[str, Any] = {"metric": metric}
    noise: list[str] = []
    if band is not None:
        figures.update(band=round(band[0], 6), splits=band[1])
        spread_of = f"{metric} spread {band[0]:.4f} over {band[1]} seeded splits{note}"
        noise.append(f"the stability band of {whose} ({spread_of})")
    if held_out is None or not held_out.computable or held_out.improvement <= 0:
        against = noise[0] if noise else "any noise band"
        return _failed(f"stability: no held-out improvement to set against {against}.", **figures)
    gain = held_out.improvement
    figures["improvement"] = round(gain, 6)
    if band is not None and gain <= band[0]:
        return _failed(
            f"stability: the held-out improvement ({gain:.4f}) is within {noise[0]}: it cannot be told "
            "from noise.",
            **figures,
        )
    spread = resampled()
    if spread is not None:
        figures.update(resampled=round(spread[0], 6), resamples=spread[1])
        of = f"the {held_out.rows}" if spread[2] == held_out.rows else f"{spread[2]} of the {held_out.rows}"
        resamples = f"{spread[1]} resamples of {of} held-out rows"
        noise.append(f"the spread of the improvement over {resamples} ({spread[0]:.4f})")
    if not noise:
        return _failed(
            f"stability: no spread of {metric} was measured for {who}, the new version or the held-out "
            "rows, so an improvement cannot be told from noise.",
            **figures,
        )
    if spread is not None and gain <= spread[0]:
        beyond = f"exceeds {noise[0]} but not " if band is not None else "is within "
        return _failed(
            f"stability: the held-out improvement ({gain:.4f}) {beyond}{noise[-1]}: it cannot be told "
            "from noise.",
            **figures,
        )
    return {
        "passed": True,
        **figures,
        "message": f"stability: the held-out improvement ({gain:.4f}) exceeds {' and '.join(noise)}.",
    }


def _failed(message: str, **figures: Any) -> dict[str, Any]:
    return {"passed": False, **figures, "message": message}


def decide(checks: Mapping[str, Mapping[str, Any]], who: str) -> tuple[bool, str]:
    """Whether the gate passed, and why in one paragraph: the held-out and stability checks must
    pass, the live one too where it is available."""
    needed = ["held_out", "stability"] + (["live"] if checks["live"]["available"] else [])
    failed = [checks[name]["message"] for name in needed if not checks[name]["passed"]]
    if failed:
        return False, f"Gate failed: the new version does not replace {who}. " + " ".join(failed)
    basis = (
        "held-out and live data"
        if checks["live"]["available"]
        else f"held-out data alone ({checks['live']['message']})"
    )
    return True, f"Gate passed: the new version beats {who} on {basis}, by more than the stability band."


def champion_name(champion: ModelVersion) -> str:
    """``version 3 (production)``: how the gate's sentences name the champion."""
    aliases = f" ({', '.join(champion.aliases)})" if champion.aliases else ""
    return f"version {champion.version}{aliases}"


def evaluate(
    challenger: Any,
    champion_model: Any,
    champion: ModelVersion,
    frame: pd.DataFrame,
    seen: np.ndarray,
    source: LiveLabelledSource,
) -> dict[str, Any]:
    """The gate of ``challenger`` (just fitted on ``frame``) against the champion (its registry
    entry and its loaded estimator): ``passed``, the champion, the metric, each check with its
    figures and sentence, and a summary. ``seen`` marks the rows of ``frame`` from the data the
    champion was trained on; ``source`` gives the labelled live records."""
    report = challenger.report_
    metric, target = str(report["metric"]), str(report["target"])
    who = champion_name(champion)
    held, comparison, compared = held_out_check(challenger, champion_model, frame, target, seen, metric, who)
    since = champion.created_at
    try:
        live = source.labelled(champion.tenant, champion.model, since)
    except ShopfloorError as exc:
        checks_live = {
            "available": False,
            "passed": None,
            "records": 0,
            "message": f"live: not available (the live records could not be read: {exc.detail})",
        }
    else:
        checks_live = live_check(challenger, champion_model, live, target, metric, who, since)
    checks = {
        "held_out": held,
        "live": checks_live,
        "stability": stability_check(
            comparison,
            champion,
            report,
            who,
            lambda: resampled_spread(challenger, champion_model, compared, target, metric),
        ),
    }
    passed, summary = decide(checks, who)
    return {
        "passed": passed,
        "champion": {"version": champion.version, "aliases": list(champion.aliases)},
        "metric": metric,
        "greater_is_better": greater_is_better(metric),
        "checks": checks,
        "summary": summary,
    }
