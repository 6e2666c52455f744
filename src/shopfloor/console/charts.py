"""Small charts drawn here as SVG and sent as ``data:`` images: no chart library, no script, and
text from users cannot become markup (every label is escaped, and an image runs nothing)."""

from __future__ import annotations

import base64
import math
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

#: Colours with at least 4.5:1 contrast on white: a rise, a fall, neutral bars, bands.
UP, DOWN, BAR, BAND, LINE = "#b3261e", "#1a5fb4", "#3d6b35", "#c9d7ee", "#1f3a5f"
FONT = 'font-family="system-ui, sans-serif" font-size="11"'


def svg_uri(svg: str) -> str:
    """SVG text as a ``data:`` image (an image runs nothing, whatever the text holds)."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


def _svg(width: int, height: int, body: str, label: str) -> str:
    return svg_uri(
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img"><title>{escape(label)}</title>{body}</svg>'
    )


def _short(text: str, n: int = 22) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _fmt(value: float) -> str:
    return f"{value:.3g}" if abs(value) < 1e5 else f"{value:.2e}"


def bars(items: Sequence[tuple[str, float]], *, label: str, width: int = 260) -> str:
    """Horizontal bars of counts or sizes (largest first as given)."""
    items = list(items)[:12]
    top = max((v for _, v in items), default=0.0) or 1.0
    row, left = 16, 110
    body = []
    for i, (name, value) in enumerate(items):
        y = i * row
        w = max(1.0, (width - left - 40) * value / top)
        body.append(
            f'<text x="{left - 4}" y="{y + 11}" text-anchor="end" {FONT}>{escape(_short(name, 18))}</text>'
            f'<rect x="{left}" y="{y + 2}" width="{w:.1f}" height="{row - 4}" fill="{BAR}"/>'
            f'<text x="{left + w + 3:.1f}" y="{y + 11}" {FONT}>{_fmt(value)}</text>'
        )
    return _svg(width, max(row, row * len(items)), "".join(body), label)


def signed_bars(contributions: Mapping[str, float], *, label: str, width: int = 420, top: int = 12) -> str:
    """Signed contributions around zero, strongest first: a rise to the right in red, a fall to the
    left in blue, the value at each bar's end."""
    items = sorted(contributions.items(), key=lambda kv: -abs(kv[1]))[:top]
    peak = max((abs(v) for _, v in items), default=0.0) or 1.0
    row, left = 18, 150
    mid = left + (width - left) / 2
    half = (width - left) / 2 - 40
    body = [f'<line x1="{mid}" y1="0" x2="{mid}" y2="{row * len(items)}" stroke="#555"/>']
    for i, (name, value) in enumerate(items):
        y = i * row
        w = half * abs(value) / peak
        x = mid if value >= 0 else mid - w
        colour = UP if value >= 0 else DOWN
        tx = mid + w + 3 if value >= 0 else mid - w - 3
        anchor = "start" if value >= 0 else "end"
        body.append(
            f'<text x="{left - 6}" y="{y + 12}" text-anchor="end" {FONT}>{escape(_short(name))}</text>'
            f'<rect x="{x:.1f}" y="{y + 3}" width="{max(w, 1):.1f}" height="{row - 6}" fill="{colour}"/>'
            f'<text x="{tx:.1f}" y="{y + 12}" text-anchor="{anchor}" {FONT}>{value:+.3g}</text>'
        )
    return _svg(width, max(row, row * len(items)), "".join(body), label)


def spread(stats: Mapping[str, Any], *, label: str, width: int = 260) -> str:
    """A numeric column's range as a line from minimum to maximum, the band of mean ± one standard
    deviation, and the median as a tick."""
    lo, hi = float(stats["min"]), float(stats["max"])
    span = (hi - lo) or 1.0

    def x(v: float) -> float:
        return 10 + (width - 20) * (min(max(v, lo), hi) - lo) / span

    mean, std, median = (float(stats.get(k) or 0.0) for k in ("mean", "std", "median"))
    body = (
        f'<line x1="{x(lo):.1f}" y1="14" x2="{x(hi):.1f}" y2="14" stroke="#555"/>'
        f'<rect x="{x(mean - std):.1f}" y="7" width="{max(x(mean + std) - x(mean - std), 1):.1f}" '
        f'height="14" fill="{BAND}" stroke="{LINE}"/>'
        f'<line x1="{x(median):.1f}" y1="4" x2="{x(median):.1f}" y2="24" stroke="{UP}" stroke-width="2"/>'
        f'<text x="10" y="38" {FONT}>{_fmt(lo)}</text>'
        f'<text x="{width - 10}" y="38" text-anchor="end" {FONT}>{_fmt(hi)}</text>'
    )
    return _svg(width, 42, body, label)


