"""Label-free multivariate anomaly detection on sensor histories (task ``anomaly``).

:class:`AnomalyEstimator` learns how sensors move together during normal operation (no labels),
scores new points, flags those above a threshold set for a chosen false-alarm rate, merges
consecutive flagged points into events and says which sensors made each point abnormal.

How it is chosen without labels: training assets are split into folds; each candidate detector
(:data:`~shopfloor.tasks.anomaly.models.FAMILIES`) is fitted without a fold and scores it, clean and
with synthetic faults injected (a step or drift in one random sensor, or in all sensors along their
main normal co-movement). The candidate that detects most injected faults at the false-alarm
threshold of the other folds' clean scores wins; the threshold itself is the chosen false-alarm
quantile of the out-of-fold clean scores, so the real false-alarm rate on new assets matches it.

Streaming (:meth:`AnomalyEstimator.score_stream`) continues each asset from a small JSON state
(:mod:`~shopfloor.tasks.anomaly.stream`) and gives exactly the scores, flags and events of scoring
the whole series at once. The estimator validates rows and holds what fit learned; the array work
of scoring and the shape of its results are in :mod:`~shopfloor.tasks.anomaly.scoring`.
Artifact: one JSON file (:data:`ESTIMATOR_FILE`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd

from shopfloor.data.series import (
    SeriesSpec,
    assets,
    assets_kept_apart,
    check_history,
    file_rows,
    records_frame,
    request_records,
)
from shopfloor.errors import ArtifactCorrupted, InvalidDataset, InvalidInput, NotFitted
from shopfloor.tasks.anomaly import ANOMALY
from shopfloor.tasks.anomaly.compare import compare_assets
from shopfloor.tasks.anomaly.events import EventTracker
from shopfloor.tasks.anomaly.models import (
    FAMILIES,
    FAULTS,
    MAGNITUDES,
    Detector,
    choose,
    evaluate_families,
    fit_on,
    smooth_assets,
    varying_sensors,
    warmup_quantiles,
)
from shopfloor.tasks.anomaly.scoring import (
    Rows,
    Scored,
    asset_result,
    explanation,
    frame_columns,
    score_blocks,
)
from shopfloor.tasks.anomaly.stream import STATE_VERSION as STATE_VERSION  # kept importable from here
from shopfloor.tasks.anomaly.stream import next_state, resume
from shopfloor.tasks.base import BaseEstimator, Capabilities, ProgressFn, no_progress
from shopfloor.tasks.compare import Compared, NewData
from shopfloor.tasks.options import option_error
from shopfloor.tasks.state_file import read_state

ESTIMATOR_FILE = "estimator.json"
FORMAT_VERSION = 1


class AnomalyEstimator(BaseEstimator):
    """Anomaly detector for sensor histories in long form (asset, time, sensors).

    Options: ``false_alarm_rate`` (share of normal points allowed above the threshold),
    ``window`` (points in each sensor's trailing mean), ``min_event_points`` (consecutive flagged
    points that raise an event), ``candidates`` (detector families to try; default all of
    :data:`~shopfloor.tasks.anomaly.models.FAMILIES`), and the series options shared by sensor
    families. ``metric`` may only be None or "detection_rate" (the selection figure).
    """

    declared: ClassVar[Mapping[str, Capabilities]] = {"anomaly": ANOMALY}

    task: ClassVar[str] = "anomaly"
    #: The fewest training assets: thresholds are set on folds of whole assets, so two at least.
    MIN_ASSETS: ClassVar[int] = ANOMALY.min_assets

    def __init__(
        self,
        asset_column: str = "asset",
        time_column: str = "time",
        sensors: list[str] | None = None,
        seed: int = 0,
        time_budget_s: float = 600.0,
        metric: str | None = None,
        column_types: dict[str, str] | None = None,
        false_alarm_rate: float = 0.01,
        window: int = 10,
        min_event_points: int = 3,
        candidates: list[str] | None = None,
    ) -> None:
        self.asset_column = asset_column
        self.time_column = time_column
        self.sensors = sensors
        self.seed = seed
        self.time_budget_s = time_budget_s
        self.metric = metric
        self.column_types = column_types
        self.false_alarm_rate = false_alarm_rate
        self.window = window
        self.min_event_points = min_event_points
        self.candidates = candidates

    # ------------------------------------------------------------------ fit
    def check_options(self) -> None:
        """Refuse impossible option values before any work (a 422 at ``["body", "options", name]``)."""
        self._settled_options()

    def _settled_options(self) -> list[str]:
        """Refuse an impossible option (422 at ``["body", "options", name]``); the detector families."""
        for name in ("window", "min_event_points"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
                raise option_error(name, f"must be a whole number >= 1, not {value!r}")
        far = self.false_alarm_rate
        if isinstance(far, bool) or not isinstance(far, int | float) or not 0 < far < 0.5:
            raise option_error("false_alarm_rate", f"must be a number between 0 and 0.5, not {far!r}")
        if self.metric not in (None, "detection_rate"):
            raise option_error("metric", "anomaly models are chosen by 'detection_rate' (injected faults)")
        families = list(FAMILIES) if self.candidates is None else list(self.candidates)
        unknown = [c for c in families if c not in FAMILIES]
        if not families or unknown or len(set(families)) != len(families):
            raise option_error(
                "candidates",
                f"must list distinct detector families among {', '.join(FAMILIES)}; got {families!r}",
            )
        return families

    def _default_sensors(self, frame: pd.DataFrame, target: str | None) -> list[str]:
        types = self.column_types or {}
        skip = {self.asset_column, self.time_column, *([target] if target else [])}
        return [
            c
            for c in frame.columns
            if c not in skip
            and types.get(c, "numeric") == "numeric"
            and pd.api.types.is_numeric_dtype(frame[c])
            and not pd.api.types.is_bool_dtype(frame[c])
        ]

    def fit(self, frame: pd.DataFrame, target: str | None = None, progress: ProgressFn = no_progress) -> Self:
        """Learn normal operation from ``frame`` (no labels); sets the detector, threshold and report.

        Raises :class:`InvalidInput` for a bad option and :class:`InvalidDataset` for a history the
        model cannot learn from (see :func:`~shopfloor.data.series.check_history`; fewer than two
        assets; no sensor that varies). ``progress`` exceptions (cancellation) propagate.
        """
        started = time.monotonic()
        families = self._settled_options()
        window, min_points, far = int(self.window), int(self.min_event_points), float(self.false_alarm_rate)
        progress(0.0, "preparing", "checking the sensor histories")
        sensors = list(self.sensors) if self.sensors is not None else self._default_sensors(frame, target)
        if not sensors:
            raise InvalidDataset("no numeric sensor column besides the asset and time columns")
        spec = SeriesSpec(self.asset_column, self.time_column, tuple(sensors))
        clean = check_history(frame, spec, where=file_rows, min_assets=self.MIN_ASSETS, error=InvalidDataset)
        kept, warnings = varying_sensors(clean, sensors)
        spec = SeriesSpec(self.asset_column, self.time_column, tuple(kept))
        series = [rows[kept].to_numpy(float) for _, rows in assets(clean, spec)]
        if len(clean) < 2 * (len(kept) + 1):
            raise InvalidDataset(
                f"{len(clean)} points are too few to learn how {len(kept)} sensors move together; "
                f"send at least {2 * (len(kept) + 1)}"
            )
        deadline = started + float(self.time_budget_s)
        figures, detectors, folds = evaluate_families(
            series, families, window, min_points, far, int(self.seed), deadline, progress
        )
        chosen = choose(figures)
        # the chosen family's fold detectors: a retraining gate compares on them (not saved)
        self.cross_fit_ = (detectors[chosen["name"]], folds, series)
        self.asset_codes_ = pd.factorize(clean[self.asset_column], sort=False)[0]
        for f in figures:
            f["chosen"] = f["name"] == chosen["name"]
            if "skipped" in f:
                warnings.append(
                    {
                        "code": "candidate-skipped",
                        "message": f"candidate {f['name']} not tried: the time budget was spent",
                    }
                )
        if chosen["detection_rate"] is None:
            warnings.append(
                {
                    "code": "no-faults-injected",
                    "message": "every asset is too short to inject a "
                    f"fault after a {window}-point window; the candidate was chosen by false alarms",
                }
            )
        progress(0.85, "calibration", "calibrating the first points of a history")
        warm = warmup_quantiles(detectors[chosen["name"]], series, folds, window, 1.0 - far)
        self.factors_ = [chosen["threshold"] / q if q > 0 and np.isfinite(q) else 1.0 for q in warm] + [1.0]
        progress(0.9, "refit", f"fitting {chosen['name']} on every asset")
        self.detector_ = fit_on(chosen["name"], smooth_assets(series, window), window)
        self.threshold_ = float(chosen["threshold"])
        self.spec_ = spec
        time_type = "numeric" if pd.api.types.is_numeric_dtype(frame[self.time_column]) else "datetime"
        self.input_schema_ = [
            {"name": spec.asset, "type": "categorical", "role": "asset"},
            {"name": spec.time, "type": time_type, "role": "time"},
            *({"name": s, "type": "numeric", "role": "sensor"} for s in kept),
        ]
        self.report_ = self._report(chosen, figures, warnings, series, len(folds), time.monotonic() - started)
        progress(1.0, "done", f"{chosen['name']}: threshold {self.threshold_:.3g}")
        return self

    def _report(
        self,
        chosen: dict[str, Any],
        figures: list[dict[str, Any]],
        warnings: list[dict[str, Any]],
        series: list[np.ndarray],
        n_folds: int,
        seconds: float,
    ) -> dict[str, Any]:
        keys = (
            "false_alarm_rate",
            "false_events_per_1000_points",
            "detection_rate",
            "sensor_fault_detection",
            "process_fault_detection",
            "median_detection_delay_points",
        )
        metrics = {("fault_detection_rate" if k == "detection_rate" else k): chosen[k] for k in keys}
        return {
            "task": self.task,
            "metrics": {
                **metrics,
                "target_false_alarm_rate": float(self.false_alarm_rate),
                "threshold": self.threshold_,
                "n_assets": len(series),
                "n_points": int(sum(len(s) for s in series)),
                "n_sensors": len(self.spec_.sensors),
            },
            "candidates": figures,
            "chosen": chosen["name"],
            "warnings": warnings,
            "series": {**self.spec_.to_dict(), "window": int(self.window), "min_points": 1},
            "min_event_points": int(self.min_event_points),
            "evaluation": {
                "method": "assets split into folds; each candidate fitted without a fold scores it clean and "
                "with synthetic faults injected; a fold's threshold is the "
                f"{1 - float(self.false_alarm_rate):.4g} quantile of the other folds' clean scores; a fault "
                "is detected when an event starts at or after its onset",
                "folds": n_folds,
                "faults": FAULTS,
                "fault_kinds": "half: a step or linear drift in one random sensor; half: all sensors "
                "along the main direction of normal co-movement (first principal component)",
                "magnitudes_sd": list(MAGNITUDES),
                "threshold": "false-alarm quantile of every fold's out-of-fold clean scores",
            },
            "fit_seconds": round(seconds, 3),
        }

    # ------------------------------------------------------------------ retraining
    def combine(self, frames: Sequence[pd.DataFrame], names: Sequence[str]) -> pd.DataFrame:
        """Each dataset's histories kept apart (an asset id in two datasets is two histories)."""
        return assets_kept_apart(frames, self.asset_column)

    def compare_with(self, champion: Any, data: NewData) -> Compared:
        """On the assets of the new data (see :mod:`shopfloor.tasks.anomaly.compare`)."""
        return compare_assets(self, champion, data)

    # ------------------------------------------------------------------ scoring
    def _check_fitted(self) -> None:
        if not hasattr(self, "detector_"):
            raise NotFitted("this AnomalyEstimator is not fitted yet; call fit() or load()")

    def _validated(self, records: Sequence[Mapping[str, Any]]) -> Rows:
        raw = records_frame(records, self.spec_)
        return Rows.of(raw, check_history(raw, self.spec_, where=request_records), self.spec_)

    def _score(self, blocks: list[tuple[np.ndarray, np.ndarray]]) -> list[Scored]:
        """Score the new rows of several assets in one pass; each block is (rows before, new rows)
        (see :func:`~shopfloor.tasks.anomaly.scoring.score_blocks`)."""
        return score_blocks(
            blocks, self.detector_, self.factors_, self.threshold_, int(self.window), self.spec_.sensors
        )

    def _asset_result(
        self, asset: Any, times: list[Any], scored: Scored, tracker: EventTracker
    ) -> dict[str, Any]:
        return asset_result(asset, times, scored, tracker, self.spec_.sensors, self.threshold_)

    def _fresh(self, rows: Rows) -> list[Scored]:
        """Each asset of ``rows`` scored from its first row (no earlier history)."""
        empty = np.empty((0, len(self.spec_.sensors)))
        return self._score([(empty, rows.values[at]) for _, at in rows.groups])

    def _tracker(self, run: dict[str, Any] | None = None) -> EventTracker:
        return EventTracker(self.spec_.sensors, int(self.min_event_points), self.threshold_, run)

    def predict(self, records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Per asset (in order of first appearance): every point's score, flag, severity and
        contributions, the events, the threshold and warnings. Raises :class:`InvalidInput` (422)
        for records the model cannot score (missing sensor column, unsorted or duplicated time)."""
        self._check_fitted()
        if not records:
            return []
        rows = self._validated(records)
        return [
            self._asset_result(asset, rows.given(at), scored, self._tracker())
            for (asset, at), scored in zip(rows.groups, self._fresh(rows), strict=True)
        ]

    def score_stream(
        self, records: Sequence[Mapping[str, Any]], states: Mapping[str, dict[str, Any]]
    ) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
        """Score the newest points of one or more assets, continuing from each asset's state.

        ``states`` maps ``str(asset)`` to the state a previous call returned (absent: a new asset).
        Returns the per-asset results for the new points (as :meth:`predict`; events that are open
        or were closed by these points) and every asset's new state: ``{"version", "last_time",
        "buffer" (the last ``window - 1`` raw points, None for missing), "run" (the current run of
        flagged points, or None)}``. Raises :class:`InvalidInput` (422) naming the asset and record
        for a point not strictly after the asset's last time, or a state this model cannot use;
        nothing is scored then.
        """
        self._check_fitted()
        if not records:
            return [], {}
        rows = self._validated(records)
        window = int(self.window)
        starts = resume(rows, states, window, self.spec_.time)
        scored_all = self._score(
            [(start.buffer, rows.values[at]) for start, (_, at) in zip(starts, rows.groups, strict=True)]
        )
        results, new_states = [], {}
        for (asset, at), start, scored in zip(rows.groups, starts, scored_all, strict=True):
            tracker = self._tracker(start.run)
            results.append(self._asset_result(asset, rows.given(at), scored, tracker))
            new_states[start.key] = next_state(
                start.buffer, rows.values[at], float(rows.times[at[-1]]), window, tracker.run
            )
        return results, new_states

    def predict_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Batch scoring: per row ``anomaly_score``, ``anomaly_flag``, ``severity`` (score / threshold),
        ``severity_label``, ``event`` (event number within the asset, empty outside events),
        ``top_sensor`` and ``contribution_<sensor>`` (percent; empty for unflagged rows)."""
        self._check_fitted()
        rows = Rows.of(frame, check_history(frame, self.spec_, where=file_rows), self.spec_)
        scored, sensors = self._fresh(rows), self.spec_.sensors
        return frame_columns(frame.index, rows, scored, sensors, self.threshold_, int(self.min_event_points))

    def evaluate_batch(self, scored: pd.DataFrame, label_column: str, layout: Mapping[str, Any]) -> Any:
        """The detected events against the known ones (``label_column``: 1 inside an event)."""
        from shopfloor.tasks.anomaly.events import evaluate_events

        return evaluate_events(scored, label_column, asset_column=layout["asset"], time_column=layout["time"])

    def drift_outputs(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The anomaly score and flag per row (event numbers and contributions are no distribution)."""
        return self.predict_frame(frame)[["anomaly_score", "anomaly_flag"]]

    def explain(self, records: Sequence[Mapping[str, Any]], method: str = "shap") -> list[dict[str, Any]]:
        """Per asset: the latest point's time, score, severity and each sensor's share (percent) of
        its abnormality. There is one method (reconstruction-based contributions); ``method`` may be
        "shap" (the protocol's default) or "contributions"."""
        self._check_fitted()
        if method not in ("shap", "contributions"):
            raise InvalidInput(
                f"unknown explanation method {method!r}; anomaly models explain with 'contributions'",
                errors=[{"loc": ["query", "method"], "msg": "unknown method"}],
            )
        if not records:
            return []
        rows = self._validated(records)
        return [
            explanation(
                asset, rows.given(at[-1:])[0], scored, self.detector_, self.spec_.sensors, self.threshold_
            )
            for (asset, at), scored in zip(rows.groups, self._fresh(rows), strict=True)
        ]

    # ------------------------------------------------------------------ persistence
    def save(self) -> dict[str, bytes]:
        """``estimator.json``: options, layout, detector arrays, threshold, calibration, report, schema."""
        self._check_fitted()
        state = {
            "format": FORMAT_VERSION,
            "params": self.get_params(),
            "spec": self.spec_.to_dict(),
            "detector": self.detector_.to_json(),
            "threshold": self.threshold_,
            "factors": self.factors_,
            "input_schema": self.input_schema_,
            "report": self.report_,
        }
        return {ESTIMATOR_FILE: json.dumps(state).encode()}

    @classmethod
    def load(cls, files: Mapping[str, bytes]) -> Self:
        """Rebuild a fitted estimator from :meth:`save` output (raises :class:`ArtifactCorrupted`)."""
        try:
            state = read_state(files, ESTIMATOR_FILE, FORMAT_VERSION, "anomaly")
            est = cls(**state["params"])
            est.spec_ = SeriesSpec.from_dict(state["spec"])
            est.detector_ = Detector.from_json(state["detector"])
            est.threshold_ = float(state["threshold"])
            est.factors_ = [float(f) for f in state["factors"]]
            if len(est.factors_) != int(est.window) or len(est.detector_.center) != len(est.spec_.sensors):
                raise ValueError("calibration or detector does not match the window and sensors")
            est.input_schema_, est.report_ = state["input_schema"], state["report"]
        except (KeyError, ValueError, TypeError) as exc:
            raise ArtifactCorrupted(f"anomaly artifact cannot be read: {exc}") from exc
        return est
