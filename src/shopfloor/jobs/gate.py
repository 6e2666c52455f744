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
from collections.abc import Mapping
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
) -> tuple[dict[str, Any], Comparison | None]:
    """The held-out check, and its comparison (None when no row was left to compare on).

    ``seen`` marks the rows of ``frame`` that come from the data the champion was trained on."""
    rows = challenger.holdout_rows()
    if rows is None:
        return _failed(f"held-out: the new version names no hold-out rows to compare {who} on."), None
    rows = np.asarray(rows)
    fresh = rows[~seen[rows]]
    left_out = int(len(rows) - len(fresh))
    if len(fresh) == 0:
        return _failed(
            f"held-out: all {len(rows)} held-out rows come from the data {who} was trained on; "
            "retrain with new data to compare on rows it has not seen.",
            left_out=left_out,
        ), None
    c = compare_on(challenger, champion, frame.iloc[fresh], target, metric)
    passed = c.computable and c.improvement > 0
    message = f"held-out: {_versus(c, who, f'On {c.rows} held-out rows of the new data')}: {_verdict(c)}."
    if left_out:
        message += f" {left_out} more held-out rows come from the data {who} was trained on and are left out."
    return {"passed": passed, "metric": metric, **c.figures(), "left_out": left_out, "message": message}, c


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


def stability_check(
    held_out: Comparison | None,
    champion: ModelVersion,
    challenger_report: Mapping[str, Any],
    metric: str,
    who: str,
) -> dict[str, Any]:
    """The stability check: the held-out improvement against the champion's band (the new
    version's when the champion's report measured none)."""
    band, whose, note = band_of(champion.report, metric), who, ""
    if band is None:
        band, whose, note = band_of(challenger_report, metric), "the new version", f"; {who} has none"
    if band is None:
        return _failed(
            f"stability: no spread of {metric} over seeded splits was measured for {who} or the new "
            "version, so an improvement cannot be told from noise (a larger time budget lets training "
            "measure it)."
        )
    spread, splits = band
    about = f"the stability band of {whose} ({metric} spread {spread:.4f} over {splits} seeded splits{note})"
    figures = {"band": round(spread, 6), "splits": splits, "metric": metric}
    if held_out is None or not held_out.computable or held_out.improvement <= 0:
        return _failed(f"stability: no held-out improvement to set against {about}.", **figures)
    gain = held_out.improvement
    if gain > spread:
        return {
            "passed": True,
            **figures,
            "improvement": round(gain, 6),
            "message": f"stability: the held-out improvement ({gain:.4f}) exceeds {about}.",
        }
    return {
        "passed": False,
        **figures,
        "improvement": round(gain, 6),
        "message": f"stability: the held-out improvement ({gain:.4f}) is within {about}: it cannot be "
        "told from noise.",
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
    held, comparison = held_out_check(challenger, champion_model, frame, target, seen, metric, who)
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
        "stability": stability_check(comparison, champion, report, metric, who),
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
