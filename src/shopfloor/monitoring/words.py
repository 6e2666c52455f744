"""Each finding in one sentence a plant engineer reads without statistics: what moved, by how
much, in the column's own units, with the test's figure in brackets."""

from __future__ import annotations

import math
from typing import Any

from shopfloor.monitoring import text as T
from shopfloor.monitoring.compare import Finding


def percent(share: float) -> str:
    """``0.1`` -> ``"10 %"``; shares under 10 % keep one decimal."""
    value = 100.0 * share
    return f"{value:.1f} %" if 0 < abs(value) < 10 else f"{value:.0f} %"


def _decimals(scale: float) -> int:
    """Decimals that show a difference on the scale of the training spread (two significant digits)."""
    if not math.isfinite(scale) or scale <= 0:
        return 2
    return int(min(6, max(0, 1 - math.floor(math.log10(scale)))))


def _value(x: float, decimals: int, unit: str | None) -> str:
    return f"{x:.{decimals}f}" + (f" {unit}" if unit else "")


def _p(p: float) -> str:
    if not math.isfinite(p):
        return "p n/a"
    return "p < 0.001" if p < 0.001 else f"p {p:.3f}"


def sentence(finding: Finding) -> str:
    """The finding in words (after its drift decision is made)."""
    if finding.kind == "numeric":
        return _numeric(finding)
    if finding.kind == "categorical":
        return _categorical(finding)
    if finding.kind == "embedding":
        return _embedding(finding)
    return _together(finding)


def _subject(finding: Finding) -> str:
    return f"model output {finding.name}" if finding.role == "output" else finding.name


def _numeric(f: Finding) -> str:
    ref, win, d = f.details["reference"], f.details["window"], f.details
    tag = f"(KS {f.statistic:.2f})" if math.isfinite(f.statistic) else "(no values to compare)"
    if win.get("n", 0) == 0:
        return f"{_subject(f)} has no values in the window ({percent(win.get('missing', 1.0))} missing)"
    ref_missing, win_missing = ref.get("missing", 0.0), win.get("missing", 0.0)
    if f.drifted and abs(win_missing - ref_missing) >= max(0.05, f.statistic or 0.0):
        return (
            f"{_subject(f)} is missing in {percent(win_missing)} of rows "
            f"({percent(ref_missing)} at training)"
        )
    if d.get("measure") == T.UNSEEN:
        column = f.name.removesuffix(f": {T.UNSEEN}")
        return (
            f"{percent(win['mean'])} of the words in {column!r} were never seen at training "
            f"({percent(ref['mean'])} in held-out training texts) {tag}"
        )
    unit = d.get("unit")
    decimals = _decimals(float(ref.get("std") or 0.0))
    delta = win["mean"] - ref["mean"]
    if d.get("measure") == T.WORDS:
        column = f.name.removesuffix(f": {T.WORDS}")
        change = "grew" if delta > 0 else "shrank"
        if not f.drifted:
            return f"texts in {column!r} kept their length: {win['mean']:.1f} words on average {tag}"
        return (
            f"texts in {column!r} {change} from {ref['mean']:.1f} to {win['mean']:.1f} words on average {tag}"
        )
    if not f.drifted:
        return f"{_subject(f)} unchanged: mean {_value(ref['mean'], decimals, unit)} at training, " \
               f"{_value(win['mean'], decimals, unit)} now {tag}"
    spread_ratio = (win.get("std") or 0.0) / (ref.get("std") or 1.0)
    if abs(delta) < 0.25 * (ref.get("std") or 0.0) and (spread_ratio > 1.3 or spread_ratio < 1 / 1.3):
        change = "widened" if spread_ratio > 1 else "narrowed"
        return (
            f"{_subject(f)} spread {change}: standard deviation {_value(ref['std'], decimals, unit)} at "
            f"training, {_value(win['std'], decimals, unit)} now {tag}"
        )
    direction = "rose" if delta > 0 else "fell"
    return (
        f"{_subject(f)} {direction} by {_value(abs(delta), decimals, unit)} on average, from "
        f"{_value(ref['mean'], decimals, unit)} to {_value(win['mean'], decimals, unit)} {tag}"
    )


def _categorical(f: Finding) -> str:
    ref: dict[str, float] = f.details["reference"]
    win: dict[str, float] = f.details["window"]
    tag = f"(chi² {_p(f.p_value)}, JS {f.details['js']:.2f})" if math.isfinite(f.details["js"]) else ""
    new = [c for c in f.details.get("new", []) if win.get(c, 0.0) > 0]
    if f.drifted and new:
        share = sum(win[c] for c in new)
        shown = ", ".join(repr(c) for c in new[:3]) + (f" and {len(new) - 3} more" if len(new) > 3 else "")
        return f"{_subject(f)}: value(s) never seen at training: {shown} ({percent(share)} of rows) {tag}"
    if not ref:
        return f"{_subject(f)}: no categories to compare"
    top = max(ref, key=lambda c: abs(win.get(c, 0.0) - ref[c]))
    moved = f"{_subject(f)} {top} went from {percent(ref[top])} to {percent(win.get(top, 0.0))}"
    if not f.drifted:
        return f"{_subject(f)} unchanged: the largest change, {top}, from {percent(ref[top])} to " \
               f"{percent(win.get(top, 0.0))} {tag}"
    return f"{moved} {tag}"


def _embedding(f: Finding) -> str:
    what = f.details.get("of", "inputs")
    auc = f.details.get("auc")
    if not math.isfinite(f.p_value) or auc is None:
        return f"{what} in {f.name!r}: too few rows to compare their embeddings"
    tag = f"(classifier AUC {auc:.2f}, MMD {_p(f.p_value)})"
    if not f.drifted:
        return f"{what} in {f.name!r} read like the training {what} {tag}"
    return (
        f"{what} in {f.name!r} differ from the training {what}: a classifier tells them apart "
        f"with AUC {auc:.2f}; their mean embedding moved {f.details['relative_shift']:.2f} of the "
        f"training spread {tag}"
    )


def _together(f: Finding) -> str:
    if f.test == "domain_classifier":
        auc: Any = f.details.get("auc")
        if auc is None:
            return "the inputs together: too few rows to compare"
        if not f.drifted:
            return f"the inputs together look like training (classifier AUC {auc:.2f})"
        return (
            f"the inputs together differ from training: a classifier tells window rows from "
            f"training rows with AUC {auc:.2f} (cross-validated)"
        )
    ratio = f.details.get("ratio")
    if ratio is None:
        return "relations between inputs: too few rows to compare"
    if not f.drifted:
        return f"relations between inputs hold (PCA reconstruction error {ratio:.2f} x training)"
    return (
        f"relations between inputs changed: rows are {ratio:.1f} times farther from the training "
        f"correlations (PCA reconstruction error, {_p(f.p_value)})"
    )
