"""PNG chart of a challenger's comparison with its champion: per time window, how far their answers
agreed, each side's headline live metric on the outcomes fed back, and how many records were compared.
Pure rendering from the plain numbers of the comparison report."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shopfloor.explain.plots import ACCENT, BASE, MAIN, figure, finite, fmt, png


def _points(windows: list[Mapping[str, Any]], field: str) -> tuple[list[int], list[float]]:
    found = [(x, w.get(field)) for x, w in enumerate(windows)]
    kept = [(x, float(v)) for x, v in found if v is not None and finite(v)]
    return [x for x, _ in kept], [v for _, v in kept]


def challenger_png(found: Mapping[str, Any]) -> bytes:
    """``found`` is the answer of ``services.challenger_report.report``: ``windows`` (each with
    ``start``, ``compared``, ``outcomes``, ``agreement`` and both sides' headline metric), the
    ``agreement`` and ``metrics`` totals, the versions compared and the recommendation."""
    windows = list(found["windows"])
    metric = found["metrics"].get("headline")
    fig = figure(8.0, 7.6 if metric else 5.6)
    axes = fig.subplots(3 if metric else 2, 1, squeeze=False, sharex=True)[:, 0]
    xs, ys = _points(windows, "agreement")
    agreed = axes[0]
    measure = str(found["agreement"]["measure"]).replace("_", " ")
    if xs:
        agreed.plot(xs, ys, "o-", color=MAIN, label=measure)
    total = found["agreement"].get("value")
    if finite(total):
        agreed.axhline(float(total), color=BASE, linestyle=":", label=f"whole span {fmt(total)}")
    closer = "lower is closer" if found["agreement"].get("lower_is_closer") else "higher is closer"
    agreed.set_title(f"agreement: {measure} ({closer})", fontsize=9, loc="left")
    panels = [agreed]
    if metric:
        ax = axes[1]
        for side, colour, marker in (("champion", BASE, "s--"), ("challenger", ACCENT, "o-")):
            xs, ys = _points(windows, side)
            if xs:
                version = found[side]
                ax.plot(xs, ys, marker, color=colour, label=f"{side} (version {version})")
        lower = metric in found["metrics"].get("lower_is_better", ())
        direction = "lower is better" if lower else "higher is better"
        title = f"{metric.replace('_', ' ')} on the outcomes fed back ({direction})"
        ax.set_title(title, fontsize=9, loc="left")
        panels.append(ax)
    for ax in panels:
        ax.grid(alpha=0.3)
        ax.spines[["top", "right"]].set_visible(False)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7, frameon=False, loc="best")
    counts = axes[-1]
    positions = list(range(len(windows)))
    counts.bar(positions, [w["compared"] for w in windows], color=BASE, alpha=0.5, label="records compared")
    counts.bar(positions, [w["outcomes"] for w in windows], color=MAIN, alpha=0.8, label="with outcomes")
    counts.set_title("records compared per window", fontsize=9, loc="left")
    counts.legend(fontsize=7, frameon=False, loc="best")
    counts.spines[["top", "right"]].set_visible(False)
    ticks = positions if len(positions) <= 24 else positions[:: max(1, len(positions) // 12)]
    labels = [windows[x]["start"].strftime("%m-%d %H:%M") for x in ticks]
    counts.set_xticks(ticks, labels, rotation=30, ha="right", fontsize=7)
    counts.set_xlabel(f"window of {found['window']['text']} (start)")
    advice = "promote" if found["recommendation"]["promote"] else "do not promote yet"
    fig.suptitle(
        f"{found['model']}: challenger version {found['challenger']} against champion version "
        f"{found['champion']} ({advice})",
        fontsize=11,
    )
    return png(fig)
