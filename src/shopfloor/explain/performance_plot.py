"""PNG chart of a model version's live performance: one panel per metric, realised per window
(from the outcomes fed back), estimated without outcomes where available, and the training
report's figure as a line. Pure rendering from the plain numbers of the performance service."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shopfloor.explain.plots import ACCENT, BASE, MAIN, figure, finite, fmt, png


def _label(window: Mapping[str, Any], i: int, by_count: bool) -> str:
    start = window.get("start")
    if by_count or start is None or not hasattr(start, "strftime"):
        return str(i + 1)
    return str(start.strftime("%m-%d %H:%M"))


def performance_png(found: Mapping[str, Any], *, title: str | None = None) -> bytes:
    """``found`` is the answer of ``services.performance.performance``: ``metrics``, ``baseline``,
    ``windows`` (each with ``realised`` and ``estimated`` figures, ``predictions`` and ``outcomes``)."""
    windows = list(found["windows"])
    by_count = found["window"].get("count") is not None
    metrics = list(found["metrics"])
    estimated = found["estimation"]["available"]
    panels = [*metrics, *(["f1 (estimated)"] if estimated and "f1" not in metrics else [])]
    fig = figure(8.0, 1.2 + 2.1 * len(panels) + 1.0)
    axes = fig.subplots(len(panels) + 1, 1, squeeze=False, sharex=True)[:, 0]
    xs = list(range(len(windows)))
    for ax, metric in zip(axes, panels, strict=False):
        name = metric.split(" ")[0]
        real = [(x, (w.get("realised") or {}).get(name)) for x, w in zip(xs, windows, strict=True)]
        real = [(x, v) for x, v in real if finite(v)]
        if real:
            ax.plot([x for x, _ in real], [v for _, v in real], "o-", color=MAIN, label="realised (outcomes)")
        if estimated and name in ("f1",):
            est = [(x, (w.get("estimated") or {}).get(name)) for x, w in zip(xs, windows, strict=True)]
            est = [(x, v) for x, v in est if finite(v)]
            ax.plot([x for x, _ in est], [v for _, v in est], "s--", color=ACCENT, label="estimated (CBPE)")
        base = found["baseline"].get(name)
        if finite(base):
            ax.axhline(float(base), color=BASE, linestyle=":", label=f"training report {fmt(base)}")
        direction = "lower is better" if name in found.get("lower_is_better", ()) else "higher is better"
        ax.set_title(f"{name.replace('_', ' ')} ({direction})", fontsize=9, loc="left")
        ax.grid(alpha=0.3)
        ax.spines[["top", "right"]].set_visible(False)
        ax.legend(fontsize=7, frameon=False, loc="best")
    counts = axes[-1]
    counts.bar(xs, [w["predictions"] for w in windows], color=BASE, alpha=0.5, label="logged predictions")
    counts.bar(xs, [w["outcomes"] for w in windows], color=MAIN, alpha=0.8, label="with outcomes")
    counts.set_title("predictions per window", fontsize=9, loc="left")
    counts.legend(fontsize=7, frameon=False, loc="best")
    counts.spines[["top", "right"]].set_visible(False)
    ticks = xs if len(xs) <= 24 else xs[:: max(1, len(xs) // 12)]
    names = [_label(windows[x], x, by_count) for x in ticks]
    counts.set_xticks(ticks, names, rotation=30, ha="right", fontsize=7)
    span = found["window"]["text"]
    counts.set_xlabel(f"window of {span} logged predictions" if by_count else f"window of {span} (start)")
    name = f"Live performance of {found['model']} version {found['version']} ({found['task']})"
    fig.suptitle(title or name, fontsize=11)
    return png(fig)
