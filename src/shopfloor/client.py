"""The Python SDK: a thin, typed wrapper over the v1 HTTP API.

    from shopfloor import Client

    with Client() as c:                       # SHOPFLOOR_URL, SHOPFLOOR_API_KEY
        ds = c.upload_dataset("ai4i2020.csv")
        job = c.wait(c.train(ds["id"], target="Machine failure", model_name="ai4i")["id"])
        c.predict("ai4i", df.head(5))

Every method returns the parsed JSON (plain dicts, lists for collections). Error
responses (RFC 9457 problem+json) become the matching :mod:`shopfloor.errors`
class, chosen by the problem's code and then its HTTP status, with ``detail``
and ``errors`` copied from the body; problems on the client side (server not
reachable, job failed while waiting) are :class:`ClientError` subclasses.
Nothing heavy is imported here: pandas is only touched through the objects the
caller passes in.
"""

from __future__ import annotations

import mimetypes
import re
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, BinaryIO, overload

import httpx
from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from shopfloor.client_alerts import AlertsClient
from shopfloor.client_challenger import ChallengerMixin
from shopfloor.client_drift import DriftMixin
from shopfloor.client_errors import (
    ClientError,
    ConnectionFailed,
    JobFailed,
    JobTimeout,
    RateLimitedError,
    UnexpectedResponse,
    error_from_response,
)
from shopfloor.client_monitoring import MonitoringMixin
from shopfloor.client_payload import Records, records_payload
from shopfloor.client_payload import jsonable as _jsonable
from shopfloor.client_payload import segment as _seg
from shopfloor.client_payload import version_params as _params
from shopfloor.client_retrain import RetrainMixin
from shopfloor.client_sources import SourcesClient
from shopfloor.errors import JobCancelled
from shopfloor.tasks.catalog import DEFAULT_TASK
from shopfloor.version import __version__

__all__ = [
    "Client",
    "ClientError",
    "ClientSettings",
    "ConnectionFailed",
    "JobFailed",
    "JobTimeout",
    "RateLimitedError",
    "UnexpectedResponse",
    "error_from_response",
    "records_payload",
]

TERMINAL_STATUSES = frozenset({"succeeded", "failed", "cancelled"})


class ClientSettings(BaseSettings):
    """Where the SDK and CLI find the server: ``SHOPFLOOR_URL`` and ``SHOPFLOOR_API_KEY``."""

    model_config = SettingsConfigDict(env_prefix="SHOPFLOOR_", extra="ignore")

    url: str = "http://127.0.0.1:8000"
    api_key: SecretStr | None = None


#: POST routes that change nothing on the server (a 429 on them is retried like a GET). Not
#: among them: job creation, uploads (a streamed file cannot be sent twice), key creation, and
#: streaming ``score``, whose server-kept window must see each point once.
_SAFE_POSTS = re.compile(
    r"^/v1/(models/[^/]+/(predict|explain|forecast|optimize|drift|drift/plot)|hub/[^/]+/(embed|classify)"
    r"|masking/preview)$"
)
_RETRIED_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})


