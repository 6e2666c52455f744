"""PNG charts of a model version's evaluation: confusion matrix, importance, stability, candidates.

Pure rendering: every function takes plain numbers (from the stored report or computed
from explanations) and returns PNG bytes. matplotlib is imported inside the functions,
with the Agg backend, and figures are built with the object API (no pyplot), so
rendering keeps no global state and is safe from the API's worker threads.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from shopfloor.evaluation.metrics import TOTALS, greater_is_better

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: the kinds of chart, in the order the API lists them
KINDS = ("confusion", "importance", "stability", "candidates", "horizon")
#: at most this many bars in the importance chart (the rest are summed up in the title)
MAX_FEATURES = 25
DPI = 110
ACCENT = "#d95f02"
BASE = "#7f8c99"
MAIN = "#1b6ca8"

_SPACE_LABELS = {
    "log_odds": "log-odds",
    "probability": "probability",
    "value": "target units",
}


def figure(width: float, height: float) -> Figure:
    """A new figure of ``width`` x ``height`` inches on the Agg canvas (no pyplot, no global state)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def png(fig: Figure) -> bytes:
    """``fig`` rendered as PNG bytes, on white."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, facecolor="white")
    return buf.getvalue()


def fmt(value: float | None, digits: int = 3) -> str:
    """A figure for a title or label: ``digits`` decimals, ``n/a`` for None, NaN or infinity."""
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def confusion_png(
    matrix: Sequence[Sequence[int]],
    labels: Sequence[Any],
    *,
    threshold: float | None = None,
    f1: float | None = None,
    title: str = "Confusion matrix (held-out split)",
) -> bytes:
    """The confusion matrix (rows: actual, columns: predicted) with the count in every cell.

    ``threshold`` is the tuned binary decision threshold (``None``: arg-max, multiclass);
    ``f1`` is the held-out F1 (macro-F1 for multiclass). Both go in the title.
    """
    import numpy as np

    counts = np.asarray(matrix, dtype=float)
    n = len(labels)
    if counts.shape != (n, n):
        raise ValueError(f"confusion matrix of shape {counts.shape} does not match {n} labels")
    side = max(4.2, 1.0 + 0.9 * n)
    fig = figure(side + 1.2, side)
    ax = fig.add_subplot()
    image = ax.imshow(counts, cmap="Blues", vmin=0)
    fig.colorbar(image, ax=ax, shrink=0.8, label="rows (count)")
    top = counts.max(initial=0.0)
    total = counts.sum()
    fontsize = 12 if n <= 4 else 9 if n <= 10 else 7
    for i in range(n):
        for j in range(n):
            value = counts[i, j]
            share = f"\n{value / total:.0%}" if total and n <= 6 else ""
            ax.text(
                j,
                i,
                f"{int(value)}{share}",
                ha="center",
                va="center",
                fontsize=fontsize,
                color="white" if top and value > top / 2 else "black",
            )
    names = [str(label) for label in labels]
    tilt = max(map(len, names), default=0) > 6  # long class names would overlap side by side
    ax.set_xticks(range(n), names, rotation=30 if tilt else 0, ha="right" if tilt else "center")
    ax.set_yticks(range(n), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("actual")
    rule = f"threshold {fmt(threshold, 2)}" if threshold is not None else "arg-max decision"
    f1_name = "F1" if n == 2 else "macro-F1"
    ax.set_title(f"{title}\n{rule} · {f1_name} {fmt(f1)} · n = {int(total)}", fontsize=11)
    return png(fig)


def importance_png(
    importance: Mapping[str, float],
    *,
    output_space: str = "value",
    n_rows: int | None = None,
    title: str = "Global feature importance",
) -> bytes:
    """Horizontal bars of mean |SHAP contribution| per input column, largest on top.

    ``output_space`` is the space the contributions are in (``log_odds``, ``probability``
    or ``value``) and labels the axis; ``n_rows`` (the rows averaged) goes in the title.
    Only the :data:`MAX_FEATURES` largest are drawn.
    """
    ranked = sorted(importance.items(), key=lambda kv: kv[1], reverse=True)
    shown = ranked[:MAX_FEATURES][::-1]  # barh draws bottom-up: largest last = on top
    longest = max((len(name) for name, _ in shown), default=4)
    fig = figure(5.2 + 0.075 * min(longest, 60), 1.6 + 0.3 * max(len(shown), 3))
    ax = fig.add_subplot()
    names = [shorten(name) for name, _ in shown]
    values = [float(v) for _, v in shown]
    bars = ax.barh(range(len(shown)), values, color=MAIN)
    ax.set_yticks(range(len(shown)), names)
    ax.set_ylim(-0.6, len(shown) - 0.4)
    ax.bar_label(bars, labels=[f"{v:.3g}" for v in values], padding=3, fontsize=8)
    ax.margins(x=0.15)
    space = _SPACE_LABELS.get(output_space, output_space)
    ax.set_xlabel(f"mean |SHAP contribution| ({space})")
    notes = [f"mean over {n_rows} background rows"] if n_rows else []
    if len(ranked) > len(shown):
        notes.append(f"top {len(shown)} of {len(ranked)} columns")
    ax.set_title("\n".join([title, " · ".join(notes)]) if notes else title, fontsize=11)
    ax.spines[["top", "right"]].set_visible(False)
    return png(fig)


def stability_panels(
    spread: Mapping[str, Mapping[str, Any]], holdout: Mapping[str, Any]
) -> list[tuple[str, list[str], dict[str, float]]]:
    """What the stability chart draws: ``(title, metrics, {metric: held-out value})`` per panel.

    Directions come from :func:`~shopfloor.evaluation.metrics.greater_is_better`. Scores share
    one panel; each loss gets its own (their units differ: cycles, probabilities, penalties).
    A held-out value is shown only where it is on the scale of the per-split values: a metric
    summed over assets (:data:`~shopfloor.evaluation.metrics.TOTALS`) is replaced by its mean
    per asset when the report has it, and otherwise drawn without its held-out total.
    """
    names = [m for m, s in spread.items() if finite(s.get("mean"))]
    names = [m for m in names if not (m in TOTALS and TOTALS[m] in names)]
    held = {m: float(holdout[m]) for m in names if finite(holdout.get(m)) and m not in TOTALS}
    scores = [m for m in names if greater_is_better(m)]
    panels = []
    if scores:
        panels.append(("scores (higher is better)", scores, {m: held[m] for m in scores if m in held}))
    for m in names:
        if greater_is_better(m):
            continue
        note = " · sum per split; the held-out total is on another scale" if m in TOTALS else ""
        panels.append((f"{_label(m)} (lower is better){note}", [m], {m: held[m]} if m in held else {}))
    return panels


def stability_png(
    spread: Mapping[str, Mapping[str, Any]],
    holdout: Mapping[str, Any],
    *,
    n_splits: int | None = None,
    title: str = "Stability across seeded splits",
) -> bytes:
    """Each metric's mean ± std over the seeded splits (and each split's value), the held-out value
    marked where it compares (see :func:`stability_panels`).

    ``spread`` is ``{metric: {"mean", "std", "values"}}`` (``report["stability"]["metrics"]``),
    ``holdout`` the held-out metrics.
    """
    panels = stability_panels(spread, holdout)
    if not panels:
        raise ValueError("no finite metric to plot")
    rows = sum(len(m) for _, m, _ in panels)
    fig = figure(7.5, 1.4 + 0.42 * rows + 0.75 * len(panels))
    ratios = [len(m) + 0.6 for _, m, _ in panels]
    axes = fig.subplots(len(panels), 1, squeeze=False, height_ratios=ratios)[:, 0]
    for ax, (label, metrics, held) in zip(axes, panels, strict=True):
        metrics = metrics[::-1]  # first metric on top
        ys = range(len(metrics))
        means = [float(spread[m]["mean"]) for m in metrics]
        stds = [float(spread[m].get("std") or 0.0) for m in metrics]
        for y, m in enumerate(metrics):
            values = [float(v) for v in spread[m].get("values") or [] if finite(v)]
            ax.scatter(values, [y] * len(values), s=12, color=BASE, alpha=0.6, zorder=2,
                       label="each split" if y == 0 else None)
        ax.errorbar(
            means, ys, xerr=stds, fmt="o", color=MAIN, ecolor=MAIN, capsize=4, label="mean ± std over splits"
        )
        marks = [(held[m], y) for y, m in enumerate(metrics) if m in held]
        if marks:
            ax.scatter([h for h, _ in marks], [y for _, y in marks], marker="D", color=ACCENT, zorder=3,
                       label="held-out split")
        ax.set_yticks(list(ys), [_label(m) for m in metrics])
        ax.set_ylim(-0.6, len(metrics) - 0.4)
        ax.set_title(label, fontsize=9, loc="left")
        ax.grid(axis="x", alpha=0.3)
        ax.spines[["top", "right"]].set_visible(False)
        if label.startswith("scores") and all(0.0 <= v <= 1.0 for v in means):
            ax.set_xlim(min(0.5, min(m - s for m, s in zip(means, stds, strict=True)) - 0.05), 1.02)
    # Outside the axes: inside, it would cover points wherever the metrics happen to fall.
    legend: dict[str, Any] = {}
    for ax in axes:
        for handle, name in zip(*ax.get_legend_handles_labels(), strict=True):
            legend.setdefault(name, handle)
    fig.legend(
        list(legend.values()), list(legend), loc="outside lower center", ncols=3, fontsize=8, frameon=False
    )
    splits = f" ({n_splits} splits)" if n_splits else ""
    fig.suptitle(f"{title}{splits}", fontsize=11)
    return png(fig)


def _label(metric: str) -> str:
    return metric.replace("_", " ")


def candidates_png(
    candidates: Sequence[Mapping[str, Any]],
    *,
    metric: str | None = None,
    title: str = "Model candidates (cross-validation)",
) -> bytes:
    """One bar per candidate: its cross-validation score ± std over folds; the chosen one highlighted.

    ``candidates`` are ``{"name", "cv_score", "cv_std", "chosen"}`` rows
    (``report["candidates"]``); ``metric`` names the score on the axis.
    """
    rows = [c for c in candidates if finite(c.get("cv_score"))][::-1]
    if not rows:
        raise ValueError("no candidate with a finite cross-validation score")
    longest = max(len(str(c.get("name"))) for c in rows)
    fig = figure(4.8 + 0.075 * min(longest, 60), 1.5 + 0.4 * max(len(rows), 3))
    ax = fig.add_subplot()
    scores = [float(c["cv_score"]) for c in rows]
    stds = [float(c.get("cv_std") or 0.0) if finite(c.get("cv_std")) else 0.0 for c in rows]
    colors = [ACCENT if c.get("chosen") else BASE for c in rows]
    names = [shorten(str(c.get("name"))) + ("  (chosen)" if c.get("chosen") else "") for c in rows]
    bars = ax.barh(range(len(rows)), scores, xerr=stds, color=colors, capsize=4, ecolor="#333333")
    ax.bar_label(bars, labels=[f"{v:.3f}" for v in scores], padding=6, fontsize=8)
    ax.set_yticks(range(len(rows)), names)
    for tick, c in zip(ax.get_yticklabels(), rows, strict=True):
        if c.get("chosen"):
            tick.set_fontweight("bold")
    ax.margins(x=0.18)
    direction = " (lower is better)" if metric and not greater_is_better(metric) else ""
    ax.set_xlabel(f"cross-validation {metric or 'score'} ± std over folds{direction}")
    ax.set_title(title, fontsize=11)
    ax.spines[["top", "right"]].set_visible(False)
    return png(fig)


def horizon_png(candidates: Sequence[Mapping[str, Any]], *, title: str = "Error by step ahead") -> bytes:
    """Forecast models: each candidate's backtest MASE per step ahead, the chosen one highlighted and
    seasonal naive (the reference) dashed. ``candidates`` are report rows with ``mase_by_step``."""
    rows = [c for c in candidates if c.get("mase_by_step")]
    if not rows:
        raise ValueError("no candidate with errors per step")
    fig = figure(6.4, 3.8)
    ax = fig.add_subplot()
    for c in sorted(rows, key=lambda r: bool(r.get("chosen"))):  # the chosen line drawn last, on top
        steps = range(1, len(c["mase_by_step"]) + 1)
        chosen, naive = bool(c.get("chosen")), c.get("name") == "seasonal_naive"
        ax.plot(
            steps,
            c["mase_by_step"],
            marker="o",
            markersize=3,
            linewidth=2.4 if chosen else 1.2,
            linestyle="--" if naive else "-",
            color=ACCENT if chosen else ("#555555" if naive else None),
            alpha=1.0 if chosen or naive else 0.6,
            label=shorten(str(c["name"])) + ("  (chosen)" if chosen else ""),
        )
    ax.set_xlabel("periods ahead")
    ax.set_ylabel("backtest MASE (lower is better)")
    ax.set_title(title, fontsize=11)
    ax.legend(fontsize=7, frameon=False, loc="upper left")
    ax.spines[["top", "right"]].set_visible(False)
    return png(fig)


def finite(value: Any) -> bool:
    """Whether ``value`` is a real, finite number (not a bool, not None, not NaN)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def shorten(name: str, limit: int = 40) -> str:
    """``name`` cut to ``limit`` characters with an ellipsis (labels of bars and legends)."""
    return name if len(name) <= limit else name[: limit - 1] + "…"
