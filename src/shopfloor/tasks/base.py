"""The one estimator protocol every task family implements.

Conventions (scikit-learn's): ``__init__`` only stores keyword hyper-parameters;
``fit`` returns ``self``; learned state ends in ``_``; ``predict`` and
``explain`` raise :class:`~shopfloor.errors.NotFitted` before ``fit``.
Artifacts are a mapping of file name to bytes in safe formats only (JSON,
LightGBM text, skops with an explicit trusted-type list, ONNX): never pickle.
The registry records each file's sha256 and the storage layer checks it at load.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Protocol, Self, runtime_checkable

import pandas as pd

# The progress callback lives below the layers that report progress (data/ too); the families
# take it from here.
from shopfloor.progress import ProgressFn as ProgressFn
from shopfloor.progress import no_progress as no_progress


def constructor_params(estimator: Any) -> dict[str, Any]:
    """Each keyword of the estimator's ``__init__`` with its current value (scikit-learn's
    ``get_params``): ``__init__`` only stores its arguments, under their own names."""
    names = [name for name in inspect.signature(type(estimator).__init__).parameters if name != "self"]
    return {name: getattr(estimator, name) for name in names}


@runtime_checkable
class Estimator(Protocol):
    """What every task family's estimator provides.

    fit(frame, target, progress) -> self
        Learns from a validated table. Sets ``report_`` (the evaluation report, a
        JSON-serialisable dict with at least ``metrics``) and ``input_schema_``
        (a list of ``{"name", "type", ...}`` for every input the model needs).
    predict(records) -> list of dicts
        One result per record (dicts of input name to value). Each result may
        carry ``warnings`` (e.g. an unseen category).
    explain(records, method) -> list of dicts
        One explanation per record (shape depends on the family).
    save() -> {file name: bytes};  load(files) -> estimator  (classmethod)

    Capabilities (class attributes, read through :mod:`shopfloor.tasks.catalog`):

    supports_batch
        Whether ``predict_frame(frame) -> DataFrame`` scores an uploaded table (one row out per
        row in): ``POST /v1/models/{name}/batch``. Absent means no.
    batch_instead
        For a family without batch scoring: the request to use instead (``{name}`` is the model).
    """

    task: ClassVar[str]
    report_: dict[str, Any]
    input_schema_: list[dict[str, Any]]

    def fit(self, frame: pd.DataFrame, target: str, progress: ProgressFn = no_progress) -> Self: ...

    def predict(self, records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]: ...

    def explain(self, records: Sequence[Mapping[str, Any]], method: str = "shap") -> list[dict[str, Any]]: ...

    def save(self) -> dict[str, bytes]: ...

    @classmethod
    def load(cls, files: Mapping[str, bytes]) -> Self: ...


@runtime_checkable
class SeriesEstimator(Estimator, Protocol):
    """What families learning from sensor histories (asset, time, sensors) add to :class:`Estimator`.

    Their constructors take ``asset_column``, ``time_column`` and ``sensors`` besides their own
    options; ``fit`` derives its target (or needs none); ``predict`` and ``explain`` answer once
    per asset in the records; ``report_["series"]`` holds ``asset``, ``time``, ``sensors``,
    ``window`` and ``min_points`` (the shortest history accepted at prediction).

    MIN_ASSETS (class attribute)
        The fewest assets a training history may have (validation holds whole assets out).
    check_options() -> Any
        Refuse impossible option values before any work (``InvalidInput`` at
        ``["body", "options", name]``), so a training request fails at once, not as a job.
    predict_frame(frame) -> DataFrame
        Batch scoring: one row out per row in, in order, each using the history up to it.
    """

    MIN_ASSETS: ClassVar[int]

    def check_options(self) -> Any: ...

    def predict_frame(self, frame: pd.DataFrame) -> pd.DataFrame: ...
