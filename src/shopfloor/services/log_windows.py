"""Windows of a model version's prediction log: of time (``1d``: the last ``windows`` days up to
``until``) or of a number of logged predictions (``5000``: the newest ``windows`` x 5000, the
oldest window possibly short). Live performance and drift over time cut the log the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from shopfloor.context import Platform
from shopfloor.errors import InvalidInput
from shopfloor.registry.entities import ModelVersion
from shopfloor.registry.log_entities import LoggedPrediction
from shopfloor.serving.log_reading import read_pages

#: Logged predictions read per call at most.
MAX_READ = 500_000
MAX_WINDOWS = 200
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_TIME = re.compile(r"([1-9][0-9]{0,5})([smhdw])")
_COUNT = re.compile(r"[1-9][0-9]{0,6}")

Bounds = tuple[datetime | None, datetime | None]


@dataclass(frozen=True)
class Window:
    """``count`` predictions per window, or ``seconds`` of time per window."""

    text: str
    count: int | None = None
    seconds: int | None = None

    def view(self) -> dict[str, object]:
        return {"text": self.text, "count": self.count, "seconds": self.seconds}


def parse_window(text: str) -> Window:
    """``1h``, ``7d`` (time: s, m, h, d, w, at least a minute) or ``5000`` (logged predictions)."""
    found = _TIME.fullmatch(text or "")
    if found:
        seconds = int(found.group(1)) * _UNITS[found.group(2)]
        if seconds >= 60:
            return Window(text, seconds=seconds)
    elif _COUNT.fullmatch(text or "") and int(text) >= 10:
        return Window(text, count=int(text))
    raise InvalidInput(
        f"window {text!r}: give a time span (e.g. 1h, 1d, 7d; at least 1m) or a number of logged "
        "predictions per window (at least 10)",
        errors=[{"loc": ["query", "window"], "msg": "e.g. 1d or 5000"}],
    )


def check_windows(windows: int, most: int = MAX_WINDOWS) -> None:
    if not 1 <= windows <= most:
        raise InvalidInput(
            f"windows: 1 to {most}, not {windows}",
            errors=[{"loc": ["query", "windows"], "msg": f"1 to {most}"}],
        )


def resolve_windows(
    platform: Platform,
    tenant: str,
    name: str,
    version: int | str | None,
    window: str,
    windows: int,
    most: int = MAX_WINDOWS,
) -> tuple[Window, ModelVersion]:
    """How a request cuts the version's log, checked, and the version it names: 422 for a window
    :func:`parse_window` refuses or a count of windows outside 1 to ``most``, 404 for no such version."""
    span, mv = parse_window(window), platform.models.resolve(tenant, name, version)
    check_windows(windows, most)
    return span, mv


def log_windows(
    platform: Platform,
    tenant: str,
    name: str,
    version: int,
    span: Window,
    windows: int,
    until: datetime | None = None,
    most: int = MAX_READ,
) -> tuple[list[list[LoggedPrediction]], list[Bounds]]:
    """The logged predictions of each window (failed calls apart), oldest window first, and each
    window's time span; the newest window ends at ``until`` (default: now); at most ``most``
    predictions are read."""
    store = platform.store
    until = until or datetime.now(UTC)
    if span.count is not None:
        wanted = min(span.count * windows, most)
        newest = read_pages(
            lambda after, n: store.list_logged(
                tenant, name, version=version, until=until, after=after, newest_first=True, limit=n
            ),
            wanted,
        )
        refs = newest[::-1]
        cuts = list(range(len(refs), 0, -span.count))[::-1]
        starts = [max(0, c - span.count) for c in cuts]
        counted = [refs[s:c] for s, c in zip(starts, cuts, strict=True)]
        return counted, [(g[0].at, g[-1].at) for g in counted]
    assert span.seconds is not None  # noqa: S101 - parse_window gives one or the other
    size = timedelta(seconds=span.seconds)
    since = until - size * windows
    refs = read_pages(
        lambda after, n: store.list_logged(
            tenant, name, version=version, since=since, until=until, after=after, limit=n
        ),
        most,
    )
    groups: list[list[LoggedPrediction]] = [[] for _ in range(windows)]
    for ref in refs:
        k = min(int((ref.at - since) / size), windows - 1)
        groups[k].append(ref)
    return groups, [(since + size * k, since + size * (k + 1)) for k in range(windows)]
