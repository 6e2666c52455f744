"""Label-free anomaly detection on one stream (task ``series_anomaly``): no asset column.

:class:`SeriesAnomalyEstimator` reads a time column and one or more value columns, repairs messy
time (:mod:`~shopfloor.tasks.series_anomaly.timeline`), finds a daily or weekly season, and
compares detectors (:data:`~shopfloor.tasks.series_anomaly.detector.CANDIDATES`) on faults injected
into the history, or on known anomalies when ``label_column`` is given
(:mod:`~shopfloor.tasks.series_anomaly.selection`). Every point gets a score in [0, 1], a flag, the
expected value with its band and a severity; flagged runs make events. The online candidates keep
learning as they score, and a spread learnt from a history wilder than the stream comes down
slowly where the stream stays calmer (the calm, in :mod:`~shopfloor.tasks.series_anomaly.detector`);
``POST .../score`` continues the stream from a small JSON state and gives what batch scoring of the
same points gives. Artifact: one JSON file (:data:`ESTIMATOR_FILE`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd

from shopfloor.data.series import check_consecutive
from shopfloor.errors import ArtifactCorrupted, InvalidDataset, InvalidInput, NotFitted
from shopfloor.tasks.base import (
    ONE_STREAM,
    BaseEstimator,
    Capabilities,
    ProgressFn,
    no_progress,
)
from shopfloor.tasks.compare import Compared, NewData
from shopfloor.tasks.options import option_error
from shopfloor.tasks.series_anomaly import SERIES_ANOMALY, stream_state, whole
from shopfloor.tasks.series_anomaly.columns import frame_columns_of, settle_columns
from shopfloor.tasks.series_anomaly.compare import compare_stream
from shopfloor.tasks.series_anomaly.detector import (
    CANDIDATES,
    Model,
    alarm_readings,
    band_width,
    find_period,
    new_state,
)
from shopfloor.tasks.series_anomaly.scoring import Run, answer, explanation, frame_columns, run, stream_points
from shopfloor.tasks.series_anomaly.selection import choose, evaluate, refit, report_of
from shopfloor.tasks.series_anomaly.timeline import Timeline, labels_of, repair, repair_notes
from shopfloor.tasks.state_file import read_state

ESTIMATOR_FILE = "estimator.json"
FORMAT_VERSION = 1
#: The fewest readable points a history needs (after repair).
MIN_POINTS = 20


def _file_rows(i: int | None, column: str | None) -> list[Any]:
    return ["file", *(["row", i + 1] if i is not None else []), *(["column", column] if column else [])]


class SeriesAnomalyEstimator(BaseEstimator):
    """Anomaly detector for one stream (see the module docstring and the option model's fields)."""

    declared: ClassVar[Mapping[str, Capabilities]] = {"series_anomaly": SERIES_ANOMALY}
    task: ClassVar[str] = "series_anomaly"

    def __init__(
        self,
        metric: str | None = None,
        seed: int = 0,
        time_budget_s: float = 600.0,
        column_types: dict[str, str] | None = None,
        time_column: str | None = None,
        value_columns: list[str] | None = None,
        label_column: str | None = None,
        sensitivity: int = 80,
        max_anomaly_ratio: float = 0.05,
        duplicates: str = "mean",
        gaps: str = "fill",
        seasonality: str = "auto",
        min_event_points: int = 1,
        alarm_memory: int = 5600,
        candidates: list[str] | None = None,
    ) -> None:
        self.metric = metric
        self.seed = seed
        self.time_budget_s = time_budget_s
        self.column_types = column_types
        self.time_column = time_column
        self.value_columns = value_columns
        self.label_column = label_column
        self.sensitivity = sensitivity
        self.max_anomaly_ratio = max_anomaly_ratio
        self.duplicates = duplicates
        self.gaps = gaps
        self.seasonality = seasonality
        self.min_event_points = min_event_points
        self.alarm_memory = alarm_memory
        self.candidates = candidates

    # One whole series detected from itself, with no stored model (capability whole_series).
    detect_series = staticmethod(whole.detect)
    change_points = staticmethod(whole.change_points)

    # ------------------------------------------------------------------ options and columns
    def check_options(self) -> None:
        """Refuse impossible option values before any work (422 at ``["body", "options", name]``)."""
        self._candidates()

    def _candidates(self) -> list[str]:
        s = self.sensitivity
        if isinstance(s, bool) or not isinstance(s, int | np.integer) or not 0 <= s <= 99:
            raise option_error("sensitivity", f"must be a whole number from 0 to 99, not {s!r}")
        r = self.max_anomaly_ratio
        if isinstance(r, bool) or not isinstance(r, int | float) or not 0 < r <= 0.5:
            raise option_error("max_anomaly_ratio", f"must be a number above 0 and at most 0.5, not {r!r}")
        m = self.min_event_points
        if isinstance(m, bool) or not isinstance(m, int | np.integer) or m < 1:
            raise option_error("min_event_points", f"must be a whole number >= 1, not {m!r}")
        a = self.alarm_memory
        if isinstance(a, bool) or not isinstance(a, int | np.integer) or a < 0:
            raise option_error("alarm_memory", f"must be a whole number >= 0, not {a!r}")
        for name, allowed in (
            ("duplicates", ("mean", "last")),
            ("gaps", ("fill", "split")),
            ("seasonality", ("auto", "none")),
        ):
            if getattr(self, name) not in allowed:
                raise option_error(name, f"must be one of {', '.join(allowed)}")
        if self.metric not in (None, "detection_rate"):
            raise option_error("metric", "series_anomaly models are chosen by injected faults or labels")
        names = list(CANDIDATES) if self.candidates is None else list(self.candidates)
        if not names or any(c not in CANDIDATES for c in names) or len(set(names)) != len(names):
            raise option_error("candidates", f"must list distinct detectors among {', '.join(CANDIDATES)}")
        return names

    def settle_options(
        self,
        options: dict[str, Any],
        columns: Sequence[Mapping[str, Any]],
        request: Mapping[str, Any],
        dataset: str,
    ) -> dict[str, Any]:
        """The options with the time and value columns settled from the dataset's profile."""
        types = {c["name"]: c.get("type") for c in columns}
        time_col, values = settle_columns(
            self.time_column,
            self.value_columns,
            self.label_column,
            list(types),
            lambda c: types[c] in ("numeric", "boolean"),
            lambda c: types[c] == "datetime",
            f"dataset {dataset!r}",
        )
        return {**options, "time_column": time_col, "value_columns": values}

    def check_dataset(self, load: Callable[[], pd.DataFrame]) -> None:
        """Refuse a history nothing can be learnt from before a job exists."""
        frame = load()
        time_col, values = self._frame_columns(frame)
        self._timeline(frame, time_col, values, lambda i, c: ["dataset", *_file_rows(i, c)[1:]])

    def _frame_columns(self, frame: pd.DataFrame) -> tuple[str, list[str]]:
        return frame_columns_of(
            frame, self.time_column, self.value_columns, self.label_column, self.column_types or {}
        )

    def _timeline(self, frame: pd.DataFrame, time_col: str, values: list[str], where: Any) -> Timeline:
        tl = repair(frame, time_col, values, str(self.duplicates), str(self.gaps), where)
        real = int((~tl.filled).sum())
        if real < MIN_POINTS:
            raise InvalidDataset(
                f"{real} readable point(s) in time; at least {MIN_POINTS} are needed to learn the stream",
                errors=[{"loc": where(None, time_col), "msg": "too few points"}],
            )
        return tl

    # ------------------------------------------------------------------ fit
    def fit(self, frame: pd.DataFrame, target: str | None = None, progress: ProgressFn = no_progress) -> Self:
        """Learn the stream's normal behaviour (no labels needed); sets the detector, band and report.

        Raises :class:`InvalidInput` for a bad option and :class:`InvalidDataset` (naming the column
        and row) for a history that cannot be repaired: no readable time, no number, too few points.
        """
        started = time.monotonic()
        names = self._candidates()
        progress(0.0, "preparing", "repairing the time axis")
        time_col, values = self._frame_columns(frame)
        tl = self._timeline(frame, time_col, values, _file_rows)
        labels = labels_of(frame, self.label_column, tl)
        period = (
            find_period(tl.times, tl.values, tl.step, tl.is_datetime) if self.seasonality == "auto" else 0
        )
        k0 = band_width(int(self.sensitivity))
        memory = alarm_readings(int(self.alarm_memory), tl.step, tl.is_datetime)
        figures = []
        for i, name in enumerate(names):
            progress(0.1 + 0.7 * i / len(names), "candidates", f"trying {name}")
            figures.append(
                {
                    **evaluate(name, tl, period, k0, int(self.seed), labels, memory),
                    "chosen": False,
                }
            )
        chosen = choose(figures)
        chosen["chosen"] = True
        # what a retraining gate repeats on the champion (not saved)
        self.stream_fit_ = (tl, labels, period, k0, memory, chosen["name"], int(self.seed))
        for f in figures:
            f["cv_score"] = f["figure"]
        progress(0.85, "refit", f"learning {chosen['name']} from the whole history")
        model, r = refit(chosen["name"], tl, period, k0, memory, float(self.max_anomaly_ratio))
        self.model_, self.time_column_, self.value_columns_ = model, time_col, values
        self.is_datetime_ = tl.is_datetime
        self.input_schema_ = [
            {"name": time_col, "type": "datetime" if tl.is_datetime else "numeric", "role": "time"},
            *({"name": c, "type": "numeric", "role": "value"} for c in values),
        ]
        flagged = float((r > model.k).mean())
        layout = {"time": time_col, "values": values, "asset": None}
        self.report_ = {
            "task": self.task,
            **report_of(tl, chosen, figures, period, k0, model.k, flagged, self.label_column is not None),
            "layout": layout,
            "alarm_memory_readings": memory,  # the option, or 20 days of date/time readings if fewer
            "calm_halving_readings": round(model.calm_half),  # the fewest over which the spread's calm halves
            "fit_seconds": round(time.monotonic() - started, 3),
        }
        progress(1.0, "done", f"{chosen['name']}: band +-{model.k:.3g} spreads")
        return self

    # ------------------------------------------------------------------ retraining
    def check_combination(self, parts: Sequence[Mapping[str, Any]]) -> None:
        """Datasets of one stream combine when they are stretches of it that do not overlap."""
        if self.time_column is not None:
            check_consecutive(parts, self.time_column)

    def compare_with(self, champion: Any, data: NewData) -> Compared:
        """On the last 40 % of the new stream (see :mod:`shopfloor.tasks.series_anomaly.compare`)."""
        return compare_stream(self, champion, data)

    def outcome_column(self, target: str) -> str | None:
        """Live records are points of a stream, judged as a stream, not one by one."""
        return None

    # ------------------------------------------------------------------ scoring
    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise NotFitted("this SeriesAnomalyEstimator is not fitted yet; call fit() or load()")

    def _scored(self, frame: pd.DataFrame, where: Any) -> tuple[Timeline, Run]:
        tl = repair(
            frame, self.time_column_, self.value_columns_, str(self.duplicates), str(self.gaps), where
        )
        return tl, run(self.model_, new_state(self.model_), tl.times, tl.values, tl.filled, tl.segment)

    def _result(
        self,
        times: list[Any],
        values: np.ndarray,
        fig: Run,
        run_state: Any,
        warnings: list[str],
        repairs: dict[str, Any] | None,
    ) -> tuple[dict[str, Any], Any]:
        k, least = self.model_.k, int(self.min_event_points)
        return answer(times, values, fig, self.value_columns_, k, least, run_state, warnings, repairs)

    def predict(self, records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """One result for the stream the records hold (repaired as at training): every point's time,
        value, score, flag, expected value, band and severity, the events, and what was repaired."""
        self._check_fitted()
        if not records:
            return []
        frame = pd.DataFrame.from_records(list(records))
        tl, fig = self._scored(frame, lambda i, c: ["body", "records", *([i] if i is not None else []), c])
        real = ~tl.filled
        given = [_plain(records[int(i)].get(self.time_column_)) for i in tl.row_of_point[real]]
        part = Run(*(a[real] for a in fig))
        result, _ = self._result(given, tl.values[real], part, None, repair_notes(tl.repairs), tl.repairs)
        return [result]

    def score_stream(
        self, records: Sequence[Mapping[str, Any]], states: Mapping[str, dict[str, Any]]
    ) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
        """Score the newest points of the stream, continuing from its state (``states[ONE_STREAM]``;
        absent: a new stream). Late or unreadable points are skipped with a warning."""
        self._check_fitted()
        if not records:
            return [], {}
        state = stream_state.unpack(states.get(ONE_STREAM), self.model_, len(self.value_columns_))
        kept, figures, warnings = stream_points(
            self.model_,
            state,
            records,
            self.time_column_,
            self.value_columns_,
            self.is_datetime_,
            str(self.gaps),
        )
        d = len(self.value_columns_)
        fig = Run(
            np.array([f[0] for f in figures]),
            np.array([f[1] for f in figures]),
            *(np.array([f[i] for f in figures]).reshape(-1, d) for i in (2, 3, 4)),
        )
        values = np.array([[_float(records[i].get(c)) for c in self.value_columns_] for i in kept]).reshape(
            -1, d
        )
        times = [_plain(records[i].get(self.time_column_)) for i in kept]
        result, state["run"] = self._result(times, values, fig, state.get("run"), warnings, None)
        return [result], {ONE_STREAM: stream_state.pack(state)}

    def predict_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Batch scoring, one row out per row in: ``anomaly_score``, ``is_anomaly``, ``expected``,
        ``lower``, ``upper`` (per value column with several), ``severity``, ``severity_label`` and
        ``event`` (its number; empty outside events). Rows merged at one timestamp share its answer;
        rows left out (unreadable time) are empty."""
        self._check_fitted()
        tl, fig = self._scored(frame, _file_rows)
        return frame_columns(
            frame.index, tl, fig, self.value_columns_, self.model_.k, int(self.min_event_points)
        )

    def evaluate_batch(self, scored: pd.DataFrame, label_column: str, layout: Any) -> Any:
        """The detected events against the known ones (``label_column``: 1 inside an event)."""
        from shopfloor.tasks.anomaly.events import evaluate_events

        frame = scored.assign(_stream=ONE_STREAM)
        return evaluate_events(frame, label_column, asset_column="_stream", time_column=self.time_column_)

    def drift_outputs(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The anomaly score and flag per row (event numbers and bands are no distribution)."""
        return self.predict_frame(frame)[["anomaly_score", "is_anomaly"]]

    def explain(self, records: Sequence[Mapping[str, Any]], method: str = "shap") -> list[dict[str, Any]]:
        """The latest point: its score, expected value and each value column's share (percent) of its
        deviation. One method; ``method`` may be "shap" (the protocol's default) or "contributions"."""
        self._check_fitted()
        if method not in ("shap", "contributions"):
            raise InvalidInput(
                f"unknown explanation method {method!r}; series_anomaly models explain with 'contributions'",
                errors=[{"loc": ["query", "method"], "msg": "unknown method"}],
            )
        if not records:
            return []
        (result,) = self.predict(records)
        return [explanation(result, self.value_columns_)]

    # ------------------------------------------------------------------ persistence
    def save(self) -> dict[str, bytes]:
        """``estimator.json``: options, columns, the detector's numbers, report and schema."""
        self._check_fitted()
        state = {
            "format": FORMAT_VERSION,
            "params": self.get_params(),
            "time_column": self.time_column_,
            "value_columns": self.value_columns_,
            "is_datetime": self.is_datetime_,
            "model": self.model_.to_json(),
            "input_schema": self.input_schema_,
            "report": self.report_,
        }
        return {ESTIMATOR_FILE: json.dumps(state).encode()}

    @classmethod
    def load(cls, files: Mapping[str, bytes]) -> Self:
        """Rebuild a fitted estimator from :meth:`save` output (raises :class:`ArtifactCorrupted`)."""
        try:
            state = read_state(files, ESTIMATOR_FILE, FORMAT_VERSION, "series_anomaly")
            est = cls(**state["params"])
            est.time_column_, est.value_columns_ = state["time_column"], list(state["value_columns"])
            est.is_datetime_ = bool(state["is_datetime"])
            est.model_ = Model.from_json(state["model"])
            if len(est.model_.level0) != len(est.value_columns_):
                raise ValueError("detector does not match the value columns")
            est.input_schema_, est.report_ = state["input_schema"], state["report"]
        except (KeyError, ValueError, TypeError) as exc:
            raise ArtifactCorrupted(f"series_anomaly artifact cannot be read: {exc}") from exc
        return est


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value


def _float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")
