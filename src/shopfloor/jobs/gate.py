"""The gate a retrained version must pass before it may replace the champion it was compared with.

Three checks, each stored with its figures and a sentence in words:

held_out
    The new version and the champion score the same held-out examples of the new data, less those
    from the data the champion was trained on (it has seen them). What the examples are, the figure
    compared and its direction come from the family (:meth:`compare_with`, see
    :mod:`shopfloor.tasks.compare`): the hold-out rows and the report's ``metric`` for a table, the
    assets of a sensor history, recordings, images, series, stretches of one stream. The new version
    must be better. Where the family can give no figure to both models (no labelled defects among
    new images...), the check says so and why, and does not pass.
live
    Both score the labelled live records (logged predictions with feedback) that the platform's
    :class:`~shopfloor.jobs.live.LiveLabelledSource` has since the champion was registered; the
    new version must be better there too. With fewer than :data:`MIN_LIVE_RECORDS` records the
    check is not available, and the gate decides on the held-out examples alone (and says so).
    Without a held-out figure, live data alone decides where it is available.
stability
    The improvement must exceed the champion's stability band (the spread of the metric over the
    seeded splits of its training report) and its own spread over resamples of the examples
    compared: a smaller improvement cannot be told from the noise of which examples were held out.
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
from shopfloor.tasks.compare import Incomparable, NewData, Paired, paired_rows

#: The fewest labelled live records the live check compares on; with fewer it is not available.
MIN_LIVE_RECORDS = 20
#: Resamples of the examples compared that measure the spread of the improvement itself, and the
#: most examples one resample holds.
RESAMPLES = 50
RESAMPLE_ROWS = 5_000
NOT_AVAILABLE = "live: not available (no labelled live data)"


@dataclass(frozen=True)
class Comparison:
    """One metric of both models on the same examples."""

    metric: str
    challenger: float
    champion: float
    rows: int
    greater: bool = True

    @property
    def improvement(self) -> float:
        """How much better the new version is (negative: worse), whatever the metric's direction."""
        gain = self.challenger - self.champion
        return gain if self.greater else -gain

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


def measured(paired: Paired, take: np.ndarray) -> Comparison:
    """The paired figures over the examples ``take`` as one comparison of the metric (NaN where the
    examples cannot give it)."""
    return _as_comparison(paired, *paired.figures(take), len(take))


def _as_comparison(paired: Paired, new: Mapping[str, float], old: Mapping[str, float], n: int) -> Comparison:
    values = [float(f.get(paired.metric, math.nan)) for f in (new, old)]
    return Comparison(paired.metric, values[0], values[1], n, paired.greater_is_better)


def held_out_check(compared: Paired | Incomparable, who: str) -> tuple[dict[str, Any], Comparison | None]:
    """The held-out check, and its comparison (None when there is no comparable figure)."""
    if isinstance(compared, Incomparable):
        return {
            "passed": False,
            "comparable": False,
            "left_out": compared.left_out,
            **({"available": compared.available} if compared.available else {}),
            "message": f"held-out: no comparable figure: {compared.reason}.",
        }, None
    new, old = compared.everything()
    c = _as_comparison(compared, new, old, compared.units)
    message = f"held-out: {_versus(c, who, f'On {c.rows} {compared.where}')}: {_verdict(c)}."
    if compared.how:
        message += f" {compared.how}"
    if compared.left_out:
        message += (
            f" {compared.left_out} more held-out {compared.unit} come from the data {who} was trained on "
            "and are left out."
        )
    check = {
        "passed": c.computable and c.improvement > 0,
        "comparable": True,
        "metric": c.metric,
        **c.figures(),
        "unit": compared.unit,
        "left_out": compared.left_out,
        "figures": {
            "challenger": {k: _rounded(float(v)) for k, v in new.items()},
            "champion": {k: _rounded(float(v)) for k, v in old.items()},
        },
        "message": message,
    }
    return check, c


