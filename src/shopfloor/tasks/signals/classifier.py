"""Condition classes of vibration recordings (``task: "signal_classification"``).

:class:`SignalClassifier` cuts each recording into windows, reads the analyst's features from them
(:mod:`.features`) and compares LightGBM and a logistic regression on those features with a small
1D network on the window spectra (:mod:`.cnn`), by cross-validation whose folds keep every window of
a recording, and every recording of a group, on one side (:mod:`.split`). The chosen candidate is
refitted on every recording. A recording's answer is the mean of its windows' probabilities; its
explanation is the features' contributions (from the best feature model when the network answers)
and its envelope spectrum with the shaft speed and the defect orders marked.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd

from shopfloor.errors import ArtifactCorrupted, InvalidInput, NotFitted
from shopfloor.tasks.base import BaseEstimator, Capabilities, ProgressFn, no_progress
from shopfloor.tasks.compare import Compared, NewData
from shopfloor.tasks.options import is_whole, option_error
from shopfloor.tasks.signals import SIGNAL_CLASSIFICATION
from shopfloor.tasks.signals import features as F
from shopfloor.tasks.signals import prepare as P
from shopfloor.tasks.signals.compare import RECORDING_COLUMNS, compare_classified, records_of, window_scorer
from shopfloor.tasks.signals.explain import spectrum_view
from shopfloor.tasks.signals.models import FEATURE_MODELS, FeatureModel
from shopfloor.tasks.signals.split import grouped_folds, window_rows

logger = logging.getLogger(__name__)

STATE_FILE, FEATURES_FILE, CNN_FILE = "estimator.json", "features_model.json", "cnn.safetensors"
FORMAT_VERSION = 1
CANDIDATES = (*FEATURE_MODELS, "cnn")
METRICS = ("accuracy", "f1", "balanced_accuracy")


def _scores(y: np.ndarray, proba: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score

    pred = proba.argmax(axis=1)
    return {
        "accuracy": float(accuracy_score(y, pred)),
        "f1": float(f1_score(y, pred, average="macro")),
        "balanced_accuracy": float(balanced_accuracy_score(y, pred)),
    }


def _per_recording(proba: np.ndarray, rec: np.ndarray, n: int) -> np.ndarray:
    """The mean window probabilities of each recording: (recordings, classes)."""
    out = np.zeros((n, proba.shape[1]))
    np.add.at(out, rec, proba)
    return out / np.maximum(np.bincount(rec, minlength=n), 1)[:, None]


class SignalClassifier(BaseEstimator):
    """Vibration recording -> condition class; see the module doc and :class:`SignalClassificationOptions`."""

    declared: ClassVar[Mapping[str, Capabilities]] = {"signal_classification": SIGNAL_CLASSIFICATION}
    task: ClassVar[str] = "signal_classification"

    def __init__(
        self,
        window: int = 2048,
        max_windows: int = 64,
        defect_orders: dict[str, float] | None = None,
        envelope_band_hz: list[float] | None = None,
        candidates: list[str] | None = None,
        folds: int = 5,
        cnn_epochs: int = 30,
        metric: str | None = None,
        seed: int = 0,
        time_budget_s: float = 600.0,
        column_types: dict[str, str] | None = None,
    ) -> None:
        self.window = window
        self.max_windows = max_windows
        self.defect_orders = defect_orders
        self.envelope_band_hz = envelope_band_hz
        self.candidates = candidates
        self.folds = folds
        self.cnn_epochs = cnn_epochs
        self.metric = metric
        self.seed = seed
        self.time_budget_s = time_budget_s
        self.column_types = column_types

    def check_options(self) -> None:
        """Refuse impossible option values before any work (a 422 at ``["body", "options", name]``)."""
        P.check_common(self)
        chosen = self.candidates if self.candidates is not None else list(CANDIDATES)
        if not isinstance(chosen, list) or not chosen or not set(chosen) <= set(CANDIDATES):
            raise option_error("candidates", f"choose among {', '.join(CANDIDATES)}")
        if not is_whole(self.folds, 2, 10):
            raise option_error("folds", "must be a whole number from 2 to 10")
        if not is_whole(self.cnn_epochs, 1, 500):
            raise option_error("cnn_epochs", "must be a whole number from 1 to 500")
        if self.metric is not None and self.metric not in METRICS:
            raise option_error("metric", f"choose one of {', '.join(METRICS)}")

    # ------------------------------------------------------------------ fit
    def fit(self, frame: pd.DataFrame, target: str, progress: ProgressFn = no_progress) -> Self:
        """Windows, features, grouped cross-validation of the candidates, the best refitted."""
        t0 = time.perf_counter()
        self.check_options()
        budget = float(self.time_budget_s)
        deadline = t0 + budget
        if not target or target not in frame.columns or target in P.channel_columns(frame):
            raise InvalidInput(
                f"target column {target!r} is not a label column of the recordings",
                errors=[{"loc": ["body", "target"], "msg": "unknown column"}],
            )
        labelled = frame[frame[target].notna()].reset_index(drop=True)
        self.recording_rows_ = np.flatnonzero(frame[target].notna().to_numpy())  # each recording's row
        table = P.read_table(labelled, {target})
        labels = labelled[target].astype(str).to_numpy()
        self.classes_ = sorted(set(labels))
        if len(self.classes_) < 2:
            raise InvalidInput(
                f"target {target!r} has {len(self.classes_)} class(es) among the labelled recordings; "
                "two or more are needed",
                errors=[{"loc": ["body", "target"], "msg": "fewer than two classes"}],
            )
        y_rec = np.searchsorted(self.classes_, labels)
        notes = self._data_notes(table, labels, len(frame) - len(labelled))
        progress(0.05, "features", f"{len(table.names)} recordings, {len(table.channels)} channel(s)")
        win = P.table_features(self, table, P.FEATURE_SHARE * budget)
        self.channels_, self.rate_ = table.channels, table.rate
        self.feature_names_ = F.feature_names(table.channels, dict(self.defect_orders or {}))
        if win.per_recording < int(self.max_windows):
            notes.append(
                {
                    "code": "budget",
                    "message": f"windows per recording cut to {win.per_recording} by the time budget",
                }
            )
        folds, split = grouped_folds(table.groups, y_rec, int(self.folds), int(self.seed))
        if not folds:
            raise InvalidInput(
                "the recordings form one group: validation needs two groups or more (give each recording "
                "its own group, or several machines)",
                errors=[{"loc": ["body", "dataset_id"], "msg": "one group"}],
            )
        split["by"] = "group" if len(set(table.groups)) < len(table.names) else "recording"
        progress(0.25, "cross-validation", split["method"])
        metric = self.metric or "accuracy"
        results, spectra = self._compare(table, win, y_rec, folds, metric, deadline, progress, notes)
        best = max((r for r in results if r.get("cv_score") is not None), key=lambda r: r["cv_score"])
        best["chosen"] = True
        self.out_of_fold_ = self._oof[best["name"]]  # a retraining gate compares on them (not saved)
        del self._oof
        progress(0.85, "refitting", f"{best['name']} on every recording")
        self._refit(best["name"], results, win, y_rec, spectra, deadline)
        self.input_schema_ = P.input_schema(table.channels)
        self.report_ = {
            "task": self.task,
            "kind": "classification",
            "target": target,
            "classes": self.classes_,
            "metric": metric,
            "metrics": best["metrics"],
            "candidates": results,
            "chosen": best["name"],
            "split": split,
            "windows": {
                "length": int(self.window),
                "per_recording": win.per_recording,
                "total": int(len(win.x)),
                "feature_seconds": round(win.seconds, 3),
            },
            "channels": table.channels,
            "sampling_rate": table.rate,
            "defect_orders": dict(self.defect_orders or {}),
            "n_recordings": len(table.names),
            "warnings": notes,
            "fit_seconds": round(time.perf_counter() - t0, 3),
        }
        progress(1.0, "done", f"{best['name']}: {metric} {best['cv_score']:.4f} (grouped cross-validation)")
        return self

    def _data_notes(self, table: P.Table, labels: np.ndarray, unlabelled: int) -> list[dict[str, str]]:
        notes = []
        for cls in self.classes_:
            recs = int((labels == cls).sum())
            groups = len({g for g, lab in zip(table.groups, labels, strict=True) if lab == cls})
            if recs == 1:
                notes.append(
                    {
                        "code": "single_recording",
                        "message": f"class {cls!r} has a single recording: its "
                        "validation score measures another recording of nothing; record more",
                    }
                )
            elif groups == 1:
                notes.append({"code": "single_group", "message": f"class {cls!r} comes from one group only"})
        if unlabelled:
            notes.append(
                {"code": "unlabelled", "message": f"{unlabelled} recording(s) without a label left out"}
            )
        if np.isnan(table.rpm).all() and self.defect_orders:
            notes.append(
                {"code": "no_speed", "message": "no shaft speed known: the defect-order features are empty"}
            )
        return notes

    def _compare(
        self,
        table: P.Table,
        win: P.Windows,
        y_rec: np.ndarray,
        folds: list,
        metric: str,
        deadline: float,
        progress: ProgressFn,
        notes: list[dict[str, str]],
    ) -> tuple[list[dict[str, Any]], tuple[np.ndarray, np.ndarray] | None]:
        """Out-of-fold scores of each candidate; the network gets what the feature models left."""
        chosen = self.candidates if self.candidates is not None else list(CANDIDATES)
        n_rec = len(table.names)
        results: list[dict[str, Any]] = []
        self._oof: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        spectra = None
        for j, name in enumerate(chosen):
            started = time.perf_counter()
            if started > deadline - 1 and results:
                notes.append({"code": "budget", "message": f"{name} not tried: the time budget was spent"})
                continue
            if name == "cnn":
                spectra = self._spectra(table, win.per_recording)
                x, rec = spectra
            else:
                x, rec = win.x, win.rec
            y = y_rec[rec]
            oof = np.zeros((len(x), len(self.classes_)))
            for f, (tr, te) in enumerate(folds):
                a, b = window_rows(tr, rec), window_rows(te, rec)
                model = self._candidate(name, x[a], y[a], deadline, len(folds) + 1 - f)
                oof[b] = model.proba(x[b])
            window = _scores(y, oof)
            self._oof[name] = (oof, rec)
            by_rec = _per_recording(oof, rec, n_rec)
            recording = _scores(y_rec, by_rec)
            from sklearn.metrics import confusion_matrix

            results.append(
                {
                    "name": name,
                    "cv_score": window[metric],
                    "metrics": {
                        **window,
                        "recording_accuracy": recording["accuracy"],
                        "recording_f1": recording["f1"],
                        "confusion_matrix": confusion_matrix(
                            y_rec, by_rec.argmax(axis=1), labels=range(len(self.classes_))
                        ).tolist(),
                        "confusion_matrix_labels": self.classes_,
                        "confusion_level": "recording",
                    },
                    "seconds": round(time.perf_counter() - started, 3),
                    "chosen": False,
                }
            )
            progress(
                0.25 + 0.6 * (j + 1) / len(chosen),
                "cross-validation",
                f"{name}: {metric} {window[metric]:.4f}",
            )
        return results, spectra

    def _spectra(self, table: P.Table, most: int) -> tuple[np.ndarray, np.ndarray]:
        from shopfloor.tasks.signals.cnn import BINS

        blocks = [
            F.log_spectra(chans, int(self.window), most, min(BINS, int(self.window) // 2))
            for chans in table.samples
        ]
        return np.concatenate(blocks), np.concatenate([np.full(len(b), i) for i, b in enumerate(blocks)])

    def _candidate(self, name: str, x: np.ndarray, y: np.ndarray, deadline: float, share: int) -> Any:
        if name == "cnn":
            from shopfloor.tasks.signals.cnn import SpectrumNet

            own = time.perf_counter() + max(0.0, deadline - time.perf_counter()) * 0.8 / max(share, 1)
            return SpectrumNet(len(self.classes_), int(self.cnn_epochs), int(self.seed)).fit(x, y, own)
        return FeatureModel(name, len(self.classes_), int(self.seed)).fit(x, y)

    def _refit(
        self,
        name: str,
        results: list[dict[str, Any]],
        win: P.Windows,
        y_rec: np.ndarray,
        spectra: tuple[np.ndarray, np.ndarray] | None,
        deadline: float,
    ) -> None:
        """The chosen candidate on every recording; beside the network, the best feature model
        (its explanations)."""
        feature_runs = [r for r in results if r["name"] != "cnn"]
        explainer = name
        if name == "cnn":
            explainer = max(feature_runs, key=lambda r: r["cv_score"])["name"] if feature_runs else "logistic"
        self.features_model_ = FeatureModel(explainer, len(self.classes_), int(self.seed)).fit(
            win.x, y_rec[win.rec]
        )
        self.cnn_ = None
        if name == "cnn" and spectra is not None:
            x, rec = spectra
            self.cnn_ = self._candidate("cnn", x, y_rec[rec], deadline, 1)
        self.chosen_ = name

    # ------------------------------------------------------------------ predict / explain
    def _check_fitted(self) -> None:
        if not hasattr(self, "features_model_"):
            raise NotFitted("this SignalClassifier is not fitted yet; call fit() or load()")

    def _windows_of(self, records: Sequence[Mapping[str, Any]]) -> list[tuple[np.ndarray, Any, list[str]]]:
        read = P.read_records(records, self.channels_, self.rate_, int(self.window))
        orders = dict(self.defect_orders or {})
        band = P.envelope_band(self.envelope_band_hz)
        most = int(self.report_["windows"]["per_recording"])
        return [
            (
                F.recording_features(chans, self.rate_, rpm, int(self.window), most, orders, band),
                (chans, rpm),
                warns,
            )
            for chans, rpm, warns in read
        ]

    def _proba(self, x: np.ndarray, chans: list[np.ndarray], most: int) -> np.ndarray:
        if self.cnn_ is not None:
            from shopfloor.tasks.signals.cnn import BINS

            return self.cnn_.proba(
                F.log_spectra(chans, int(self.window), most, min(BINS, int(self.window) // 2))
            )
        return self.features_model_.proba(x)

    def predict(self, records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Per record: ``label``, ``probabilities`` (mean over its windows), ``windows``, ``agreement``
        (the share of windows whose own answer is the label) and ``warnings``."""
        self._check_fitted()
        if not records:
            return []
        most = int(self.report_["windows"]["per_recording"])
        out = []
        for x, (chans, _), warns in self._windows_of(records):
            proba = self._proba(x, chans, most)
            mean = proba.mean(axis=0)
            k = int(mean.argmax())
            out.append(
                {
                    "label": self.classes_[k],
                    "probabilities": {
                        c: round(float(p), 6) for c, p in zip(self.classes_, mean, strict=True)
                    },
                    "windows": int(len(proba)),
                    "agreement": round(float((proba.argmax(axis=1) == k).mean()), 4),
                    "warnings": warns,
                }
            )
        return out

    def explain(self, records: Sequence[Mapping[str, Any]], method: str = "shap") -> list[dict[str, Any]]:
        """Per record: the class and its probability, the features' contributions to it (mean over
        windows, in log-odds), and the envelope spectrum with the defect orders marked (``spectrum``
        data and ``spectrum_svg``)."""
        self._check_fitted()
        if method not in SIGNAL_CLASSIFICATION.explain:
            raise InvalidInput(
                f"unknown explanation method {method!r}; "
                "signal models explain by 'shap' (feature contributions)",
                errors=[{"loc": ["query", "method"], "msg": "unknown method"}],
            )
        if not records:
            return []
        most = int(self.report_["windows"]["per_recording"])
        out = []
        for x, (chans, rpm), _ in self._windows_of(records):
            mean = self._proba(x, chans, most).mean(axis=0)
            k = int(mean.argmax())
            contrib = self.features_model_.contributions(x, k).mean(axis=0)
            order = np.argsort(-np.abs(contrib))
            out.append(
                {
                    "method": "shap",
                    "class": self.classes_[k],
                    "output": round(float(mean[k]), 6),
                    "output_space": "probability",
                    "explained_by": self.features_model_.kind
                    + (" (the network's surrogate)" if self.cnn_ is not None else ""),
                    "contributions": {self.feature_names_[i]: round(float(contrib[i]), 6) for i in order},
                    "feature_values": {
                        self.feature_names_[i]: _plain(F.nan_stat(np.nanmean, x[:, i])) for i in order[:10]
                    },
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

    # ------------------------------------------------------------------ retraining
    def columns_read(self) -> list[str]:
        """The recording table's rate, shaft speed, group and name besides the channels."""
        return list(RECORDING_COLUMNS)

    def window_probabilities(self, frame: pd.DataFrame) -> list[np.ndarray]:
        """Per recording of a recording table: the class probabilities of each of its windows."""
        self._check_fitted()
        most = int(self.report_["windows"]["per_recording"])
        windows = self._windows_of(records_of(frame, self.channels_))
        return [self._proba(x, chans, most) for x, (chans, _), _ in windows]

    def row_scorer(self, frame: pd.DataFrame, target: str) -> Callable[[np.ndarray], dict[str, float]]:
        """Window-level accuracy, macro F1 and balanced accuracy on any selection of the labelled
        recordings (the report's figures); a label the model never learnt counts against it."""
        if target not in frame.columns:
            raise InvalidInput(f"no column {target!r} among the recordings to score")
        truth = frame[target].to_numpy(dtype=object)
        return window_scorer(truth, self.window_probabilities(frame), self.classes_)

    def compare_with(self, champion: Any, data: NewData) -> Compared:
        """On the recordings of the new data (see :mod:`shopfloor.tasks.signals.compare`)."""
        return compare_classified(self, champion, data)

    # ------------------------------------------------------------------ persistence
    def save(self) -> dict[str, bytes]:
        self._check_fitted()
        state = {
            "format": FORMAT_VERSION,
            "params": {**self.get_params(), "column_types": None},
            "classes": self.classes_,
            "channels": self.channels_,
            "rate": self.rate_,
            "feature_names": self.feature_names_,
            "chosen": self.chosen_,
            "input_schema": self.input_schema_,
            "report": self.report_,
        }
        files = {
            STATE_FILE: json.dumps(state).encode(),
            FEATURES_FILE: json.dumps(self.features_model_.to_json()).encode(),
        }
        if self.cnn_ is not None:
            weights, meta = self.cnn_.save()
            state["cnn"] = meta
            files[STATE_FILE] = json.dumps(state).encode()
            files[CNN_FILE] = weights
        return files

    @classmethod
    def load(cls, files: Mapping[str, bytes]) -> Self:
        try:
            state = json.loads(files[STATE_FILE])
            if not isinstance(state, dict) or state.get("format") != FORMAT_VERSION:
                raise ArtifactCorrupted("signal artifact: estimator.json is not a supported model state")
            est = cls(**state["params"])
            est.classes_, est.channels_, est.rate_ = (
                list(state["classes"]),
                list(state["channels"]),
                float(state["rate"]),
            )
            est.feature_names_, est.chosen_ = list(state["feature_names"]), str(state["chosen"])
            est.input_schema_, est.report_ = state["input_schema"], state["report"]
            est.features_model_ = FeatureModel.from_json(json.loads(files[FEATURES_FILE]))
            est.cnn_ = None
            if "cnn" in state:
                from shopfloor.tasks.signals.cnn import SpectrumNet

                est.cnn_ = SpectrumNet.load(files[CNN_FILE], state["cnn"])
        except (KeyError, ValueError, TypeError) as exc:
            raise ArtifactCorrupted(f"signal artifact cannot be read: {exc}") from exc
        return est


def _plain(value: Any) -> float | None:
    return round(float(value), 6) if np.isfinite(value) else None
