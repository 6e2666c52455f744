"""The SDK's part for deployed models watched: the prediction log (rate, export), feedback, live
performance and the tenant's retention. Mixed into :class:`shopfloor.client.Client`."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload
from urllib.parse import quote

if TYPE_CHECKING:
    import httpx

#: Outcomes per feedback call (the server's limit); longer lists are sent in several calls.
FEEDBACK_CHUNK = 10_000


def _seg(value: str | int) -> str:
    return quote(str(value), safe="")


def _query(**params: Any) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in params.items() if v is not None}


class MonitoringMixin:
    """Prediction log, feedback and live performance. Errors as for every :class:`Client` method."""

    if TYPE_CHECKING:

        def _json(self, method: str, path: str, **kwargs: Any) -> Any: ...
        def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response: ...
        def _download(self, path: str, target: Path, params: dict[str, Any] | None = None) -> Path: ...
        def _image(
            self, path: str, dest: str | Path | None, params: dict[str, Any] | None = None
        ) -> bytes | Path: ...

    def log_settings(self, name: str) -> dict[str, Any]:
        """The model's logging rate and the tenant's retention -> LogSettingsPublic."""
        return dict(self._json("GET", f"/v1/models/{_seg(name)}/prediction-log"))

    def set_log_rate(self, name: str, rate: float) -> dict[str, Any]:
        """Log ``rate`` (0: none, the default; 1: every prediction) of the model's predictions from now
        on, on every server -> LogSettingsPublic. Needs a builder or admin key."""
        return dict(self._json("PUT", f"/v1/models/{_seg(name)}/prediction-log", json={"rate": float(rate)}))

    @overload
    def export_predictions(
        self, name: str, dest: None = None, *, format: str = "jsonl", **filters: Any
    ) -> list[dict[str, Any]]: ...
    @overload
    def export_predictions(
        self, name: str, dest: str | Path, *, format: str = "jsonl", **filters: Any
    ) -> Path: ...

    def export_predictions(
        self, name: str, dest: str | Path | None = None, *, format: str = "jsonl", **filters: Any
    ) -> list[dict[str, Any]] | Path:
        """The model's logged predictions, oldest first: record and request ids, index, version, time,
        latency, inputs (masked), answer and outcome. ``filters``: ``version``, ``since``, ``until``
        (datetimes or ISO 8601), ``request_id``, ``limit``.

        Without ``dest``, parsed JSON lines; with ``dest``, streamed to that file in ``format``
        (``jsonl`` or ``csv``) and its path returned. Needs a builder or admin key.
        """
        path = f"/v1/models/{_seg(name)}/predictions"
        params = _query(format=format, **filters)
        if dest is not None:
            return self._download(path, Path(dest), params)
        if format != "jsonl":
            raise ValueError("without dest, the export is read as JSON lines: give dest for CSV")
        body = self._send("GET", path, params=params).text
        return [json.loads(line) for line in body.splitlines() if line]

    def send_feedback(self, name: str, items: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
        """The true outcomes of logged predictions: each item names a ``record_id``, or a
        ``request_id`` (and ``index`` within that request), and its ``outcome`` (a class label, a
        number or numbers, true/false for an alarm) -> FeedbackResult.

        More than 10,000 items go in several calls, each checked and stored whole; the result adds
        them up (a refused call raises, and the calls before it stay stored).
        """
        batch = [dict(i) for i in items]
        total: dict[str, Any] = {"model": name, "kind": None, "accepted": 0, "records": []}
        for start in range(0, max(len(batch), 1), FEEDBACK_CHUNK):
            part = batch[start : start + FEEDBACK_CHUNK]
            found = self._json("POST", f"/v1/models/{_seg(name)}/feedback", json={"items": part})
            total["kind"] = found["kind"]
            total["accepted"] += found["accepted"]
            total["records"].extend(found["records"])
        return total

    def performance(
        self,
        name: str,
        *,
        version: int | str | None = None,
        window: str = "1d",
        windows: int = 20,
        until: datetime | str | None = None,
    ) -> dict[str, Any]:
        """Live metrics per window (``window``: a time span such as ``1d``, or a number of logged
        predictions such as ``5000``): realised from the feedback, estimated without it for calibrated
        classifiers, beside the training report's figures -> PerformancePublic."""
        params = _query(version=version, window=window, windows=windows, until=until)
        return dict(self._json("GET", f"/v1/models/{_seg(name)}/performance", params=params))

    def performance_plot(
        self,
        name: str,
        dest: str | Path | None = None,
        *,
        version: int | str | None = None,
        window: str = "1d",
        windows: int = 20,
        until: datetime | str | None = None,
    ) -> bytes | Path:
        """:meth:`performance` as a PNG chart: the bytes, or written to ``dest`` and its path returned."""
        params = _query(version=version, window=window, windows=windows, until=until)
        return self._image(f"/v1/models/{_seg(name)}/performance/plot", dest, params)

    def log_retention(self) -> dict[str, Any]:
        """How many days the tenant's logged predictions are kept -> RetentionPublic (admin key)."""
        return dict(self._json("GET", "/v1/prediction-log/retention"))

    def set_log_retention(self, days: int | None) -> dict[str, Any]:
        """Keep the tenant's logged predictions ``days`` days (None: the server default) (admin key)."""
        return dict(self._json("PUT", "/v1/prediction-log/retention", json={"days": days}))