def live_check(
    challenger: Any,
    champion: Any,
    live: LabelledRecords | None,
    target: str,
    metric: str,
    who: str,
    since: datetime | None,
) -> tuple[dict[str, Any], Paired | None]:
    """The live check (available with at least :data:`MIN_LIVE_RECORDS` labelled records that both
    models can score), and the records paired for the stability check."""
    when = f" since {since.isoformat(timespec='seconds')}" if since is not None else ""

    def unavailable(records: int, why: str) -> tuple[dict[str, Any], None]:
        message = f"live: not available ({why})"
        return {"available": False, "passed": None, "records": records, "message": message}, None

    if live is None:
        return {"available": False, "passed": None, "records": 0, "message": NOT_AVAILABLE}, None
    column = challenger.outcome_column(target)
    if column is None:
        return unavailable(0, f"a {challenger.task} model's records have no outcome of their own")
    rows = live.inputs.assign(**{column: live.outcomes.to_numpy()})
    rows = rows.loc[rows[column].notna()]
    if len(rows) == 0:
        return {"available": False, "passed": None, "records": 0, "message": NOT_AVAILABLE}, None
    if len(rows) < MIN_LIVE_RECORDS:
        return unavailable(
            len(rows), f"{len(rows)} labelled live records{when}; at least {MIN_LIVE_RECORDS} are needed"
        )
    try:
        paired = paired_rows(challenger, champion, rows, column, "labelled live records", metric=metric)
        c = measured(paired, np.arange(paired.units))
    except (ShopfloorError, ValueError, TypeError, KeyError) as exc:  # records as logged, not as checked
        why = exc.detail if isinstance(exc, ShopfloorError) else f"{type(exc).__name__}: {exc}"
        return unavailable(len(rows), f"the live records could not be scored: {why}")
    message = f"live: {_versus(c, who, f'On {c.rows} labelled live records{when}')}: {_verdict(c)}."
    passed = c.computable and c.improvement > 0
    return {"available": True, "passed": passed, "metric": metric, **c.figures(), "message": message}, paired


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


def resampled_spread(paired: Paired, n: int = RESAMPLES) -> tuple[float, int, int] | None:
    """The spread (standard deviation) of the improvement over ``n`` resamples (with replacement)
    of the examples compared, how many resamples gave both figures, and the examples each resample
    holds (at most :data:`RESAMPLE_ROWS`: a larger set is resampled at that size, which overstates
    its spread a little); None with fewer than two resamples."""
    rng = np.random.default_rng(0)
    size = min(paired.units, RESAMPLE_ROWS)
    gains = []
    for _ in range(n):
        c = measured(paired, rng.integers(0, paired.units, size))
        if c.computable:
            gains.append(c.improvement)
    return (float(np.std(gains, ddof=1)), len(gains), size) if len(gains) >= 2 else None


def stability_check(
    basis: tuple[str, Comparison, Paired] | None,
    champion: ModelVersion,
    challenger_report: Mapping[str, Any],
    who: str,
    metric: str,
    resampled: Callable[[Paired], tuple[float, int, int] | None] = resampled_spread,
) -> dict[str, Any]:
    """The stability check of the comparison that decides (``basis``: its name, ``held-out`` or
    ``live``, the comparison and the paired examples): its improvement against the champion's
    stability band (the new version's when the champion's report measured none) and against the
    spread of the improvement itself over resamples of the examples compared (measured only for an
    improvement beyond the band): a small hold-out is noisier than the splits of a fit."""
    band, whose, note = band_of(champion.report, metric), who, ""
    if band is None:
        band, whose, note = band_of(challenger_report, metric), "the new version", f"; {who} has none"
    figures: dict[str, Any] = {"metric": metric}
    noise: list[str] = []
    if band is not None:
        figures.update(band=round(band[0], 6), splits=band[1])
        spread_of = f"{metric} spread {band[0]:.4f} over {band[1]} seeded splits{note}"
        noise.append(f"the stability band of {whose} ({spread_of})")
    name = basis[0] if basis is not None else "held-out"
    if basis is None or not basis[1].computable or basis[1].improvement <= 0:
        against = noise[0] if noise else "any noise band"
        return _failed(f"stability: no {name} improvement to set against {against}.", **figures)
    _, comparison, paired = basis
    gain = comparison.improvement
    figures["improvement"] = round(gain, 6)
    if band is not None and gain <= band[0]:
        return _failed(
            f"stability: the {name} improvement ({gain:.4f}) is within {noise[0]}: it cannot be told "
            "from noise.",
            **figures,
        )
    spread = resampled(paired)
    if spread is not None:
        figures.update(resampled=round(spread[0], 6), resamples=spread[1])
        of = f"the {paired.units}" if spread[2] == paired.units else f"{spread[2]} of the {paired.units}"
        resamples = f"{spread[1]} resamples of {of} {paired.where}"
        noise.append(f"the spread of the improvement over {resamples} ({spread[0]:.4f})")
    if not noise:
        return _failed(
            f"stability: no spread of {metric} was measured for {who}, the new version or the "
            f"{paired.where}, so an improvement cannot be told from noise.",
            **figures,
        )
    if spread is not None and gain <= spread[0]:
        beyond = f"exceeds {noise[0]} but not " if band is not None else "is within "
        return _failed(
            f"stability: the {name} improvement ({gain:.4f}) {beyond}{noise[-1]}: it cannot be told "
            "from noise.",
            **figures,
        )
    return {
        "passed": True,
        **figures,
        "message": f"stability: the {name} improvement ({gain:.4f}) exceeds {' and '.join(noise)}.",
    }