class Client(RetrainMixin, MonitoringMixin, DriftMixin, AlertsClient, ChallengerMixin, SourcesClient):
    """A connection to one Shopfloor server.

    ``url`` and ``api_key`` default to ``SHOPFLOOR_URL`` (http://127.0.0.1:8000)
    and ``SHOPFLOOR_API_KEY``. One keep-alive ``httpx.Client`` is shared by all
    calls: use ``with Client() as c:`` or call :meth:`close`. ``transport``
    replaces the network (``httpx.MockTransport`` in tests).

    Raises on every method: the :mod:`shopfloor.errors` class matching the
    server's problem (``NotAuthenticated``, ``NotFound``, ``InvalidInput`` with
    ``errors`` ...), :class:`RateLimitedError` on 429, or :class:`ConnectionFailed`
    when the server is not reachable.

    A 429 on an idempotent call (GET, PUT, DELETE, and the POSTs that change
    nothing: predict, explain, forecast, optimize, hub embed and classify, masking
    preview) is retried up to ``retries`` times, after the server's ``Retry-After``
    or else an exponential backoff from ``backoff_s``, as long as the waits add up
    to at most ``max_retry_wait_s`` seconds; a ``Retry-After`` beyond what is left
    of that budget raises at once. ``retries=0`` turns retrying off.
    """

    def __init__(
        self,
        url: str | None = None,
        api_key: str | None = None,
        timeout: float = 60.0,
        *,
        transport: httpx.BaseTransport | None = None,
        retries: int = 3,
        max_retry_wait_s: float = 30.0,
        backoff_s: float = 0.5,
    ) -> None:
        if url is None or api_key is None:
            env = ClientSettings()
            url = url if url is not None else env.url
            if api_key is None and env.api_key is not None:
                api_key = env.api_key.get_secret_value()
        self.url = url.rstrip("/")
        headers = {"User-Agent": f"shopfloor-python/{__version__}", "Accept": "application/json"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout, transport=transport)
        self.retries, self.max_retry_wait_s, self.backoff_s = max(0, retries), max_retry_wait_s, backoff_s
        self._sleep: Callable[[float], None] = time.sleep

    def __repr__(self) -> str:  # never shows the key
        return f"Client(url={self.url!r})"

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the pooled connections."""
        self._http.close()

    # -- plumbing ---------------------------------------------------------------------------

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        retried = method in _RETRIED_METHODS or (method == "POST" and _SAFE_POSTS.match(path) is not None)
        waited, attempt = 0.0, 0
        while True:
            try:
                response = self._http.request(method, path, **kwargs)
            except httpx.TransportError as exc:
                raise self._connection_error(exc) from exc
            if not response.is_error:
                return response
            err = error_from_response(response)
            if not (isinstance(err, RateLimitedError) and retried and attempt < self.retries):
                raise err
            delay = err.retry_after if err.retry_after is not None else self.backoff_s * 2**attempt
            if waited + delay > self.max_retry_wait_s:
                raise err
            self._sleep(delay)
            waited, attempt = waited + delay, attempt + 1

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._send(method, path, **kwargs)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise UnexpectedResponse(
                f"{method} {path} returned {response.headers.get('content-type', 'no content type')}, "
                "expected JSON; is SHOPFLOOR_URL pointing at a Shopfloor server?"
            ) from exc

    def _items(self, path: str) -> list[dict[str, Any]]:
        body = self._json("GET", path)
        return list(body["items"]) if isinstance(body, dict) and "items" in body else list(body or [])

    def _connection_error(self, exc: httpx.TransportError) -> ClientError:
        if isinstance(exc, httpx.TimeoutException):
            return ConnectionFailed(f"the Shopfloor server at {self.url} did not answer in time ({exc})")
        return ConnectionFailed(
            f"cannot connect to the Shopfloor server at {self.url} ({exc}); "
            "start it with `shopfloor serve` or set SHOPFLOOR_URL"
        )

    @staticmethod
    def _file_part(path: Path, fh: BinaryIO) -> tuple[str, BinaryIO, str]:
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        if path.suffix.lower() == ".parquet":
            content_type = "application/vnd.apache.parquet"
        return (path.name, fh, content_type)

    # -- health -----------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """``GET /healthz``: ``{"status": "ok", ...}``; needs no key."""
        return dict(self._json("GET", "/healthz"))

    # -- datasets ---------------------------------------------------------------------------

    def upload_dataset(
        self,
        path: str | Path,
        name: str | None = None,
        *,
        format: str | None = None,
        columns: str | Iterable[str] | None = None,
        asset_column: str | None = None,
        time_column: str | None = None,
        settings_columns: str | Iterable[str] | None = None,
        layout: str | None = None,
        series_column: str | None = None,
        period_prefix: str | None = None,
        sampling_rate: float | None = None,
        channels: str | Iterable[str] | None = None,
        rpm: float | None = None,
    ) -> dict[str, Any]:
        """Upload a CSV/Parquet/whitespace-separated file (streamed, not read into memory) -> DatasetPublic.

        ``name`` defaults to the file's stem. ``format``: auto (default), csv, parquet or
        whitespace; ``columns`` names the columns of a text file without a header line. With
        ``asset_column`` and ``time_column`` (and optionally ``settings_columns``) the file is a
        sensor dataset in long form: the server checks it and the answer's ``series`` summarises
        sampling, gaps, dropped sensors and operating modes. ``layout="wide"`` stores a table of
        one row per series and one column per period in long form (``series_column``, ``period``,
        ``value``; ``period_prefix`` picks the period columns) and the answer's ``conversion`` shows
        how. Vibration recordings (``format="signals"``; ``.wav``, ``.npy``, ``.npz``, ``.mat``
        are recognised under auto, a zip of them too) take ``sampling_rate`` and ``rpm`` when the
        files do not say them and ``channels``, the channels to keep (a name or its ending, e.g.
        ``FE_time``). Name lists may be given as lists or
        comma-separated strings. Raises ``InvalidDataset`` / ``InvalidInput`` / ``PayloadTooLarge``
        / ``UnsupportedMediaType`` as the server decides.
        """
        path = Path(path)

        def joined(names: str | Iterable[str] | None) -> str | None:
            return names if names is None or isinstance(names, str) else ",".join(names)

        fields = {
            "name": name or path.stem,
            "format": format,
            "columns": joined(columns),
            "asset_column": asset_column,
            "time_column": time_column,
            "settings_columns": joined(settings_columns),
            "layout": layout,
            "series_column": series_column,
            "period_prefix": period_prefix,
            "sampling_rate": sampling_rate,
            "channels": joined(channels),
            "rpm": rpm,
        }
        with path.open("rb") as fh:
            return dict(
                self._json(
                    "POST",
                    "/v1/datasets",
                    files={"file": self._file_part(path, fh)},
                    data={key: value for key, value in fields.items() if value is not None},
                )
            )

    def list_datasets(self) -> list[dict[str, Any]]:
        """The tenant's datasets (the ``items`` of ``GET /v1/datasets``)."""
        return self._items("/v1/datasets")

    def get_dataset(self, dataset_id: str) -> dict[str, Any]:
        """One dataset with its column schema and profile."""
        return dict(self._json("GET", f"/v1/datasets/{_seg(dataset_id)}"))

    # -- jobs -------------------------------------------------------------------------------

    def train(
        self,
        dataset_id: str,
        target: str | None,
        model_name: str,
        task: str = DEFAULT_TASK,
        exclude: Iterable[str] = (),
        metric: str | None = None,
        time_budget_s: float | None = None,
        seed: int = 0,
        *,
        asset_column: str | None = None,
        time_column: str | None = None,
        options: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Start a training job (``POST /v1/jobs``) -> the queued JobPublic; see :meth:`wait`.

        Sensor families (those reading asset histories) take no target; the asset and time
        columns default to the ones named at upload; ``options`` are the family's hyper-parameters.
        """
        body: dict[str, Any] = {
            "type": "train",
            "task": task,
            "dataset_id": dataset_id,
            "exclude": list(exclude),
            "model_name": model_name,
            "seed": seed,
        }
        optional = {
            "target": target,
            "metric": metric,
            "time_budget_s": time_budget_s,
            "asset_column": asset_column,
            "time_column": time_column,
            "options": options,
        }
        body.update({k: v for k, v in optional.items() if v is not None})
        return dict(self._json("POST", "/v1/jobs", json=body))

    def get_job(self, job_id: str) -> dict[str, Any]:
        return dict(self._json("GET", f"/v1/jobs/{_seg(job_id)}"))

    def list_jobs(self) -> list[dict[str, Any]]:
        return self._items("/v1/jobs")

    def cancel_job(self, job_id: str) -> dict[str, Any]:
        """Ask the job to stop -> JobPublic (the status turns ``cancelled`` once the runner notices)."""
        return dict(self._json("POST", f"/v1/jobs/{_seg(job_id)}/cancel"))

    def wait(
        self,
        job_id: str,
        timeout: float | None = None,
        poll: float = 0.5,
        on_progress: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        """Poll the job until it is terminal and return the final job dict.

        ``on_progress(job)`` is called when the job's status, progress, stage or message has
        changed since the last call, so at least once, and always with the terminal job.
        Raises :class:`JobFailed` (status ``failed``), :class:`~shopfloor.errors.JobCancelled`
        (status ``cancelled``), or :class:`JobTimeout` after ``timeout`` seconds; both carry
        the last job dict in ``err.extra["job"]``.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        shown: tuple[Any, ...] | None = None
        while True:
            job = self.get_job(job_id)
            status = job.get("status")
            seen = (status, job.get("progress"), job.get("stage"), job.get("message"))
            if on_progress is not None and seen != shown:
                on_progress(job)
                shown = seen
            if status == "succeeded":
                return job
            if status == "failed":
                raise JobFailed(
                    f"job {job_id} failed: {job.get('error') or job.get('message') or 'no reason given'}",
                    job=job,
                )
            if status == "cancelled":
                raise JobCancelled(f"job {job_id} was cancelled", job=job)
            if deadline is not None and time.monotonic() >= deadline:
                raise JobTimeout(
                    f"job {job_id} still {status} after {timeout:g}s (it keeps running on the server)",
                    job=job,
                )
            time.sleep(poll if deadline is None else max(0.0, min(poll, deadline - time.monotonic())))

    @overload
    def job_result(self, job_id: str, dest: None = None) -> bytes: ...
    @overload
    def job_result(self, job_id: str, dest: str | Path) -> Path: ...

    def job_result(self, job_id: str, dest: str | Path | None = None) -> bytes | Path:
        """Download the job's output file (a batch job's scored CSV).

        Returns the bytes, or with ``dest`` streams them to that file and returns its path.
        """
        path = f"/v1/jobs/{_seg(job_id)}/result"
        if dest is None:
            return self._send("GET", path).content
        return self._download(path, Path(dest))

    def _download(self, path: str, target: Path, params: dict[str, Any] | None = None) -> Path:
        """Stream the body of ``GET path`` into ``target`` (whole or not at all); returns ``target``."""
        try:
            with self._http.stream("GET", path, params=params) as response:
                if response.is_error:
                    response.read()
                    raise error_from_response(response)
                partial = target.with_name(target.name + ".part")
                with partial.open("wb") as out:
                    for chunk in response.iter_bytes():
                        out.write(chunk)
                partial.replace(target)  # never leave a half-written result under the real name
        except httpx.TransportError as exc:
            raise self._connection_error(exc) from exc
        return target

    # -- models -----------------------------------------------------------------------------

    def list_models(self) -> list[dict[str, Any]]:
        return self._items("/v1/models")

    def get_model(self, name: str) -> dict[str, Any]:
        """ModelPublic: task, latest_version, aliases and versions."""
        return dict(self._json("GET", f"/v1/models/{_seg(name)}"))

    def describe_model(self, name: str, description: str) -> dict[str, Any]:
        """Replace the model's description (plain text, at most 2,000 characters; "" clears it)
        -> ModelPublic."""
        body = {"description": description}
        return dict(self._json("PATCH", f"/v1/models/{_seg(name)}", json=body))

    def delete_model(self, name: str) -> None:
        """Delete the model with every version, alias and file; its name answers 404 afterwards."""
        self._json("DELETE", f"/v1/models/{_seg(name)}")

    def get_version(self, name: str, version: int | str) -> dict[str, Any]:
        """VersionPublic: metrics, stability, candidates, input schema and the full report."""
        return dict(self._json("GET", f"/v1/models/{_seg(name)}/versions/{_seg(version)}"))

    def set_alias(self, name: str, alias: str, version: int, force: bool = False) -> dict[str, Any]:
        """Point ``alias`` (e.g. ``production``) at ``version`` -> AliasPublic. Production refuses
        a version whose retraining gate failed unless ``force``."""
        body: dict[str, Any] = {"version": int(version)}
        if force:
            body["force"] = True
        return dict(self._json("PUT", f"/v1/models/{_seg(name)}/aliases/{_seg(alias)}", json=body))

    @overload
    def export_model(self, name: str, version: int, format: str = "onnx", dest: None = None) -> bytes: ...  # noqa: A002
    @overload
    def export_model(self, name: str, version: int, format: str, dest: str | Path) -> Path: ...  # noqa: A002

    def export_model(
        self,
        name: str,
        version: int,
        format: str = "onnx",  # noqa: A002 - the query parameter's name
        dest: str | Path | None = None,
    ) -> bytes | Path:
        """A trained tabular model version as ONNX (``format="onnx"``: one graph on the raw columns,
        preprocessing inside) or as a zipped MLflow model directory (``"mlflow"``, onnx flavour).

        Returns the bytes, or with ``dest`` streams them to that file and returns its path.
        Raises ``Conflict`` for a model whose task has no portable form.
        """
        path = f"/v1/models/{_seg(name)}/versions/{_seg(version)}/export"
        params = {"format": format}
        if dest is None:
            return self._send("GET", path, params=params).content
        return self._download(path, Path(dest), params=params)

    @overload
    def plot(self, name: str, version: int, kind: str, dest: None = None) -> bytes: ...
    @overload
    def plot(self, name: str, version: int, kind: str, dest: str | Path) -> Path: ...

    def plot(self, name: str, version: int, kind: str, dest: str | Path | None = None) -> bytes | Path:
        """A PNG chart of a version's evaluation (confusion, importance, stability, candidates).

        Returns the PNG bytes, or with ``dest`` writes them there and returns the path.
        Raises ``InvalidInput`` for a kind that does not apply (``confusion`` on regression).
        """
        return self._image(f"/v1/models/{_seg(name)}/versions/{_seg(version)}/plots/{_seg(kind)}", dest)

    def _image(
        self, path: str, dest: str | Path | None, params: dict[str, Any] | None = None
    ) -> bytes | Path:
        """The PNG of ``GET path``: its bytes, or written to ``dest`` and the path returned."""
        png = self._send("GET", path, params=params, headers={"Accept": "image/png"}).content
        if dest is None:
            return png
        target = Path(dest)
        target.write_bytes(png)
        return target

    # -- serving ----------------------------------------------------------------------------

    def predict(
        self,
        name: str,
        records: Records,
        version: int | str | None = None,
        *,
        request_id: str | None = None,
        canary_key: str | None = None,
    ) -> dict[str, Any]:
        """Score records (list of dicts or DataFrame; NaN -> null) -> PredictResponse.

        ``version`` defaults to what the server resolves (latest, or an alias it supports).
        ``request_id`` (letters, digits, ``. _ : / + = -``, up to 128) names the request in the
        server's logs and prediction log: outcomes can be sent later by it (:meth:`send_feedback`).
        ``canary_key`` (a part or asset id) picks the side that answers while the model's challenger
        runs as a canary, so that every request with it lands on the same side (default: the request id).
        """
        headers = {k: v for k, v in (("X-Request-ID", request_id), ("X-Canary-Key", canary_key)) if v}
        return dict(
            self._json(
                "POST",
                f"/v1/models/{_seg(name)}/predict",
                params=_params(version),
                json={"records": records_payload(records)},
                headers=headers or None,
            )
        )

    def predict_images(
        self, name: str, images: Iterable[str | Path | bytes], version: int | str | None = None
    ) -> dict[str, Any]:
        """Score part images (file paths or encoded bytes) in one multipart request -> PredictResponse."""
        parts = []
        for i, image in enumerate(images):
            data = image if isinstance(image, bytes) else Path(image).read_bytes()
            label = f"image-{i}" if isinstance(image, bytes) else Path(image).name
            parts.append(("image", (label, data, "application/octet-stream")))
        return dict(
            self._json("POST", f"/v1/models/{_seg(name)}/predict", params=_params(version), files=parts)
        )

    def predict_recordings(
        self,
        name: str,
        files: Iterable[str | Path],
        sampling_rate: float | None = None,
        channels: str | Iterable[str] | None = None,
        rpm: float | None = None,
        version: int | str | None = None,
    ) -> dict[str, Any]:
        """Score vibration recordings sent as files (``.wav .npy .npz .mat``, CSV or Parquet; one
        record each) in one multipart request -> PredictResponse, answers in file order, each with
        its ``file`` name. ``sampling_rate`` (Hz), ``channels`` (names or name endings, e.g.
        ``FE_time``) and ``rpm`` apply to every file that does not say them, as at upload."""
        return self._recordings("predict", name, files, sampling_rate, channels, rpm, _params(version))

    def explain_recordings(
        self,
        name: str,
        files: Iterable[str | Path],
        sampling_rate: float | None = None,
        channels: str | Iterable[str] | None = None,
        rpm: float | None = None,
        version: int | str | None = None,
        method: str = "shap",
    ) -> dict[str, Any]:
        """Explain vibration recordings sent as files (see :meth:`predict_recordings`) ->
        ExplainResponse, each explanation with its ``file`` name."""
        params = _params(version, method=method)
        return self._recordings("explain", name, files, sampling_rate, channels, rpm, params)

    def _recordings(
        self,
        route: str,
        name: str,
        files: Iterable[str | Path],
        sampling_rate: float | None,
        channels: str | Iterable[str] | None,
        rpm: float | None,
        params: dict[str, Any],
    ) -> dict[str, Any]:
        # read whole: a request of parts held in memory can be sent again after a 429
        parts = [
            ("recording", (Path(f).name, Path(f).read_bytes(), "application/octet-stream")) for f in files
        ]
        joined = channels if channels is None or isinstance(channels, str) else ",".join(channels)
        fields = {"sampling_rate": sampling_rate, "channels": joined, "rpm": rpm}
        data = {key: str(value) for key, value in fields.items() if value is not None}
        path = f"/v1/models/{_seg(name)}/{route}"
        return dict(self._json("POST", path, params=params, files=parts, data=data))

    def explain(
        self, name: str, records: Records, method: str = "shap", version: int | str | None = None
    ) -> dict[str, Any]:
        """Per-record contributions -> ExplainResponse: ``method`` ``shap`` or ``lime`` for tabular
        models, ``occlusion`` (per word, with character offsets) for text models."""
        return dict(
            self._json(
                "POST",
                f"/v1/models/{_seg(name)}/explain",
                params=_params(version, method=method),
                json={"records": records_payload(records)},
            )
        )

    def rules(self, name: str, version: int | str | None = None) -> dict[str, Any]:
        """The surrogate decision rules with their support, precision and fidelity -> RulesResponse."""
        return dict(self._json("GET", f"/v1/models/{_seg(name)}/rules", params=_params(version)))

    def batch(
        self,
        name: str,
        path: str | Path,
        version: int | str | None = None,
        label_column: str | None = None,
    ) -> dict[str, Any]:
        """Start batch scoring of a file (streamed) -> JobPublic; fetch the CSV with :meth:`job_result`.

        ``label_column`` (anomaly models): a 0/1 column of known events; the finished job's result
        then carries an ``evaluation`` of the detected events against it.
        """
        path = Path(path)
        params = _params(version, label_column=label_column)
        with path.open("rb") as fh:
            return dict(
                self._json(
                    "POST",
                    f"/v1/models/{_seg(name)}/batch",
                    params=params,
                    files={"file": self._file_part(path, fh)},
                )
            )

    def score(self, name: str, records: Records, version: int | str | None = None) -> dict[str, Any]:
        """Streaming anomaly scoring of the newest points of one or more assets -> ScoreResponse.

        The server keeps each asset's window between calls; send each point once, in time order.
        """
        return dict(
            self._json(
                "POST",
                f"/v1/models/{_seg(name)}/score",
                params=_params(version),
                json={"records": records_payload(records)},
            )
        )

    def reset_stream(self, name: str, asset: str | None = None) -> dict[str, Any]:
        """Forget the window the server keeps for ``asset`` (or for every asset) of a streaming model."""
        path = f"/v1/models/{_seg(name)}/score/state"
        return dict(self._json("DELETE", path, params=_params(None, asset=asset)))

    # -- pretrained model hub -----------------------------------------------------------------

    def hub_models(self) -> list[dict[str, Any]]:
        """The pretrained models the server serves (name, dimension, size, licence, source, variants)."""
        return self._items("/v1/hub")

    def embed(
        self, texts: list[str], model: str = "all-MiniLM-L6-v2", variant: str | None = None
    ) -> dict[str, Any]:
        """Normalised embeddings -> {"model", "variant", "dimension", "embeddings", "warnings"}."""
        body: dict[str, Any] = {"texts": list(texts)}
        if variant is not None:
            body["variant"] = variant
        return dict(self._json("POST", f"/v1/hub/{_seg(model)}/embed", json=body))

    def zero_shot(
        self,
        texts: list[str],
        labels: list[str],
        model: str = "all-MiniLM-L6-v2",
        template: str = "{label}",
        variant: str | None = None,
    ) -> dict[str, Any]:
        """Label names ranked per text by similarity -> {"results": [{"index", "ranking"}], ...}."""
        body: dict[str, Any] = {"texts": list(texts), "labels": list(labels), "template": template}
        if variant is not None:
            body["variant"] = variant
        return dict(self._json("POST", f"/v1/hub/{_seg(model)}/classify", json=body))

    # -- personal-data masking (admin) ----------------------------------------------------------

    def masking_policy(self) -> dict[str, Any]:
        """The tenant's masking policy: ``names``, ``patterns`` ([{"name", "regex"}]), ``reversible``."""
        return dict(self._json("GET", "/v1/masking"))

    def set_masking_policy(
        self,
        names: Iterable[str] = (),
        patterns: Iterable[Mapping[str, str]] = (),
        reversible: bool = False,
    ) -> dict[str, Any]:
        """Replace the policy (it applies to later uploads) -> the stored policy.

        Raises ``InvalidInput`` naming a pattern the server refuses.
        """
        body = {"names": list(names), "patterns": [dict(p) for p in patterns], "reversible": reversible}
        return dict(self._json("PUT", "/v1/masking", json=body))

    def preview_masking(self, text: str) -> dict[str, Any]:
        """What the policy does to ``text`` -> {"text", "counts", "spans"}; nothing is stored."""
        return dict(self._json("POST", "/v1/masking/preview", json={"text": text}))

    # -- keys -------------------------------------------------------------------------------

    def create_key(self, role: str, name: str | None = None, *, aws: bool = False) -> dict[str, Any]:
        """Create an API key in the caller's tenant -> KeyCreated; ``secret`` is shown only this once.

        With ``aws`` the answer also holds ``aws_access_key_id`` and ``aws_secret_access_key`` (shown
        once too): the credentials AWS SDKs sign with for the AWS facades (Lookout for Equipment).
        """
        body: dict[str, Any] = {"role": role}
        if name is not None:
            body["name"] = name
        if aws:
            body["aws"] = True
        return dict(self._json("POST", "/v1/keys", json=body))

    def list_keys(self) -> list[dict[str, Any]]:
        return self._items("/v1/keys")

    def revoke_key(self, key_id: str) -> None:
        self._json("DELETE", f"/v1/keys/{_seg(key_id)}")

    # -- prescriptive optimisation ------------------------------------------------------------

    def optimize(
        self,
        name: str,
        controls: Mapping[str, Mapping[str, Any]],
        fixed: Mapping[str, Any],
        *,
        objective: str = "minimize",
        derived: Mapping[str, Mapping[str, Any]] | None = None,
        constraints: Iterable[Mapping[str, Any]] | None = None,
        current: Mapping[str, Any] | None = None,
        trials: int = 200,
        sampler: str = "tpe",
        seed: int = 0,
        version: int | str | None = None,
        output: str | int | None = None,
        tolerance: float | None = None,
    ) -> dict[str, Any]:
        """Settings of the ``controls`` (``{"min", "max"}`` or ``{"values"}``) that minimise or maximise a
        tabular model's prediction, the other inputs ``fixed`` -> the optimisation answer.

        ``derived`` features (``{"product": [...], "scale"}`` or ``{"sum": {feature: coefficient}}``) may
        appear in linear ``constraints`` (``{"terms", "op", "value"}``). ``status`` is "optimal" (``best``,
        uncertainty, runner-ups, sensitivity, constraint values) or "infeasible" (``reason``,
        ``least_violation``). Above 300 trials the server runs a job; this waits for it and returns its
        result (raising :class:`JobFailed` if it fails). Raises ``InvalidInput`` for a bad request.
        """
        body: dict[str, Any] = {
            "controls": _jsonable(dict(controls)),
            "fixed": _jsonable(dict(fixed)),
            "objective": objective,
            "trials": trials,
            "sampler": sampler,
            "seed": seed,
        }
        optional = {
            "derived": _jsonable(dict(derived)) if derived is not None else None,
            "constraints": _jsonable(list(constraints)) if constraints is not None else None,
            "current": _jsonable(dict(current)) if current is not None else None,
            "output": output,
            "tolerance": tolerance,
        }
        body.update({k: v for k, v in optional.items() if v is not None})
        path = f"/v1/models/{_seg(name)}/optimize"
        response = self._send("POST", path, params=_params(version), json=body)
        answer = response.json()
        if response.status_code == 202:  # a large budget: the answer is the job's result
            return dict(self.wait(answer["id"])["result"])
        return dict(answer)

    def forecast(
        self,
        name: str,
        series: Iterable[str | int] | str = "all",
        *,
        horizon: int | None = None,
        levels: Iterable[float] = (80, 95),
        version: int | str | None = None,
    ) -> dict[str, Any]:
        """Point forecasts and prediction intervals of a ``forecast`` model -> ForecastResponse.

        ``series``: ids or "all"; ``horizon``: periods ahead (default: the model's); ``levels``: interval
        levels in percent. Raises ``InvalidInput`` for unknown series or a horizon beyond the model's.
        """
        body = {
            "series": series if isinstance(series, str) else [str(s) for s in series],
            "horizon": horizon,
            "levels": [float(v) for v in levels],
        }
        return dict(
            self._json("POST", f"/v1/models/{_seg(name)}/forecast", params=_params(version), json=body)
        )
