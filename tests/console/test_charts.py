"""The console's charts: SVG drawn here and sent as data: images, with every label escaped."""

from __future__ import annotations

import base64
from xml.etree import ElementTree

from shopfloor.console.charts import bars, interval, lines, signed_bars, spread

XSS = '<script>alert("x")</script>'


def _svg(uri: str) -> ElementTree.Element:
    prefix = "data:image/svg+xml;base64,"
    assert uri.startswith(prefix)
    return ElementTree.fromstring(base64.b64decode(uri[len(prefix) :]))  # noqa: S314 - our own SVG


def _texts(root: ElementTree.Element) -> list[str]:
    return [t.text or "" for t in root.iter() if t.tag.endswith("text") or t.tag.endswith("title")]


def test_labels_from_users_stay_text() -> None:
    for uri in (
        bars([(XSS, 3.0), ("b", 1.0)], label=XSS),
        signed_bars({XSS: 0.5, "torque": -0.25}, label=XSS),
        lines([1, 2, 3], {XSS: [1.0, None, 2.0]}, label=XSS),
    ):
        root = _svg(uri)  # well-formed: the label did not break out of its element
        assert not any(el.tag.endswith("script") for el in root.iter())
        assert any("<script>" in t for t in _texts(root))


def test_signed_bars_put_rises_right_in_red_and_falls_left_in_blue() -> None:
    root = _svg(signed_bars({"up": 2.0, "down": -1.0, "tiny": 0.01}, label="why"))
    rects = [r for r in root.iter() if r.tag.endswith("rect")]
    up, down = rects[0], rects[1]  # strongest first
    assert up.get("fill") == "#b3261e" and down.get("fill") == "#1a5fb4"
    assert float(down.get("x")) < float(up.get("x"))
    assert "+2" in "".join(_texts(root)) and "-1" in "".join(_texts(root))


def test_spread_interval_and_empty_lines() -> None:
    stats = {"min": 0.0, "max": 10.0, "mean": 4.0, "std": 1.0, "median": 3.5}
    assert _svg(spread(stats, label="speed")).find("{http://www.w3.org/2000/svg}rect") is not None
    root = _svg(interval({"rul": 80.0, "interval_80": [60.0, 95.0], "interval_95": [50.0, 110.0]}))
    assert "remaining life 80" in "".join(_texts(root))
    assert "no data" in "".join(_texts(_svg(lines([], {}, label="nothing"))))