def lines(
    x: Sequence[float],
    series: Mapping[str, Sequence[float | None]],
    *,
    label: str,
    band: tuple[Sequence[float], Sequence[float]] | None = None,
    band_x: Sequence[float] | None = None,
    marks: Sequence[tuple[float, float]] = (),
    width: int = 640,
    height: int = 220,
) -> str:
    """Lines over a shared x axis, an optional shaded band (an interval) over ``band_x``, and
    shaded x-ranges ``marks`` (events). The first series is drawn darkest."""
    values = [v for s in series.values() for v in s if v is not None and math.isfinite(v)]
    if band is not None:
        values += [v for v in (*band[0], *band[1]) if math.isfinite(v)]
    xs = [*x, *(band_x or [])]
    if not values or not xs:
        return _svg(width, 30, f'<text x="4" y="18" {FONT}>no data</text>', label)
    lo, hi = min(values), max(values)
    hi = hi if hi > lo else lo + 1.0
    x0, x1 = min(xs), max(xs)
    x1 = x1 if x1 > x0 else x0 + 1.0
    pad_l, pad_b = 48, 20

    def px(v: float) -> float:
        return pad_l + (width - pad_l - 8) * (v - x0) / (x1 - x0)

    def py(v: float) -> float:
        return 6 + (height - pad_b - 12) * (1 - (v - lo) / (hi - lo))

    body = []
    for a, b in marks:
        body.append(
            f'<rect x="{px(a):.1f}" y="4" width="{max(px(b) - px(a), 2):.1f}" '
            f'height="{height - pad_b - 6}" fill="#f6d3d0"/>'
        )
    if band is not None and band_x:
        top = " ".join(f"{px(t):.1f},{py(v):.1f}" for t, v in zip(band_x, band[1], strict=False))
        under = reversed(list(zip(band_x, band[0], strict=False)))
        bottom = " ".join(f"{px(t):.1f},{py(v):.1f}" for t, v in under)
        body.append(f'<polygon points="{top} {bottom}" fill="{BAND}"/>')
    colours = (LINE, UP, BAR, DOWN)
    for k, (name, ys) in enumerate(series.items()):
        points = " ".join(f"{px(t):.1f},{py(v):.1f}" for t, v in zip(x, ys, strict=False) if v is not None)
        body.append(f'<polyline points="{points}" fill="none" stroke="{colours[k % 4]}" stroke-width="1.5"/>')
        body.append(
            f'<text x="{pad_l + 4 + 110 * k}" y="{height - 4}" fill="{colours[k % 4]}" {FONT}>'
            f"{escape(_short(name, 16))}</text>"
        )
    body.append(
        f'<text x="{pad_l - 4}" y="12" text-anchor="end" {FONT}>{_fmt(hi)}</text>'
        f'<text x="{pad_l - 4}" y="{height - pad_b}" text-anchor="end" {FONT}>{_fmt(lo)}</text>'
    )
    return _svg(width, height, "".join(body), label)


def interval(result: Mapping[str, Any], *, width: int = 420) -> str:
    """A remaining-life estimate on a scale from zero: the 95 % interval as a thin line, the 80 %
    interval as a band, the estimate as a mark."""
    rul = float(result["rul"])
    lo95, hi95 = (float(v) for v in result.get("interval_95", [rul, rul]))
    lo80, hi80 = (float(v) for v in result.get("interval_80", [rul, rul]))
    top = max(hi95, rul, 1.0) * 1.1

    def x(v: float) -> float:
        return 10 + (width - 20) * max(v, 0.0) / top

    body = (
        f'<line x1="{x(lo95):.1f}" y1="16" x2="{x(hi95):.1f}" y2="16" stroke="{LINE}"/>'
        f'<rect x="{x(lo80):.1f}" y="9" width="{max(x(hi80) - x(lo80), 1):.1f}" height="14" fill="{BAND}" '
        f'stroke="{LINE}"/>'
        f'<line x1="{x(rul):.1f}" y1="4" x2="{x(rul):.1f}" y2="28" stroke="{UP}" stroke-width="3"/>'
        f'<text x="10" y="42" {FONT}>0</text>'
        f'<text x="{x(rul):.1f}" y="42" text-anchor="middle" {FONT}>{_fmt(rul)}</text>'
    )
    return _svg(width, 46, body, f"remaining life {rul:.3g}, 80 % interval {lo80:.3g} to {hi80:.3g}")
