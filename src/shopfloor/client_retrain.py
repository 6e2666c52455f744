"""The SDK's calls for retraining a model with a gate and promoting a version (mixed into
:class:`shopfloor.client.Client`, which provides the plumbing they use)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Protocol
from urllib.parse import quote


class _Jobs(Protocol):
    """What the mixin's methods use of :class:`~shopfloor.client.Client`."""

    def _json(self, method: str, path: str, **kwargs: Any) -> Any: ...

    def wait(
        self,
        job_id: str,
        timeout: float | None = None,
        poll: float = 0.5,
        on_progress: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]: ...


def _model_path(name: str, action: str) -> str:
    return f"/v1/models/{quote(name, safe='')}/{action}"


class RetrainMixin:
    """``retrain`` and ``promote``."""

    def retrain(
        self: _Jobs,
        name: str,
        data: str | Iterable[str],
        *,
        version: int | None = None,
        promote: bool = False,
        wait: bool = True,
        timeout: float | None = None,
        poll: float = 0.5,
        on_progress: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        """Train the champion's configuration again on new data and gate the new version against it
        (``POST /v1/models/{name}/retrain``).

        ``data``: a dataset id, or several combined (e.g. the champion's training data and new
        data); each needs every column the champion reads. ``version``: the champion (default: the
        production version). ``promote``: move production to the new version when its gate passes
        and production still points at the champion. Waits for the job like :meth:`wait` (polled
        every ``poll`` seconds, ``on_progress`` sees each change, ``timeout`` bounds the wait) and
        returns the finished job: its ``result`` holds the new ``version``, the ``gate``
        (``passed``, each check with its figures and ``message``, ``summary``) and the
        ``promotion``. With ``wait=False`` the queued job comes back at once. Raises
        ``InvalidInput`` for data that does not fit (the column is named), ``NotFound``,
        ``Forbidden``, and :class:`~shopfloor.client.JobFailed`.
        """
        ids = [data] if isinstance(data, str) else list(data)
        body: dict[str, Any] = {"dataset_ids": ids, "promote": "if_gate_passes" if promote else "never"}
        if version is not None:
            body["version"] = int(version)
        job = dict(self._json("POST", _model_path(name, "retrain"), json=body))
        if not wait:
            return job
        return self.wait(job["id"], timeout=timeout, poll=poll, on_progress=on_progress)

    def promote(
        self: _Jobs, name: str, version: int, *, expected: int | None = None, force: bool = False
    ) -> dict[str, Any]:
        """Point ``production`` at ``version`` in one call -> ``{"model", "alias", "version",
        "previous"}``. With ``expected``, only while production points at that version
        (``Conflict`` when someone moved it); a version whose retraining gate failed is refused
        (``Conflict``) unless ``force``."""
        body: dict[str, Any] = {"version": int(version), "force": force}
        if expected is not None:
            body["expected"] = int(expected)
        return dict(self._json("POST", _model_path(name, "promote"), json=body))
