"""The SDK's drift checks: a window of recent rows against a model's training profile.

Mixed into :class:`shopfloor.client.Client`; every method goes through the client's plumbing
(authentication, retries on 429, problem+json errors as :mod:`shopfloor.errors` classes).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from shopfloor.client_payload import Records, records_payload, segment, version_params
from shopfloor.errors import InvalidInput

if TYPE_CHECKING:
    import httpx


class DriftMixin:
    """Drift checks (``POST /v1/models/{name}/drift``), the training profile and drift charts."""

    if TYPE_CHECKING:  # provided by Client

        def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response: ...

        def _json(self, method: str, path: str, **kwargs: Any) -> Any: ...

        @staticmethod
        def _file_part(path: Path, fh: BinaryIO) -> tuple[str, BinaryIO, str]: ...

    def drift(
        self,
        name: str,
        window: Records | str | Path | None = None,
        *,
        dataset_id: str | None = None,
        version: int | str | None = None,
        alpha: float | None = None,
        min_distance: float | None = None,
    ) -> dict[str, Any]:
        """Compare a window of rows with model ``name``'s training profile -> DriftResponse.

        ``window``: records (a list of dicts or a DataFrame) or the path of a CSV or Parquet file
        (uploaded as it is); or ``dataset_id``, one of the tenant's datasets. ``alpha`` (the
        family-wise false-alarm rate per window) and ``min_distance`` (the smallest effect that
        counts) default to the server's. The answer ranks inputs and outputs, drifted first, each
        with its test, p-value, distance and a sentence; ``summary`` says it in one line.
        """
        path = f"/v1/models/{segment(name)}/drift"
        params = version_params(version, alpha=alpha, min_distance=min_distance)
        with self._window(window, dataset_id) as body:
            return dict(self._json("POST", path, params=params, **body))

    def drift_profile(self, name: str, version: int | str | None = None) -> dict[str, Any]:
        """The training profile drift checks compare with -> DriftProfileResponse (summaries only)."""
        path = f"/v1/models/{segment(name)}/drift/profile"
        return dict(self._json("GET", path, params=version_params(version)))

    def drift_plot(
        self,
        name: str,
        window: Records | str | Path | None = None,
        *,
        kind: str = "distributions",
        dataset_id: str | None = None,
        version: int | str | None = None,
        dest: str | Path | None = None,
    ) -> bytes | Path:
        """A PNG chart of a window's drift: ``distributions`` (training against window for the
        variables that moved most) or ``timeline`` (the window in consecutive parts). Returns the
        PNG bytes, or with ``dest`` writes them there and returns the path."""
        path = f"/v1/models/{segment(name)}/drift/plot"
        params = version_params(version, kind=kind)
        with self._window(window, dataset_id) as body:
            png = self._send("POST", path, params=params, headers={"Accept": "image/png"}, **body).content
        if dest is None:
            return png
        target = Path(dest)
        target.write_bytes(png)
        return target

    @contextmanager
    def _window(
        self, window: Records | str | Path | None, dataset_id: str | None
    ) -> Iterator[dict[str, Any]]:
        """The request body of a window: JSON records, a file part (open while the request is
        sent), or a dataset id."""
        if (window is None) == (dataset_id is None):
            raise InvalidInput("give the window as records or a file, or give a dataset_id: one of the two")
        if dataset_id is not None:
            yield {"json": {"dataset_id": dataset_id}}
        elif isinstance(window, str | Path):
            file = Path(window)
            with file.open("rb") as fh:
                yield {"files": {"file": self._file_part(file, fh)}}
        else:
            yield {"json": {"records": records_payload(window)}}
