"""The one estimator protocol every task family implements, its base class and its capabilities.

Conventions (scikit-learn's): ``__init__`` only stores keyword hyper-parameters;
``fit`` returns ``self``; learned state ends in ``_``; ``predict`` and
``explain`` raise :class:`~shopfloor.errors.NotFitted` before ``fit``.
Artifacts are a mapping of file name to bytes in safe formats only (JSON,
LightGBM text, skops with an explicit trusted-type list, ONNX): never pickle.
The registry records each file's sha256 and the storage layer checks it at load.

What a family serves is declared once, as :class:`Capabilities`, in its package's
``__init__`` (light to import: no torch, no LightGBM), and read by every layer above
through :mod:`shopfloor.tasks.catalog`. The estimator class carries the same objects
(:attr:`BaseEstimator.declared`); the contract suite (``tests/tasks/test_contract.py``)
checks that each declaration matches what the class does.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol, Self, runtime_checkable

from shopfloor.errors import InvalidInput

# The progress callback lives below the layers that report progress (data/ too); the families
# take it from here.
from shopfloor.progress import ProgressFn as ProgressFn
from shopfloor.progress import no_progress as no_progress

if TYPE_CHECKING:
    from pathlib import Path

    import numpy as np
    import pandas as pd

    from shopfloor.tasks.compare import Compared, NewData


#: What a family learns from: one row per example, sensor histories (asset, time, sensors),
#: an image dataset (a zip of images stored as a table of image bytes), free text in a table, or
#: vibration recordings (a recording dataset stored as a table of one row per recording).
InputKind = Literal["table", "series", "images", "text", "signals"]
#: Where the training target comes from: a column the request names, derived from the data
#: itself (remaining life, future values), or none at all (normal behaviour is learnt).
TargetKind = Literal["given", "derived", "none"]
#: How one field of a per-record answer becomes a tensor: ``class`` the class (text), ``classes`` a
#: multi-label answer's classes (a true/false per class), ``scores`` a probability per class,
#: ``number``, ``flag`` (true/false), ``count`` (a whole number), ``sequence`` (numbers, e.g. a horizon).
TensorKind = Literal["class", "classes", "scores", "number", "flag", "count", "sequence"]
#: What the truth about a served answer is once known: a class, a number, or whether an alarm was real.
OutcomeKind = Literal["label", "value", "alarm"]


@dataclass(frozen=True)
class Outcomes:
    """How a task's served answers meet the truth that becomes known later (feedback), and how its
    live answers are scored; read by the prediction log's feedback and performance services.

    kind
        What an outcome is (:data:`OutcomeKind`): ``label``, a class the model knows; ``value``, a
        number, or for an answer that is a sequence (a forecast's horizon) a number or the numbers in
        step order; ``alarm``, true or false (was something really wrong).
    answer
        The field of each answer the outcome is compared with: the served class, value, sequence or
        alarm (for ``alarm``, a true flag or a non-empty list such as the events raised).
    scores
        ``label`` only: the field with the class probabilities (PR-AUC, and performance estimated
        without outcomes where the report holds a calibration).
    metrics
        The live metrics (names of :mod:`shopfloor.evaluation.live`); the first is the headline.
    baseline
        The report metric shown beside a live one where its name differs (default: the same name).
    """

    kind: OutcomeKind
    answer: str
    scores: str | None = None
    metrics: tuple[str, ...] = ()
    baseline: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Capabilities:
    """What one task declares it learns from and serves; read by services, jobs, API, CLI and SDK.

    inputs, target
        See :data:`InputKind` and :data:`TargetKind`. A training request for a ``"given"`` target
        must name its column; ``"images"`` tasks train on image datasets only, ``"signals"`` tasks
        on recording datasets (format ``signals``) only, others on tables;
        ``"series"`` tasks read an asset and a time column (their layout is settled per request).
    prediction
        The kind of answer (``classification``, ``regression``, ``rul``, ``anomaly``,
        ``forecast``...): request checks (metrics, target column) are by kind.
    trainable
        A training job can fit it (imported models are made elsewhere).
    imported_as
        For an imported task: the name a model file's import request gives (``task`` form field).
    takes_options
        Its training requests may carry ``options`` (hyper-parameters checked by ``check_options``).
    options
        The family's option model (a pydantic model), or None where ``check_options`` checks them.
    backbone
        Its options may name one of the server's pretrained image backbones (``options.backbone``).
    predict, explain
        Online prediction; the ``method`` names ``explain`` answers (the first is its own default).
    batched
        ``predict`` answers each record on its own, whatever else is in the list: the records of
        several requests waiting at once may be scored in one call (``serving/batching.py``).
    rules
        Its report holds surrogate decision rules (``GET /v1/models/{name}/rules``).
    batch, batch_instead
        ``predict_frame`` scores an uploaded table as a job (``POST /v1/models/{name}/batch``);
        else ``batch_instead`` names the request to use instead (``{name}`` is the model).
    whole_batch
        ``predict_frame`` needs the whole table at once (one stream: each row's answer depends on
        every row before it), so a batch job does not score it in blocks.
    batch_evaluation
        A batch job may take a ``label_column`` of known events and evaluate the detections.
    stream, forecast, optimise
        ``score_stream`` (``POST .../score``), ``forecast`` (``POST .../forecast``), prescriptive
        optimisation over the model's inputs (``POST .../optimize``).
    plots
        The chart kinds its reports can have data for (``GET .../plots/{kind}``).
    compare
        A retraining job can fit the model's configuration again on new data and compare the new
        version with the one in production on the same held-out examples
        (``POST /v1/models/{name}/retrain``): the fitted model answers ``compare_with`` (see
        :mod:`shopfloor.tasks.compare`); ``combine`` joins several datasets into one table.
    validation
        How its candidates are scored (the title of the ``candidates`` chart).
    min_assets
        Series tasks: the fewest assets a training history may have.
    outcomes
        How the truth about its answers is fed back and scored (:class:`Outcomes`); None: no
        feedback and no live performance for this task.
    whole_series
        Its estimator class detects one whole series sent in a request from that series alone, with
        no stored model (``detect_series``, ``change_points``): the stateless
        detection of the Azure Anomaly Detector facade.
    export
        The portable formats a model of it can be exported to (``"onnx"``: the estimator's
        ``to_onnx(metadata)`` gives one ONNX graph on the raw input columns).
    tensor_answers
        The fields of each record's answer as tensors, for the Open Inference Protocol
        (``/v2/models/{name}/infer``): ``(field, kind)`` pairs, kind one of :data:`TensorKind`.
        Empty: the task answers per asset or per stream, not one answer per record, and is not
        served by that protocol.
    """

    inputs: InputKind
    target: TargetKind
    prediction: str
    trainable: bool = True
    imported_as: str | None = None
    takes_options: bool = False
    options: type | None = None
    backbone: bool = False
    predict: bool = True
    batched: bool = False
    explain: tuple[str, ...] = ()
    rules: bool = False
    batch: bool = False
    batch_instead: str | None = None
    whole_batch: bool = False
    batch_evaluation: bool = False
    stream: bool = False
    forecast: bool = False
    optimise: bool = False
    plots: tuple[str, ...] = ()
    compare: bool = False
    validation: str = "cross-validation"
    min_assets: int = 0
    outcomes: Outcomes | None = None
    whole_series: bool = False
    export: tuple[str, ...] = ()
    tensor_answers: tuple[tuple[str, TensorKind], ...] = ()


#: The stream-state key of a model that scores one stream (a family whose report names no asset
#: column): all its points continue one state.
ONE_STREAM = "stream"


@dataclass(frozen=True)
class TaskSpec:
    """One task a family provides: its name, its estimator class as ``"module:Class"`` (imported
    only when a model of the task is made or loaded), the keyword arguments the task fixes, and
    its :class:`Capabilities`."""

    name: str
    estimator: str
    capabilities: Capabilities
    fixed: Mapping[str, Any] = field(default_factory=dict)



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

    What a task serves beyond these is declared in its :class:`Capabilities` (``declared``, read
    through :mod:`shopfloor.tasks.catalog`); the optional hooks have defaults in
    :class:`BaseEstimator`, which every family's estimator inherits.
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
    """What families learning from sensor histories (``inputs="series"``) add to :class:`Estimator`.

    Their constructors take ``asset_column``, ``time_column`` and ``sensors`` besides their own
    options; ``fit`` derives its target (or needs none); ``predict`` and ``explain`` answer once
    per asset in the records; ``report_["series"]`` holds ``asset``, ``time``, ``sensors``,
    ``window`` and ``min_points`` (the shortest history accepted at prediction). Their batch
    scoring (``predict_frame``) gives one row out per row in, each using the history up to it;
    the fewest assets a training history may have is ``Capabilities.min_assets``.
    """

    def check_options(self) -> None: ...

    def predict_frame(self, frame: pd.DataFrame) -> pd.DataFrame: ...


class BaseEstimator:
    """The base class of every family's estimator: the declared capabilities and default hooks.

    A family overrides the hooks its capabilities call for (``predict_frame`` where it declares
    ``batch``, ``score_stream`` for ``stream``, ``forecast`` for ``forecast``...); the defaults
    say "nothing to do" or refuse, so no layer above probes an estimator for a method.
    """

    #: The capabilities of each task this class serves (task name -> the family's declaration).
    declared: ClassVar[Mapping[str, Capabilities]] = {}

    def get_params(self) -> dict[str, Any]:
        """The constructor's keywords with their values (see :func:`constructor_params`)."""
        return constructor_params(self)

    @property
    def capabilities(self) -> Capabilities:
        """The capabilities of this estimator's task."""
        return self.declared[self.task]  # type: ignore[attr-defined]

    # ---------------------------------------------------------------- before a job is queued
    def check_options(self) -> None:
        """Refuse impossible option values before any work (``InvalidInput`` at
        ``["body", "options", name]``), so a training request fails at once, not as a job.
        Families that take no options have nothing to check."""
        return None

    def settle_options(
        self,
        options: dict[str, Any],
        columns: Sequence[Mapping[str, Any]],
        request: Mapping[str, Any],
        dataset: str,
    ) -> dict[str, Any]:
        """The request's ``options`` with the columns the family reads settled from the dataset's
        profile (``columns``: name, type, role...), before the job is queued; ``dataset`` is its
        name, for messages. Default: the options as given."""
        return options

    def check_dataset(self, load: Callable[[], pd.DataFrame]) -> None:
        """Refuse a training table the family cannot learn from, before a job exists. ``load()``
        reads the dataset: called only by families that check their data (it costs a read)."""

    def backbone_name(self) -> str | None:
        """The pretrained backbone the options name, if any (``Capabilities.backbone``)."""
        return None

    def use_backbone(self, folder: Path) -> Self:
        """Read the weights of the named backbone from ``folder`` (the server's choice)."""
        return self

    # ---------------------------------------------------------------- serving
    def predict_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Batch scoring of a table, one row out per row in (``Capabilities.batch``)."""
        raise InvalidInput(f"{type(self).__name__} does not score tables in batch")

    def evaluate_batch(self, scored: pd.DataFrame, label_column: str, layout: Mapping[str, Any]) -> Any:
        """Evaluate a batch job's scored table against a column of known labels
        (``Capabilities.batch_evaluation``); ``layout`` is the report's ``series`` entry."""
        raise InvalidInput(f"{type(self).__name__} does not evaluate batch results against labels")

    def background_records(self) -> list[dict[str, Any]]:
        """The reference rows kept at training, as input records (feature importance); none here."""
        return []

    # ---------------------------------------------------------------- retraining
    def columns_read(self) -> list[str]:
        """Columns of a training table this configuration reads besides its input schema, target,
        sensor layout and the columns its options name (a recording table's fixed columns...)."""
        return []

    def check_combination(self, parts: Sequence[Mapping[str, Any]]) -> None:
        """Refuse, before a job exists, datasets a retraining cannot combine into one training table
        (``parts``: each dataset's ``name``, ``id`` and profile ``columns``, in the request's order;
        the error at ``["body", "dataset_ids", i]``). Default: tables of rows combine freely."""

    def combine(self, frames: Sequence[pd.DataFrame], names: Sequence[str]) -> pd.DataFrame:
        """One training table from several datasets' tables (``names``: the datasets', for
        messages), their rows kept in the order given. Default: the rows appended."""
        import pandas as pd

        return pd.concat(list(frames), ignore_index=True)

    # ---------------------------------------------------------------- comparing two models
    def holdout_rows(self) -> np.ndarray | None:
        """Right after ``fit``: the row numbers, in the table given to ``fit``, of the rows held out
        to evaluate the model (its report's ``metrics``). None for a family that holds out no single
        rows, and for a loaded model (it is not saved)."""
        return None

    def row_scorer(self, frame: pd.DataFrame, target: str) -> Callable[[np.ndarray], dict[str, float]]:
        """The scalar metrics of the report's ``metrics`` on any selection of the labelled rows
        ``frame`` (every row has its true outcome in ``target``), computed as the report computes
        them on its hold-out, from the model's outputs computed once: ``scorer(take)`` with
        ``take`` row positions, repeats allowed. Raises :class:`InvalidInput` where the family
        cannot score labelled rows (see :func:`shopfloor.tasks.compare.not_scored`)."""
        raise InvalidInput(f"{type(self).__name__} does not score labelled rows")

    def score_rows(self, frame: pd.DataFrame, target: str) -> dict[str, float]:
        """The report's scalar metrics on labelled rows (``frame``: the inputs and the true outcome
        in ``target``); rows without an outcome are left out (see :meth:`row_scorer`)."""
        import numpy as np

        from shopfloor.tasks.compare import labelled

        rows = labelled(frame, target)
        if len(rows) == 0:
            raise InvalidInput(f"no row with a true outcome in {target!r} to score")
        return self.row_scorer(frame.iloc[rows], target)(np.arange(len(rows)))

    def outcome_column(self, target: str) -> str | None:
        """The column of a labelled table that holds each record's true outcome for this model
        (the gate's live check puts the live outcomes there): the target, or None where records
        have no outcome of their own (a derived or absent target)."""
        return target or None

    def compare_with(self, champion: Any, data: NewData) -> Compared:
        """Right after ``fit`` on ``data.frame``: this new version and ``champion`` (a fitted model
        of the same task) on the same held-out examples of the new data, leaving out those from
        the champion's training data (see :mod:`shopfloor.tasks.compare`). Default: the hold-out
        rows (``holdout_rows``) scored by both models' ``row_scorer``."""
        from shopfloor.tasks.compare import compare_rows

        return compare_rows(self, champion, data)

    def frame_answers(self, scored: pd.DataFrame) -> list[dict[str, Any]]:
        """Rows of :meth:`predict_frame`'s output as answers (what the prediction log keeps of a
        batch job): in the shape :meth:`predict` answers where the family can say so, else each
        row's columns."""
        return [{str(k): v for k, v in row.items()} for row in scored.to_dict("records")]

    def answer_scale(self, answer: Mapping[str, Any]) -> float | None:
        """The error scale of one served answer (the ``mase`` live metric divides errors by it), for
        families whose answers have one (a forecast: its series' naive error); None here."""
        return None

    # ---------------------------------------------------------------- drift
    def drift_inputs(self) -> list[dict[str, Any]]:
        """The inputs whose distribution a drift check compares with training, as ``{"name",
        "type"}`` (numeric, boolean, categorical, text or image). Default: the input schema
        without the columns that only place a row (an asset, a time)."""
        return [
            {"name": c["name"], "type": c["type"]}
            for c in self.input_schema_  # type: ignore[attr-defined]
            if c.get("role") not in ("asset", "time")
        ]

    def drift_reference(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The rows of the training table ``frame`` whose model outputs a drift profile keeps:
        those the fitted model did not learn from, as new rows are scored (outputs on rows a model
        was fitted on are more confident than on new ones). Default: its :meth:`holdout_rows`
        where it names them (right after ``fit`` only), else every row."""
        rows = self.holdout_rows()
        return frame if rows is None or len(rows) == 0 else frame.iloc[rows]

    def drift_outputs(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The model's answers for the rows of ``frame``, one column per output a drift check
        compares (numbers: values, scores, probabilities; anything else: labels). Default: batch
        scoring where the family declares it, else ``predict`` on the rows as records, with the
        probabilities summed up (:func:`shopfloor.tasks.drift.output_columns`)."""
        from shopfloor.tasks.drift import answers_table, output_columns

        if self.capabilities.batch:
            return output_columns(self.predict_frame(frame))
        return output_columns(answers_table(self.predict(frame.to_dict("records"))))  # type: ignore[attr-defined]

    def drift_embeddings(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        """The family's embeddings of its text or image inputs for the rows of ``frame`` that have
        one (input column -> rows x dimension), compared by a drift check as the model sees them.
        Families without such inputs have none."""
        return {}
