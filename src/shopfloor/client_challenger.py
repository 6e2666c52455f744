"""The SDK's calls about a model's challenger, mixed into :class:`shopfloor.client.Client`.

    c.set_challenger("ai4i", "shadow", version=3)         # version 3 runs beside production
    c.set_challenger("ai4i", "canary", share=0.1)         # and now answers 10% of the requests
    report = c.challenger_report("ai4i", window="1h", windows=24)
    print(report["recommendation"]["reason"])
    c.promote_challenger("ai4i", version=report["challenger"], champion=report["champion"])
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload
from urllib.parse import quote


def _path(name: str, rest: str = "") -> str:
    return f"/v1/models/{quote(name, safe='')}/challenger{rest}"


def _span(
    window: str, windows: int, until: datetime | None, champion: int | None, challenger: int | None
) -> dict[str, Any]:
    params: dict[str, Any] = {"window": window, "windows": windows}
    if until is not None:
        params["until"] = until.isoformat()
    if champion is not None:
        params["champion"] = champion
    if challenger is not None:
        params["challenger"] = challenger
    return params


class ChallengerMixin:
    """Shadow and canary deployments of a model's challenger (docs/challenger.md). Errors as for every
    :class:`Client` method."""

    if TYPE_CHECKING:

        def _json(self, method: str, path: str, **kwargs: Any) -> Any: ...
        def _image(
            self, path: str, dest: str | Path | None, params: dict[str, Any] | None = None
        ) -> bytes | Path: ...

    def get_challenger(self, name: str) -> dict[str, Any]:
        """The model's challenger -> ChallengerPublic: mode, share, champion and challenger versions."""
        return dict(self._json("GET", _path(name)))

    def set_challenger(
        self, name: str, mode: str, *, share: float | None = None, version: int | None = None
    ) -> dict[str, Any]:
        """Run the challenger ``off``, in ``shadow`` or as a ``canary`` answering ``share`` (0 to 1) of
        the requests; ``version`` points the challenger alias at that version first -> ChallengerPublic.

        Raises ``Conflict`` without a challenger (or with the production version as challenger),
        ``InvalidInput`` for a bad mode or share, ``NotFound`` for an unknown model or version.
        """
        body: dict[str, Any] = {"mode": mode}
        if share is not None:
            body["share"] = share
        if version is not None:
            body["version"] = int(version)
        return dict(self._json("PUT", _path(name), json=body))

    def challenger_report(
        self,
        name: str,
        *,
        window: str = "1h",
        windows: int = 24,
        until: datetime | None = None,
        champion: int | None = None,
        challenger: int | None = None,
    ) -> dict[str, Any]:
        """The challenger against the champion over ``windows`` windows of ``window`` -> ChallengerReport:
        records compared, agreement, each side's metrics on feedback and latency, and a recommendation."""
        params = _span(window, windows, until, champion, challenger)
        return dict(self._json("GET", _path(name, "/report"), params=params))

    @overload
    def challenger_plot(
        self, name: str, dest: None = None, *, window: str = ..., windows: int = ...,
        until: datetime | None = ..., champion: int | None = ..., challenger: int | None = ...,
    ) -> bytes: ...
    @overload
    def challenger_plot(
        self, name: str, dest: str | Path, *, window: str = ..., windows: int = ...,
        until: datetime | None = ..., champion: int | None = ..., challenger: int | None = ...,
    ) -> Path: ...

    def challenger_plot(
        self,
        name: str,
        dest: str | Path | None = None,
        *,
        window: str = "1h",
        windows: int = 24,
        until: datetime | None = None,
        champion: int | None = None,
        challenger: int | None = None,
    ) -> bytes | Path:
        """The comparison as a PNG chart (agreement and each side's metric per window, as
        :meth:`challenger_report` takes them): its bytes, or with ``dest`` written there and the path."""
        params = _span(window, windows, until, champion, challenger)
        return self._image(_path(name, "/report/plot"), dest, params)

    def promote_challenger(
        self, name: str, version: int, champion: int | None = None
    ) -> dict[str, Any]:
        """Move production to the challenger and turn the mode off -> PromoteResult; refused
        (``Conflict``) if the challenger is no longer ``version`` (or production no longer ``champion``)."""
        body: dict[str, Any] = {"version": int(version)}
        if champion is not None:
            body["champion"] = int(champion)
        return dict(self._json("POST", _path(name, "/promote"), json=body))