def _failed(message: str, **figures: Any) -> dict[str, Any]:
    return {"passed": False, **figures, "message": message}


def decide(checks: Mapping[str, Mapping[str, Any]], who: str) -> tuple[bool, str]:
    """Whether the gate passed, and why in one paragraph: the held-out and stability checks must
    pass, the live one too where it is available; without a comparable held-out figure, live data
    decides where it is available, else the gate fails."""
    held, live = checks["held_out"], checks["live"]
    comparable = held.get("comparable", True)
    needed = (["held_out"] if comparable or not live["available"] else []) + ["stability"]
    needed += ["live"] if live["available"] else []
    failed = [checks[name]["message"] for name in needed if not checks[name]["passed"]]
    if failed:
        return False, f"Gate failed: the new version does not replace {who}. " + " ".join(failed)
    if not comparable:
        basis = f"live data alone ({held['message']})"
    elif live["available"]:
        basis = "held-out and live data"
    else:
        basis = f"held-out data alone ({live['message']})"
    return True, f"Gate passed: the new version beats {who} on {basis}, by more than the stability band."


def champion_name(champion: ModelVersion) -> str:
    """``version 3 (production)``: how the gate's sentences name the champion."""
    aliases = f" ({', '.join(champion.aliases)})" if champion.aliases else ""
    return f"version {champion.version}{aliases}"


def _compared(challenger: Any, champion_model: Any, data: NewData) -> Paired | Incomparable:
    """The family's held-out comparison; a model that cannot score the new data makes none."""
    try:
        result: Paired | Incomparable = challenger.compare_with(champion_model, data)
    except ShopfloorError as exc:
        return Incomparable(f"{data.champion} could not be scored on the new data: {exc.detail}")
    return result


def _live(
    challenger: Any, champion_model: Any, champion: ModelVersion, source: LiveLabelledSource, target: str,
    metric: str, who: str,
) -> tuple[dict[str, Any], Paired | None]:  # fmt: skip
    since = champion.created_at
    try:
        live = source.labelled(champion.tenant, champion.model, since)
    except ShopfloorError as exc:
        message = f"live: not available (the live records could not be read: {exc.detail})"
        return {"available": False, "passed": None, "records": 0, "message": message}, None
    return live_check(challenger, champion_model, live, target, metric, who, since)


def evaluate(
    challenger: Any,
    champion_model: Any,
    champion: ModelVersion,
    frame: pd.DataFrame,
    seen: np.ndarray,
    source: LiveLabelledSource,
    target: str | None = None,
) -> dict[str, Any]:
    """The gate of ``challenger`` (just fitted on ``frame``) against the champion (its registry
    entry and its loaded estimator): ``passed``, the champion, the metric, each check with its
    figures and sentence, and a summary. ``seen`` marks the rows of ``frame`` from the data the
    champion was trained on; ``source`` gives the labelled live records; ``target`` is the
    configuration's target column (default: the new version's report's)."""
    report = challenger.report_
    if target is None:
        target = report["target"] if isinstance(report.get("target"), str) else ""
    who = champion_name(champion)
    compared = _compared(challenger, champion_model, NewData(frame, seen, target, who))
    held, comparison = held_out_check(compared, who)
    if isinstance(compared, Paired):
        metric, greater = compared.metric, compared.greater_is_better
    else:
        metric = str(report.get("metric") or "")
        greater = greater_is_better(metric)
    checks_live, live_paired = _live(challenger, champion_model, champion, source, target, metric, who)
    basis: tuple[str, Comparison, Paired] | None = None
    if comparison is not None and isinstance(compared, Paired):
        basis = ("held-out", comparison, compared)
    elif live_paired is not None:
        basis = ("live", measured(live_paired, np.arange(live_paired.units)), live_paired)
    checks = {
        "held_out": held,
        "live": checks_live,
        "stability": stability_check(basis, champion, report, who, metric),
    }
    passed, summary = decide(checks, who)
    return {
        "passed": passed,
        "champion": {"version": champion.version, "aliases": list(champion.aliases)},
        "metric": metric,
        "greater_is_better": greater,
        "checks": checks,
        "summary": summary,
    }
