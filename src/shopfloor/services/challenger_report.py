"""The comparison of a model's challenger with its champion, from the answers both gave to the same
requests (logged by :mod:`shopfloor.services.challenger`).

Over a time span (``windows`` windows of ``window`` each, the newest ending at ``until``) it pairs the
champion's and the challenger's answers by request id and record index, and reports: how many were
compared, how far the answers agree (by the kind of outcome the task declares: same class, difference
of values, alarm agreement), each side's live metrics on the outcomes fed back (feedback by request
id counts for both sides), each side's latency (p50, p95, per request), the same per window (for the
chart), and a sentence recommending promotion or not (:func:`recommend`).

Only pairs of the versions compared are counted (by default the versions behind ``production`` and
``challenger`` now); pairs of other versions in the span are counted as ``other_versions``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from shopfloor.context import Platform
from shopfloor.errors import Conflict, InvalidInput
from shopfloor.evaluation import agreement as A
from shopfloor.evaluation.live import LOWER_IS_BETTER
from shopfloor.explain.challenger_plot import challenger_png
from shopfloor.registry.log_entities import LoggedPrediction
from shopfloor.services import outcomes as O
from shopfloor.services.log_windows import check_windows, parse_window
from shopfloor.services.prediction_log import entries_of, outcomes_of
from shopfloor.serving.challenger import CHALLENGER, CHAMPION, SERVED, SOURCES, side_of
from shopfloor.tasks import catalog
from shopfloor.tasks.base import Outcomes

#: Logged answers read per report at most, and per registry query.
MAX_READ = 400_000
PAGE = 20_000
#: Fewest compared records with an outcome before the metrics can decide a promotion.
MIN_OUTCOMES = 30
#: Largest share of requests with one side's answer only (dropped, failed) that still allows promotion.
MAX_UNPAIRED = 0.05
#: The challenger's p95 latency may be at most this many times the champion's (and 10 ms more) ...
SLOWER_FACTOR, SLOWER_MS = 2.0, 10.0


@dataclass(frozen=True)
class Pair:
    at: datetime
    request_id: str
    champion: LoggedPrediction
    challenger: LoggedPrediction
    served: str


@dataclass
class _Found:
    pairs: list[Pair]
    unpaired: dict[str, int]
    other_versions: int


def _read(
    platform: Platform, tenant: str, name: str, since: datetime, until: datetime
) -> list[LoggedPrediction]:
    out: list[LoggedPrediction] = []
    after = None
    while len(out) < MAX_READ:
        n = min(PAGE, MAX_READ - len(out))
        page = platform.store.list_logged(
            tenant, name, since=since, until=until, after=after, limit=n, sources=SOURCES
        )
        out.extend(page)
        if len(page) < n:
            break
        after = (page[-1].at, page[-1].blob_id, page[-1].slot)
    return out


def pair(refs: Sequence[LoggedPrediction], champion: int, challenger: int) -> _Found:
    """The champion's and the challenger's answers of each (request id, record index), of those two
    versions; a side's answer left without the other's is counted as unpaired."""
    groups: dict[tuple[str, int], dict[str, LoggedPrediction]] = {}
    unpaired = {CHAMPION: 0, CHALLENGER: 0}
    other = 0
    for ref in refs:
        side = side_of(ref.source)
        if side is None:
            continue
        if ref.version != (champion if side == CHAMPION else challenger):
            other += 1
            continue
        group = groups.setdefault((ref.request_id or f"\x00{ref.record_id}", ref.position), {})
        if ref.request_id is None or side in group:  # no id to pair by, or the id was sent twice
            unpaired[side] += 1
            continue
        group[side] = ref
    pairs = []
    for (request_id, _), group in groups.items():
        if len(group) == 2:
            first, second = group[CHAMPION], group[CHALLENGER]
            served = CHALLENGER if second.source.endswith(SERVED) else CHAMPION
            pairs.append(Pair(min(first.at, second.at), request_id, first, second, served))
        else:
            for side in group:
                unpaired[side] += 1
    pairs.sort(key=lambda p: p.at)
    return _Found(pairs, unpaired, other)


def _steps(value: Any) -> list[float]:
    if isinstance(value, list):
        return [float(v) for v in value if isinstance(v, int | float) and not isinstance(v, bool)]
    return [float(value)] if isinstance(value, int | float) and not isinstance(value, bool) else []


#: The headline agreement measure of each kind of outcome (see :mod:`shopfloor.evaluation.agreement`).
_MEASURE = {"label": "same_class", "value": "mean_abs_difference", "alarm": "alarm_agreement"}


Answers = Sequence[Mapping[str, Any]]


def agreement(spec: Outcomes | None, a: Answers, b: Answers) -> dict[str, Any]:
    """How far the champion's answers ``a`` and the challenger's ``b`` (paired) agree, by the kind the
    task declares; the headline measure first."""
    if spec is None:
        return A.same_answer(a, b)
    x, y = [r.get(spec.answer) for r in a], [r.get(spec.answer) for r in b]
    if spec.kind == "label":
        return A.label_agreement(x, y)
    if spec.kind == "value":
        return A.value_agreement([_steps(v) for v in x], [_steps(v) for v in y])
    found = A.alarm_agreement([bool(v) for v in x], [bool(v) for v in y])
    return {
        "alarm_agreement": found["alarm_agreement"],
        "champion_only": found["first_only"],
        "challenger_only": found["second_only"],
        "both": found["both"],
    }


def _scores(spec: Outcomes, answers: Answers, truths: list[Any], scale: Any) -> dict[str, Any]:
    if not answers:
        return dict.fromkeys(spec.metrics)
    try:
        return O.scores(spec, answers, truths, scale)
    except (ValueError, KeyError, TypeError):  # e.g. an outcome of a class only the other side knows
        return dict.fromkeys(spec.metrics)


def _percentiles(values: Sequence[float]) -> dict[str, Any]:
    if not values:
        return {"p50": None, "p95": None, "requests": 0}
    arr = np.asarray(values, dtype=float)
    return {"p50": float(np.percentile(arr, 50)), "p95": float(np.percentile(arr, 95)), "requests": len(arr)}


@dataclass(frozen=True)
class Span:
    """What a report covers: ``windows`` windows of ``window`` (a time span: 15m, 1h, 1d), the newest
    ending at ``until`` (None: now); the versions compared (None: production and the challenger now)."""

    window: str = "1h"
    windows: int = 24
    until: datetime | None = None
    champion: int | None = None
    challenger: int | None = None


def _seconds(window: str, windows: int) -> int:
    span = parse_window(window)
    if span.seconds is None:
        raise InvalidInput(
            f"window {window!r}: the comparison is by time; give a span such as 1h or 1d",
            errors=[{"loc": ["query", "window"], "msg": "a time span, e.g. 1h"}],
        )
    check_windows(windows)
    return span.seconds


def check_span(span: Span) -> None:
    """422 for a span the report cannot cut into windows of time (before anything is read)."""
    _seconds(span.window, span.windows)


def report(platform: Platform, tenant: str, name: str, span: Span = Span()) -> dict[str, Any]:  # noqa: B008
    """The comparison over ``span`` (see the module); 404 for an unknown model, 409 when there is no
    challenger or production version to compare and none is given."""
    setting = platform.store.get_challenger(tenant, name)
    task = platform.store.get_model(tenant, name).task
    window, windows = span.window, span.windows
    seconds = _seconds(window, windows)
    asked = {CHAMPION: span.champion or setting.champion, CHALLENGER: span.challenger or setting.challenger}
    missing = [side for side, v in asked.items() if v is None]
    if missing:
        raise Conflict(
            f"model {name!r} has no {' and no '.join(missing)} to compare: set one, or give the versions "
            "to compare (champion=, challenger=)",
            errors=[{"loc": ["query", side], "msg": "no version to compare"} for side in missing],
        )
    sides = {side: int(v or 0) for side, v in asked.items()}
    until = span.until or datetime.now(UTC)
    size = timedelta(seconds=seconds)
    since = until - size * windows
    found = pair(_read(platform, tenant, name, since, until), sides[CHAMPION], sides[CHALLENGER])
    refs = [r for p in found.pairs for r in (p.champion, p.challenger)]
    entries, truths = entries_of(platform, tenant, refs), outcomes_of(platform, tenant, refs)
    spec = catalog.capabilities(task).outcomes
    scales = {side: _scale(platform, tenant, name, task, version, spec) for side, version in sides.items()}
    opened = [p for p in found.pairs if p.champion.key in entries and p.challenger.key in entries]
    rows = [_row(p, entries, truths) for p in opened]
    totals = _figures(spec, rows, scales)
    compared = {
        "requests": len({r["request_id"] for r in rows}),
        "records": len(rows),
        "served_by_challenger": len({r["request_id"] for r in rows if r["served"] == CHALLENGER}),
        "unpaired": found.unpaired,
        "other_versions": found.other_versions,
    }
    promote, reason = recommend(sides, compared, totals)
    return {
        "model": name,
        "task": task,
        "kind": spec.kind if spec is not None else None,
        "mode": setting.mode,
        "share": setting.share,
        "champion": sides[CHAMPION],
        "challenger": sides[CHALLENGER],
        "since": since,
        "until": until,
        "window": {"text": window, "seconds": seconds, "windows": windows},
        "compared": compared,
        "agreement": totals["agreement"],
        "metrics": totals["metrics"],
        "latency_ms": totals["latency_ms"],
        "windows": _windows(spec, rows, scales, since, size, windows),
        "recommendation": {"promote": promote, "reason": reason},
    }


def _windows(
    spec: Outcomes | None,
    rows: Answers,
    scales: Mapping[str, Any],
    since: datetime,
    size: timedelta,
    windows: int,
) -> list[dict[str, Any]]:
    """Records compared, outcomes, agreement and each side's headline metric per window, oldest first."""
    bins: list[list[Mapping[str, Any]]] = [[] for _ in range(windows)]
    for row in rows:
        bins[min(int((row["at"] - since) / size), windows - 1)].append(row)
    out = []
    for k, group in enumerate(bins):
        figures = _figures(spec, group, scales)
        headline = figures["metrics"]["headline"]
        out.append(
            {
                "start": since + size * k,
                "end": since + size * (k + 1),
                "compared": len(group),
                "outcomes": figures["metrics"]["outcomes"],
                "agreement": figures["agreement"]["value"],
                "champion": figures["metrics"][CHAMPION].get(headline) if headline else None,
                "challenger": figures["metrics"][CHALLENGER].get(headline) if headline else None,
            }
        )
    return out


