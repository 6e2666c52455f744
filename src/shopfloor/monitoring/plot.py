"""PNG charts of drift: training against window for the variables that moved most, and drift over time.

Pure rendering on :mod:`shopfloor.explain.plots`'s figure helpers (Agg canvas, no pyplot, safe from
worker threads): each function takes findings or plain numbers and returns PNG bytes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from shopfloor.explain.plots import ACCENT, BASE, MAIN, figure, png, shorten
from shopfloor.monitoring.compare import Finding

#: Categories drawn per categorical variable (the largest shares on either side).
MAX_BARS = 10
#: Variables drawn as lines in the drift-over-time chart (those that moved most at any time).
MAX_LINES = 6
BINS = 30


@dataclass(frozen=True)
class TimelinePoint:
    """One window in a drift-over-time chart: its label (rows, a period), the distance of each
    variable and whether the window drifted."""

    label: str
    distances: Mapping[str, float]
    drifted: bool


def _heading(f: Finding) -> str:
    verdict = "drifted" if f.drifted else "stable"
    test = f.test.replace("_", " ")
    measured = f"{test} distance {f.distance:.2f}" if math.isfinite(f.distance) else "not tested"
    return f"{shorten(f.name, 48)}\n{measured} · {verdict}"


def distributions_png(findings: Sequence[Finding], *, title: str = "Training against window") -> bytes:
    """One panel per finding: the training distribution (grey) against the window's (orange);
    numbers as histograms, categories as bars of their shares, embeddings and the inputs together
    as the distribution of a domain classifier's scores (or of reconstruction errors)."""
    if not findings:
        raise ValueError("no finding to draw")
    cols = 2 if len(findings) > 1 else 1
    rows = -(-len(findings) // cols)
    fig = figure(5.2 * cols, 0.6 + 2.9 * rows)
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax, f in zip(axes, findings, strict=False):
        if f.kind == "categorical":
            _bars(ax, f.plot)
        elif f.plot.get("reference") is not None and len(f.plot.get("window", ())):
            _histograms(ax, np.asarray(f.plot["reference"], float), np.asarray(f.plot["window"], float))
            ax.set_xlabel(f.plot.get("axis") or _unit_label(f), fontsize=8)
        else:
            ax.text(0.5, 0.5, "no values to compare", ha="center", va="center", transform=ax.transAxes)
        ax.set_title(_heading(f), fontsize=9, color=ACCENT if f.drifted else "black", loc="left")
        ax.spines[["top", "right"]].set_visible(False)
        ax.tick_params(labelsize=8)
    for ax in axes[len(findings):]:
        ax.set_visible(False)
    from matplotlib.patches import Patch

    fig.legend(
        [Patch(color=BASE, alpha=0.55), Patch(color=ACCENT, alpha=0.8)],
        ["training", "window"],
        loc="outside lower center",
        ncols=2,
        fontsize=8,
        frameon=False,
    )
    fig.suptitle(_wrap(title), fontsize=10)
    return png(fig)


def _unit_label(f: Finding) -> str:
    unit = f.details.get("unit")
    return f"{f.name}" if not unit else f"value ({unit})"


def _histograms(ax: Any, reference: np.ndarray, window: np.ndarray) -> None:
    both = np.concatenate([reference, window])
    both = both[np.isfinite(both)]
    if len(both) == 0:
        return
    lo, hi = np.quantile(both, [0.005, 0.995])
    if hi <= lo:
        lo, hi = float(both.min()) - 0.5, float(both.max()) + 0.5
    edges = np.linspace(lo, hi, BINS + 1)
    ax.hist(np.clip(reference, lo, hi), bins=edges, density=True, color=BASE, alpha=0.55)
    ax.hist(np.clip(window, lo, hi), bins=edges, density=True, histtype="step", color=ACCENT, linewidth=1.8)
    ax.set_ylabel("density", fontsize=8)


def _bars(ax: Any, data: Mapping[str, Any]) -> None:
    names = list(data.get("names") or [])
    ref, win = np.asarray(data.get("reference", []), float), np.asarray(data.get("window", []), float)
    if not names:
        return
    order = np.argsort(-np.maximum(ref, win))[:MAX_BARS]
    x = np.arange(len(order))
    ax.bar(x - 0.2, ref[order], width=0.4, color=BASE, alpha=0.55)
    ax.bar(x + 0.2, win[order], width=0.4, color=ACCENT, alpha=0.8)
    labels = [shorten(str(names[i]), 14) for i in order]
    ax.set_xticks(x, labels, rotation=30 if max(map(len, labels)) > 4 else 0, ha="right")
    ax.set_ylabel("share of rows", fontsize=8)


def timeline_png(
    points: Sequence[TimelinePoint], *, min_distance: float, title: str = "Drift over time"
) -> bytes:
    """Each variable's distance per window (the :data:`MAX_LINES` that moved most), the distance
    threshold dashed and the drifted windows shaded."""
    if not points:
        raise ValueError("no window to draw")
    names: dict[str, float] = {}
    for p in points:
        for name, d in p.distances.items():
            if math.isfinite(d):
                names[name] = max(names.get(name, 0.0), d)
    shown = sorted(names, key=lambda n: -names[n])[:MAX_LINES]
    fig = figure(max(6.0, 0.6 * len(points) + 3.0), 4.0)
    ax = fig.add_subplot()
    x = np.arange(len(points))
    for k, p in enumerate(points):
        if p.drifted:
            ax.axvspan(k - 0.5, k + 0.5, color=ACCENT, alpha=0.12, linewidth=0)
    for name in shown:
        values = [p.distances.get(name, math.nan) for p in points]
        ax.plot(x, values, marker="o", markersize=3, linewidth=1.4, label=shorten(name, 36))
    ax.axhline(min_distance, color=MAIN, linestyle="--", linewidth=1, label=f"threshold {min_distance:g}")
    labels = [shorten(p.label, 18) for p in points]
    ax.set_xticks(x, labels, rotation=30 if len(points) > 4 else 0, ha="right")
    ax.set_ylabel("distance from training (0 to 1)")
    ax.set_ylim(0, max(1e-3, min(1.0, max([*names.values(), min_distance]) * 1.15)))
    ax.legend(fontsize=7, frameon=False, loc="upper left")
    ax.spines[["top", "right"]].set_visible(False)
    ax.set_title(_wrap(f"{title} (shaded: window drifted)"), fontsize=10)
    return png(fig)


def _wrap(text: str, width: int = 100) -> str:
    words, lines, line = text.split(), [], ""
    for word in words:
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return "\n".join([*lines, line])
