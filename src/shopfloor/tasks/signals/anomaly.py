"""Departures from healthy running in vibration recordings (``task: "signal_anomaly"``).

:class:`SignalAnomaly` learns the window features (:mod:`.features`) of healthy recordings only: a
robust standardisation and a shrunk covariance (Ledoit-Wolf), a window's score being its squared
Mahalanobis distance over the number of features. The threshold is the ``1 - false_alarm_rate``
quantile of scores of healthy windows the model did not see: out-of-fold by group when there are two
groups or more, else the last 30 % of the one recording in time. Streaming (``POST .../score``)
scores each machine's (``group``'s) new windows and raises an alarm after ``alarm_windows``
consecutive windows over the threshold.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd

from shopfloor.errors import ArtifactCorrupted, InvalidInput, NotFitted
from shopfloor.tasks.base import BaseEstimator, Capabilities, ProgressFn, no_progress
from shopfloor.tasks.compare import Compared, NewData
from shopfloor.tasks.options import is_whole, option_error
from shopfloor.tasks.signals import SIGNAL_ANOMALY
from shopfloor.tasks.signals import features as F
from shopfloor.tasks.signals import prepare as P
from shopfloor.tasks.signals.compare import RECORDING_COLUMNS, compare_detected, records_of
from shopfloor.tasks.signals.explain import spectrum_view
from shopfloor.tasks.signals.split import window_rows

STATE_FILE = "estimator.json"
FORMAT_VERSION = 1
STREAM_VERSION = 1
ASSET = "group"


class _Gauss:
    """Robust centring and scaling, then a shrunk covariance: score = squared distance / features."""

    def fit(self, x: np.ndarray) -> _Gauss:
        from sklearn.covariance import LedoitWolf

        self.fill = np.nan_to_num(F.nan_stat(np.nanmedian, x), nan=0.0)
        filled = np.where(np.isnan(x), self.fill, x)
        self.centre = np.median(filled, axis=0)
        q75, q25 = np.percentile(filled, [75, 25], axis=0)
        self.scale = np.where(q75 - q25 > 1e-9, (q75 - q25) / 1.349, filled.std(axis=0) + 1e-9)
        z = (filled - self.centre) / self.scale
        self.precision = np.linalg.pinv(LedoitWolf().fit(z).covariance_)
        return self

    def z(self, x: np.ndarray) -> np.ndarray:
        return (np.where(np.isnan(x), self.fill, x) - self.centre) / self.scale

    def score(self, x: np.ndarray) -> np.ndarray:
        z = self.z(x)
        return np.einsum("ij,jk,ik->i", z, self.precision, z) / x.shape[1]

    def to_json(self) -> dict[str, Any]:
        return {k: getattr(self, k).tolist() for k in ("fill", "centre", "scale", "precision")}

    @classmethod
    def from_json(cls, state: Mapping[str, Any]) -> _Gauss:
        model = cls()
        for k in ("fill", "centre", "scale", "precision"):
            setattr(model, k, np.asarray(state[k], dtype=float))
        return model


class SignalAnomaly(BaseEstimator):
    """Healthy vibration recordings -> a score per window and a threshold at a false-alarm rate."""

    declared: ClassVar[Mapping[str, Capabilities]] = {"signal_anomaly": SIGNAL_ANOMALY}
    task: ClassVar[str] = "signal_anomaly"

    def __init__(
        self,
        window: int = 2048,
        max_windows: int = 64,
        defect_orders: dict[str, float] | None = None,
        envelope_band_hz: list[float] | None = None,
        normal_label: str | None = None,
        false_alarm_rate: float = 0.01,
        alarm_windows: int = 3,
        metric: str | None = None,
        seed: int = 0,
        time_budget_s: float = 600.0,
        column_types: dict[str, str] | None = None,
    ) -> None:
        self.window = window
        self.max_windows = max_windows
        self.defect_orders = defect_orders
        self.envelope_band_hz = envelope_band_hz
        self.normal_label = normal_label
        self.false_alarm_rate = false_alarm_rate
        self.alarm_windows = alarm_windows
        self.metric = metric
        self.seed = seed
        self.time_budget_s = time_budget_s
        self.column_types = column_types

    def check_options(self) -> None:
        """Refuse impossible option values before any work (a 422 at ``["body", "options", name]``)."""
        P.check_common(self)
        far = self.false_alarm_rate
        if isinstance(far, bool) or not isinstance(far, int | float) or not 0 < far < 0.5:
            raise option_error("false_alarm_rate", "must be a number between 0 and 0.5")
        if not is_whole(self.alarm_windows, 1, 1000):
            raise option_error("alarm_windows", "must be a whole number from 1 to 1000")
        if self.normal_label is not None and not isinstance(self.normal_label, str):
            raise option_error("normal_label", "must be a label")

    # ------------------------------------------------------------------ fit
    def fit(self, frame: pd.DataFrame, target: str = "", progress: ProgressFn = no_progress) -> Self:
        """Learn healthy windows, set the threshold on held-out healthy windows, report."""
        t0 = time.perf_counter()
        self.check_options()
        budget = float(self.time_budget_s)
        healthy, faulty, rows = self._healthy(frame)
        table = P.read_table(healthy, {"label"})
        progress(0.1, "features", f"{len(table.names)} healthy recordings")
        win = P.table_features(self, table, P.FEATURE_SHARE * budget)
        self.channels_, self.rate_ = table.channels, table.rate
        self.feature_names_ = F.feature_names(table.channels, dict(self.defect_orders or {}))
        held, split = self._held_out_scores(table, win)
        self.threshold_ = float(np.quantile(held, 1 - float(self.false_alarm_rate)))
        progress(0.7, "fitting", "healthy model on every healthy window")
        self.model_ = _Gauss().fit(win.x)
        metrics: dict[str, Any] = {
            "false_alarm_rate_target": float(self.false_alarm_rate),
            "false_alarm_rate_held_out": float(np.mean(held > self.threshold_)),
            "held_out_windows": int(len(held)),
        }
        faulty_scores: list[np.ndarray] = []
        if faulty is not None and len(faulty):
            found, faulty_scores = self._detection(faulty)
            metrics.update(found)
        # the windows scored without being learnt from: a retraining gate compares on them (not saved)
        self.evaluated_ = {
            "healthy_rows": rows[0],
            "faulty_rows": rows[1],
            "held": held,
            "rec": win.rec[len(win.rec) - len(held) :],  # one group: only its last windows are held out
            "faulty": faulty_scores,
        }
        self.input_schema_ = P.input_schema(table.channels)
        self.report_: dict[str, Any] = {
            "task": self.task,
            "kind": "anomaly",
            "metrics": metrics,
            "threshold": self.threshold_,
            "split": split,
            "stream": {"asset": ASSET, "alarm_windows": int(self.alarm_windows)},
            "windows": {
                "length": int(self.window),
                "per_recording": win.per_recording,
                "total": int(len(win.x)),
            },
            "channels": table.channels,
            "sampling_rate": table.rate,
            "defect_orders": dict(self.defect_orders or {}),
            "n_recordings": len(table.names),
            "warnings": [],
            "fit_seconds": round(time.perf_counter() - t0, 3),
        }
        progress(1.0, "done", f"threshold {self.threshold_:.3f} at {self.false_alarm_rate:g} false alarms")
        return self

    def _healthy(
        self, frame: pd.DataFrame
    ) -> tuple[pd.DataFrame, pd.DataFrame | None, tuple[np.ndarray, np.ndarray]]:
        """The healthy recordings, the faulty ones (labelled other than ``normal_label``) and the
        rows of each in ``frame``."""
        if self.normal_label is None:
            return frame.reset_index(drop=True), None, (np.arange(len(frame)), np.zeros(0, dtype=int))
        if "label" not in frame.columns:
            raise option_error("normal_label", "the recordings have no label column")
        is_normal = (frame["label"].astype(str) == self.normal_label).to_numpy()
        if not is_normal.any():
            raise option_error("normal_label", f"no recording is labelled {self.normal_label!r}")
        faulty = ~is_normal & frame["label"].notna().to_numpy()
        rows = (np.flatnonzero(is_normal), np.flatnonzero(faulty))
        return frame[is_normal].reset_index(drop=True), frame[faulty].reset_index(drop=True), rows

    def _held_out_scores(self, table: P.Table, win: P.Windows) -> tuple[np.ndarray, dict[str, Any]]:
        """Scores of healthy windows unseen by the model that scores them, and how they were held out."""
        groups = np.asarray(table.groups)
        names = sorted(set(table.groups))
        if len(names) >= 2:
            from sklearn.model_selection import GroupKFold

            k = min(5, len(names))
            held = np.zeros(len(win.x))
            codes = np.searchsorted(names, groups)
            folds = []
            for tr, te in GroupKFold(n_splits=k).split(codes, codes, codes):
                a, b = window_rows(tr, win.rec), window_rows(te, win.rec)
                held[b] = _Gauss().fit(win.x[a]).score(win.x[b])
                folds.append(sorted({table.groups[i] for i in te}))
            return held, {
                "method": f"group {k}-fold over healthy recordings",
                "folds": k,
                "test_groups": folds,
            }
        cut = int(len(win.x) * 0.7)
        if cut < 2 or len(win.x) - cut < 1:
            raise InvalidInput(
                "too few healthy windows to set a threshold: upload longer or more healthy recordings",
                errors=[{"loc": ["body", "dataset_id"], "msg": "too few healthy windows"}],
            )
        held = _Gauss().fit(win.x[:cut]).score(win.x[cut:])
        return held, {"method": "one healthy group: first 70 % of its windows in time, threshold on the rest"}

    def _detection(self, faulty: pd.DataFrame) -> tuple[dict[str, Any], list[np.ndarray]]:
        """The detection figures of the faulty recordings, and their window scores."""
        table = P.read_table(faulty, {"label"})
        orders = dict(self.defect_orders or {})
        band = P.envelope_band(self.envelope_band_hz)
        scores = []
        for chans, rpm in zip(table.samples, table.rpm, strict=True):
            x = F.recording_features(
                chans, self.rate_, P._rpm(rpm), int(self.window), int(self.max_windows), orders, band
            )
            scores.append(self.model_.score(x))
        rates = [float(np.mean(s > self.threshold_)) for s in scores]
        return {"detection_rate_windows": float(np.mean(rates)), "faulty_recordings": len(rates)}, scores

    # ------------------------------------------------------------------ serving
    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise NotFitted("this SignalAnomaly is not fitted yet; call fit() or load()")

    def _scored(
        self, records: Sequence[Mapping[str, Any]]
    ) -> list[tuple[np.ndarray, np.ndarray, Any, list[str]]]:
        read = P.read_records(records, self.channels_, self.rate_, int(self.window))
        orders = dict(self.defect_orders or {})
        band = P.envelope_band(self.envelope_band_hz)
        most = int(self.report_["windows"]["per_recording"])
        out = []
        for chans, rpm, warns in read:
            x = F.recording_features(chans, self.rate_, rpm, int(self.window), most, orders, band)
            out.append((self.model_.score(x), x, (chans, rpm), warns))
        return out

    def predict(self, records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Per record: the median window ``score``, the ``threshold``, ``is_anomaly`` (the median over
        it), the share of windows over it, and ``warnings``."""
        self._check_fitted()
        if not records:
            return []
        return [
            {
                "score": round(float(np.median(s)), 6),
                "threshold": round(self.threshold_, 6),
                "is_anomaly": bool(np.median(s) > self.threshold_),
                "windows": int(len(s)),
                "windows_over": round(float(np.mean(s > self.threshold_)), 4),
                "warnings": warns,
            }
            for s, _, _, warns in self._scored(records)
        ]

    def explain(self, records: Sequence[Mapping[str, Any]], method: str = "shap") -> list[dict[str, Any]]:
        """Per record: each feature's part in the score (its standardised deviation times its row of the
        precision, mean over windows), and the envelope spectrum with the defect orders marked."""
        self._check_fitted()
        if method not in SIGNAL_ANOMALY.explain:
            raise InvalidInput(
                f"unknown explanation method {method!r}; signal models explain by 'shap'",
                errors=[{"loc": ["query", "method"], "msg": "unknown method"}],
            )
        out = []
        for s, x, (chans, rpm), _ in self._scored(records):
            z = self.model_.z(x)
            parts = (z * (z @ self.model_.precision)).mean(axis=0) / x.shape[1]
            order = np.argsort(-np.abs(parts))
            out.append(
                {
                    "method": "shap",
                    "output": round(float(np.median(s)), 6),
                    "threshold": round(self.threshold_, 6),
                    "contributions": {self.feature_names_[i]: round(float(parts[i]), 6) for i in order},
                    **spectrum_view(
                        chans[0],
                        self.rate_,
                        rpm,
                        dict(self.defect_orders or {}),
                        int(self.window),
                        P.envelope_band(self.envelope_band_hz),
                    ),
                }
            )
        return out

    def score_stream(
        self, records: Sequence[Mapping[str, Any]], states: Mapping[str, dict[str, Any]]
    ) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
        """Score each record (a window, or a longer stretch) of each machine (``group``) after those of
        earlier calls: per record the score, ``over`` the threshold, the machine's run of consecutive
        windows over it and ``alarm`` once the run reaches ``alarm_windows``. States: one per machine."""
        self._check_fitted()
        scored = self._scored(records)
        new: dict[str, dict[str, Any]] = {}
        results = []
        for i, (record, (s, _, _, warns)) in enumerate(zip(records, scored, strict=True)):
            key = str(record.get(ASSET, ""))
            state = new.get(key) or self._state(states.get(key), key, i)
            for value in s:
                state["windows"] += 1
                state["run"] = state["run"] + 1 if value > self.threshold_ else 0
            state["alarm"] = state["run"] >= int(self.alarm_windows)
            new[key] = state
            results.append(
                {
                    ASSET: key,
                    "score": round(float(np.max(s)), 6),
                    "threshold": round(self.threshold_, 6),
                    "over": bool(np.max(s) > self.threshold_),
                    "run": state["run"],
                    "alarm": state["alarm"],
                    "windows_seen": state["windows"],
                    "warnings": warns,
                }
            )
        return results, new

    @staticmethod
    def _state(state: Mapping[str, Any] | None, key: str, i: int) -> dict[str, Any]:
        if state is None:
            return {"version": STREAM_VERSION, "windows": 0, "run": 0, "alarm": False}
        if state.get("version") != STREAM_VERSION or not isinstance(state.get("run"), int):
            raise InvalidInput(
                f"the stream state of {key!r} does not fit this model; reset the stream",
                errors=[{"loc": ["state", key], "msg": "unusable stream state"}],
            )
        return dict(state)

    # ------------------------------------------------------------------ retraining
    def columns_read(self) -> list[str]:
        """The recording table's rate, shaft speed, group and name (and labels with ``normal_label``)."""
        return [*RECORDING_COLUMNS, *(["label"] if self.normal_label is not None else [])]

    def window_scores(self, frame: pd.DataFrame) -> list[np.ndarray]:
        """Per recording of a recording table: the score of each of its windows."""
        self._check_fitted()
        return [s for s, _, _, _ in self._scored(records_of(frame, self.channels_))]

    def outcome_column(self, target: str) -> str | None:
        """Live records are windows of a machine, judged by runs of windows, not one by one."""
        return None

    def compare_with(self, champion: Any, data: NewData) -> Compared:
        """On the recordings of the new data (see :mod:`shopfloor.tasks.signals.compare`)."""
        return compare_detected(self, champion, data)

    # ------------------------------------------------------------------ persistence
    def save(self) -> dict[str, bytes]:
        self._check_fitted()
        state = {
            "format": FORMAT_VERSION,
            "params": {**self.get_params(), "column_types": None},
            "channels": self.channels_,
            "rate": self.rate_,
            "feature_names": self.feature_names_,
            "threshold": self.threshold_,
            "model": self.model_.to_json(),
            "input_schema": self.input_schema_,
            "report": self.report_,
        }
        return {STATE_FILE: json.dumps(state).encode()}

    @classmethod
    def load(cls, files: Mapping[str, bytes]) -> Self:
        try:
            state = json.loads(files[STATE_FILE])
            if not isinstance(state, dict) or state.get("format") != FORMAT_VERSION:
                raise ArtifactCorrupted("signal artifact: estimator.json is not a supported model state")
            est = cls(**state["params"])
            est.channels_, est.rate_ = list(state["channels"]), float(state["rate"])
            est.feature_names_, est.threshold_ = list(state["feature_names"]), float(state["threshold"])
            est.model_ = _Gauss.from_json(state["model"])
            est.input_schema_, est.report_ = state["input_schema"], state["report"]
        except (KeyError, ValueError, TypeError) as exc:
            raise ArtifactCorrupted(f"signal artifact cannot be read: {exc}") from exc
        return est