def _scale(platform: Platform, tenant: str, name: str, task: str, version: int, spec: Outcomes | None) -> Any:
    if spec is None or "mase" not in spec.metrics or not catalog.capabilities(task).predict:
        return None
    return platform.models.get(tenant, name, version).estimator.answer_scale


def _row(p: Pair, entries: Mapping[Any, Any], truths: Mapping[Any, Any]) -> dict[str, Any]:
    first, second = entries[p.champion.key], entries[p.challenger.key]
    key = p.champion.key if p.champion.key in truths else p.challenger.key
    return {
        "at": p.at,
        "request_id": p.request_id,
        "served": p.served,
        CHAMPION: (first.get("answer") or {}, first.get("latency_ms")),
        CHALLENGER: (second.get("answer") or {}, second.get("latency_ms")),
        "truth": (truths[key],) if key in truths else None,  # an outcome may be null: keep it boxed
    }


def _figures(spec: Outcomes | None, rows: Answers, scales: Mapping[str, Any]) -> dict[str, Any]:
    answers = {side: [r[side][0] for r in rows] for side in (CHAMPION, CHALLENGER)}
    measures = agreement(spec, answers[CHAMPION], answers[CHALLENGER]) if rows else {}
    headline_measure = _MEASURE[spec.kind] if spec is not None else "same_answer"
    known = [r for r in rows if r["truth"] is not None]
    metrics: dict[str, Any] = {
        "names": list(spec.metrics) if spec is not None else [],
        "headline": spec.metrics[0] if spec is not None and spec.metrics else None,
        "lower_is_better": [m for m in (spec.metrics if spec else ()) if m in LOWER_IS_BETTER],
        "outcomes": len(known),
    }
    latency = {}
    for side in (CHAMPION, CHALLENGER):
        truths = [r["truth"][0] for r in known]
        metrics[side] = _scores(spec, [r[side][0] for r in known], truths, scales[side]) if spec else {}
        per_request = {r["request_id"]: r[side][1] for r in rows if isinstance(r[side][1], int | float)}
        latency[side] = _percentiles(list(per_request.values()))
    return {
        "agreement": {
            "measure": headline_measure,
            "value": measures.get(headline_measure),
            "lower_is_closer": headline_measure in A.LOWER_IS_CLOSER,
            "values": measures,
        },
        "metrics": metrics,
        "latency_ms": latency,
    }


def _pct(value: Any) -> str:
    return f"{100 * value:.1f}%" if isinstance(value, int | float) else "n/a"


def _num(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, int | float) and math.isfinite(value) else "n/a"


def _agreed(found: Mapping[str, Any]) -> str:
    measure, value = found["measure"], found["value"]
    if measure in A.LOWER_IS_CLOSER:
        return f"their answers differ by {_num(value)} on average"
    return f"their answers agree on {_pct(value)} of the records ({measure.replace('_', ' ')})"


def recommend(
    sides: Mapping[str, int], compared: Mapping[str, Any], totals: Mapping[str, Any]
) -> tuple[bool, str]:
    """Whether to promote the challenger, and the sentence saying why (rules in docs/challenger.md):
    enough compared records with outcomes, few requests with one side only, a headline metric at least
    as good as the champion's, and a p95 latency not much worse."""
    records = compared["records"]
    if not records:
        return False, (
            "Do not promote yet: no request was compared in this span; leave the challenger running "
            "(shadow or canary) and read the report again."
        )
    lone = sum(compared["unpaired"].values())
    if lone / (records + lone) > MAX_UNPAIRED:
        return False, (
            f"Do not promote yet: {_pct(lone / (records + lone))} of the answers have no answer of the other "
            "side (its run was dropped or failed: see shopfloor_challenger_requests_total)."
        )
    metrics, agreed = totals["metrics"], _agreed(totals["agreement"])
    metric, n = metrics["headline"], metrics["outcomes"]
    if metric is None or n < MIN_OUTCOMES:
        return False, (
            f"Do not promote yet: {n} of {records} compared records have an outcome fed back, at least "
            f"{MIN_OUTCOMES} are needed to judge; so far {agreed}."
        )
    ours, theirs = metrics[CHALLENGER].get(metric), metrics[CHAMPION].get(metric)
    label = metric.replace("_", " ")
    if ours is None or theirs is None:
        return False, f"Do not promote yet: the {label} cannot be computed on the outcomes so far; {agreed}."
    lower = metric in metrics["lower_is_better"]
    if (ours > theirs) if lower else (ours < theirs):
        return False, (
            f"Do not promote: the challenger (version {sides[CHALLENGER]}) scored {label} {_num(ours)} "
            f"against {_num(theirs)} for the champion (version {sides[CHAMPION]}) on the same {n} records; "
            f"{agreed}."
        )
    slow, fast = totals["latency_ms"][CHALLENGER]["p95"], totals["latency_ms"][CHAMPION]["p95"]
    if slow is not None and fast is not None and slow > SLOWER_FACTOR * fast and slow - fast > SLOWER_MS:
        return False, (
            f"Do not promote yet: the challenger is as good on {label} ({_num(ours)} against {_num(theirs)}) "
            f"but its p95 latency is {_num(slow)} ms against {_num(fast)} ms."
        )
    return True, (
        f"Promote: the challenger (version {sides[CHALLENGER]}) scored {label} {_num(ours)} against "
        f"{_num(theirs)} for the champion (version {sides[CHAMPION]}) on {n} records with outcomes; "
        f"{agreed}; p95 latency {_num(slow)} ms against {_num(fast)} ms."
    )


def plot(platform: Platform, tenant: str, name: str, span: Span = Span()) -> bytes:  # noqa: B008
    """PNG of :func:`report`: agreement and each side's headline metric per window."""
    return challenger_png(report(platform, tenant, name, span))
