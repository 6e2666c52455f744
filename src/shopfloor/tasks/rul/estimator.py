"""Remaining useful life (RUL) from run-to-failure sensor histories.

:class:`RulEstimator` implements :class:`~shopfloor.tasks.base.Estimator` for long tables
(one row per asset and time). The target is derived: time until the asset's last
observation (cycles, or hours for a timestamp time column), capped at ``cap``.

Training is cross-validation by asset: the assets are split into folds (5, or 3 for fewer
than 20 assets); for each fold, a LightGBM model on rolling-window features and a 1D CNN on
the raw window are fitted on the other folds' assets, early-stopped on a validation share of
those assets (never on both sides), and scored on the fold's held-out assets at every
truncation point. Candidates (``lightgbm``, ``cnn`` and ``ensemble``, their weighted mean
with the weight fitted on the held-out predictions) are chosen by their cross-validated
error on the held-out folds. The served model is the mean
of the chosen candidate's fold models (a bag); its intervals are cross-conformal,
calibrated on the held-out predictions. The fold models, their held-out evaluation and the
served bag are in :mod:`shopfloor.tasks.rul.models`.
Artifacts: ``rul.json`` plus LightGBM text files and one safetensors file (no pickle).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd

from shopfloor.data.series import (
    SeriesSpec,
    assets_kept_apart,
    check_history,
    file_rows,
    plain,
    records_frame,
    request_records,
)
from shopfloor.errors import ArtifactCorrupted, InvalidDataset, InvalidInput, NotFitted
from shopfloor.tasks.base import BaseEstimator, Capabilities, ProgressFn, no_progress
from shopfloor.tasks.compare import Compared, NewData
from shopfloor.tasks.options import is_whole, option_error
from shopfloor.tasks.rul import RUL
from shopfloor.tasks.rul import metrics as R
from shopfloor.tasks.rul.compare import compare_assets
from shopfloor.tasks.rul.features import (
    FEATURE_WINDOWS,
    Prepared,
    Scaler,
    derive_targets,
    input_values,
    time_kind,
    usable_sensors,
)
from shopfloor.tasks.rul.models import (
    METRICS,
    FoldModels,
    Members,
    candidate_reports,
    ensemble_weight,
    evaluate_chosen,
    train_fold,
)
from shopfloor.tasks.state_file import read_state

logger = logging.getLogger(__name__)

CANDIDATES = ("lightgbm", "cnn", "ensemble")
STATE_FILE = "rul.json"
FORMAT_VERSION = 1
#: The fewest rows per asset a prediction accepts: the shortest feature window. Training and
#: calibration use every truncation point from there on, so each accepted query length is covered.
MIN_POINTS = min(FEATURE_WINDOWS)
DEFAULT_EPOCHS = 40
#: Share of the time budget kept for calibration and the report after the folds.
RESERVE = 0.05
#: Rows scored at once by predict_frame (whole assets; bounds the memory of the network windows).
FRAME_CHUNK_ROWS = 50_000


class RulEstimator(BaseEstimator):
    """RUL estimator; hyper-parameters as in the module docstring (scikit-learn style).

    ``cap``: the target's ceiling (None: uncapped); ``window``: network window (rows);
    ``candidates``: subset of ``lightgbm``, ``cnn``, ``ensemble`` (default all);
    ``max_epochs``: network epochs per fold (default 40, fewer when the budget runs out);
    ``age_feature``: for a numeric time column (cycles, operating hours since the asset
    started), use its value as the asset's age; set False when it is not (e.g. epoch seconds).
    ``metric`` selects the candidate: rmse (default), mae or phm08_score.
    """

    declared: ClassVar[Mapping[str, Capabilities]] = {"rul": RUL}

    task: ClassVar[str] = "rul"
    #: The fewest training assets: three asset folds, each fitted on the others minus a validation share.
    MIN_ASSETS: ClassVar[int] = RUL.min_assets

    def __init__(
        self,
        asset_column: str = "asset",
        time_column: str = "time",
        sensors: list[str] | None = None,
        seed: int = 0,
        time_budget_s: float = 600.0,
        metric: str | None = None,
        column_types: dict[str, str] | None = None,
        cap: float | None = 125.0,
        window: int = 30,
        candidates: list[str] | None = None,
        max_epochs: int | None = None,
        age_feature: bool = True,
    ) -> None:
        self.asset_column = asset_column
        self.time_column = time_column
        self.sensors = sensors
        self.seed = seed
        self.time_budget_s = time_budget_s
        self.metric = metric
        self.column_types = column_types
        self.cap = cap
        self.window = window
        self.candidates = candidates
        self.max_epochs = max_epochs
        self.age_feature = age_feature

    # ------------------------------------------------------------------ fit
    def check_options(self) -> None:
        """Refuse impossible option values before any work (a 422 at ``["body", "options", name]``)."""
        self._settled_options()

    def _settled_options(self) -> tuple[str, list[str]]:
        """Refuse an impossible option before any work (422 at ``["body", "options", name]``).

        Returns the selection metric and the candidate names to train.
        """
        metric = self.metric or "rmse"
        if metric not in METRICS:
            raise option_error("metric", f"{metric!r} is not one of {', '.join(METRICS)}")
        wanted = list(self.candidates) if self.candidates is not None else list(CANDIDATES)
        if not wanted or len(set(wanted)) != len(wanted) or any(c not in CANDIDATES for c in wanted):
            raise option_error("candidates", f"must list distinct names among {', '.join(CANDIDATES)}; "
                                             f"got {wanted!r}")
        cap = self.cap
        if cap is not None and (isinstance(cap, bool) or not isinstance(cap, int | float) or not cap > 0):
            raise option_error("cap", f"must be a positive number (or null for no cap), not {cap!r}")
        if not is_whole(self.window, MIN_POINTS, 1000):
            raise option_error("window", f"must be a whole number from {MIN_POINTS} to 1000, "
                                         f"not {self.window!r}")
        if self.max_epochs is not None and not is_whole(self.max_epochs, 1, 10_000):
            raise option_error("max_epochs", f"must be a whole number from 1 to 10000, "
                                             f"not {self.max_epochs!r}")
        if not isinstance(self.age_feature, bool):
            raise option_error("age_feature", f"must be true or false, not {self.age_feature!r}")
        return metric, wanted

    def _sensor_columns(self, frame: pd.DataFrame, target: str | None) -> list[str]:
        if self.sensors is not None:
            return list(self.sensors)
        skip = {self.asset_column, self.time_column, *([target] if target else [])}
        types = self.column_types or {}
        return [
            c for c in frame.columns
            if c not in skip and types.get(c, "numeric") == "numeric"
            and pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])
        ]

    def fit(self, frame: pd.DataFrame, target: str | None = None, progress: ProgressFn = no_progress) -> Self:
        """Derive targets, cross-validate the candidates by asset, choose, calibrate and report.

        Raises :class:`InvalidInput` for a bad option (see :meth:`check_options`) and
        :class:`InvalidDataset` for a history the checks refuse (fewer than 6 assets, an asset
        under 5 rows, unsorted time...) or without a varying sensor. ``progress`` exceptions
        (cancellation) propagate.
        """
        t0 = time.monotonic()
        metric, wanted = self._settled_options()
        progress(0.0, "preparing", "checking the histories and deriving targets")
        prep, y, dropped = self._prepare(frame, target)
        progress(0.03, "preparing", "building window features")
        usable = prep.position >= MIN_POINTS - 1
        # each asset weighs the same: one query at a uniformly random accepted truncation point
        weights = np.where(usable, 1.0 / np.maximum(prep.length - MIN_POINTS + 1, 1), 0.0)
        components = {c for c in ("lightgbm", "cnn") if c in wanted or "ensemble" in wanted}
        data = {
            "y": y, "usable": usable, "codes": prep.codes,
            "features": prep.features() if "lightgbm" in components else None,
            "sequences": prep.sequences(self.window) if "cnn" in components else None,
        }
        folds = _asset_folds(len(prep.names), self.seed)
        results = self._cross_validate(data, folds, components, y, t0, progress)

        progress(0.86, "calibrating", "choosing the candidate and calibrating intervals")
        candidates, blend = self._choose(results, wanted, y, weights, metric)
        self.min_points_ = MIN_POINTS
        self.input_schema_ = [
            {"name": self.asset_column, "type": "categorical", "role": "asset"},
            {"name": self.time_column, "type": self.time_kind_, "role": "time"},
            *({"name": s, "type": "numeric", "role": "sensor"} for s in self.spec_.sensors),
        ]
        held_out, stability, self.bands_ = evaluate_chosen(results, blend[self.chosen_], y, weights, prep,
                                                       self._clip)
        self._keep_held_out(results, blend[self.chosen_], y, weights, prep)
        self.report_ = self._fit_report(metric, held_out, stability, candidates, results, len(folds),
                                        dropped, len(prep.names), t0)
        progress(1.0, "done", f"{self.chosen_}: held-out RMSE {held_out['rmse']:.2f}, "
                              f"80% coverage {held_out['coverage_80']:.2f}")
        return self

    def _cross_validate(
        self, data: dict[str, Any], folds: list[np.ndarray], components: set[str], y: np.ndarray,
        t0: float, progress: ProgressFn,
    ) -> list[FoldModels]:
        """Train the components on every fold of assets, each fold with its share of the budget."""
        budget_end = t0 + float(self.time_budget_s) * (1 - RESERVE)
        results: list[FoldModels] = []
        for k, held in enumerate(folds):
            start, share = 0.05 + 0.8 * k / len(folds), 0.8 / len(folds)
            fold_end = time.monotonic() + max(0.0, budget_end - time.monotonic()) / (len(folds) - k)

            def fold_progress(f: float, stage: str, msg: str, at: float = start, w: float = share) -> None:
                progress(at + w * f, stage, msg)

            results.append(train_fold(
                data, held, folds, k, components=components, window=self.window, cap=self._scale(y),
                seed=self.seed + k, max_epochs=self.max_epochs or DEFAULT_EPOCHS, deadline=fold_end,
                progress=fold_progress,
            ))
        return results

    def _choose(
        self, results: list[FoldModels], wanted: list[str], y: np.ndarray, weights: np.ndarray, metric: str
    ) -> tuple[list[dict[str, Any]], dict[str, float]]:
        """Score the candidates on the held-out predictions, keep the best (``chosen_``, ``members_``).

        Returns the candidates' reports and each candidate's blend weight of LightGBM.
        """
        blend = {"lightgbm": 1.0, "cnn": 0.0}
        if "ensemble" in wanted:
            blend["ensemble"] = ensemble_weight(results, y, weights, metric, self._clip)
        candidates = candidate_reports(results, wanted, y, weights, self._clip, blend)
        self.chosen_ = min(candidates, key=lambda c: c["metrics"][metric])["name"]
        self.members_ = Members.from_folds(results, self.chosen_, blend[self.chosen_], self._scale(y))
        return candidates, blend

    def _fit_report(
        self, metric: str, held_out: dict[str, Any], stability: dict[str, Any],
        candidates: list[dict[str, Any]], results: list[FoldModels], n_folds: int,
        dropped: list[dict[str, str]], n_assets: int, t0: float,
    ) -> dict[str, Any]:
        """The fit report: target, held-out metrics and how they were measured, candidates, intervals."""
        return {
            "task": self.task,
            "target": {"definition": f"{'hours' if self.time_kind_ == 'datetime' else 'time units (cycles)'} "
                                     "until the asset's last observation", "cap": self.cap,
                       "unit": "hours" if self.time_kind_ == "datetime" else "time"},
            "metric": metric,
            "metrics": held_out,
            "evaluation": (
                f"{n_folds}-fold cross-validation by asset: every asset is held out once and scored by "
                f"models fitted without it at every truncation point of its history (>= {MIN_POINTS} "
                "rows), each asset weighted equally (= one query per asset at a uniformly random "
                "truncation point, like the C-MAPSS test protocol); errors against the capped target; "
                "phm08_score is per query of each held-out asset, summed over assets (phm08_per_asset: "
                "its mean per asset, comparable between folds and the whole set). Candidates are "
                "chosen on these predictions (a mild optimism with three candidates); the served model "
                "averages the fold models, which usually makes it a little more accurate than reported. "
                "Coverage: each fold's intervals calibrated on the other folds."
            ),
            "stability": stability,
            "candidates": candidates,
            "chosen": self.chosen_,
            "series": {**self.spec_.to_dict(), "window": self.window, "min_points": MIN_POINTS},
            "features": {"windows": list(FEATURE_WINDOWS), "age": self.time_column if self.age_ else None,
                         "dropped": dropped},
            "intervals": {"method": "cross-conformal: quantiles of the fold models' held-out residuals per "
                                    "bin of the estimate (Mondrian)", **self.bands_.to_json()},
            "training": [r.summary() for r in results],
            "warnings": [{"code": "sensor-dropped", "message": f"sensor {d['name']!r} left out: "
                                                               f"{d['reason']}"} for d in dropped],
            "n_assets": n_assets,
            "fit_seconds": round(time.monotonic() - t0, 3),
        }

    def _keep_held_out(
        self, results: list[FoldModels], gbm_weight: float, y: np.ndarray, weights: np.ndarray, prep: Prepared
    ) -> None:
        """The fold models' held-out points (a retraining gate compares on them; not saved)."""
        rows = np.concatenate([r.test_rows for r in results])
        pred = self._clip(np.concatenate([r.held_out(gbm_weight) for r in results]))
        self.asset_codes_ = prep.codes
        self.held_out_ = {"rows": rows, "pred": pred, "y": y[rows], "weights": weights[rows],
                          "codes": prep.codes[rows]}

    def combine(self, frames: Sequence[pd.DataFrame], names: Sequence[str]) -> pd.DataFrame:
        """Each dataset's histories kept apart: an asset id in two datasets is two lives."""
        return assets_kept_apart(frames, self.asset_column)

    def compare_with(self, champion: Any, data: NewData) -> Compared:
        """On the assets of the new data (see :mod:`shopfloor.tasks.rul.compare`)."""
        return compare_assets(self, champion, data)

    def _prepare(
        self, frame: pd.DataFrame, target: str | None
    ) -> tuple[Prepared, np.ndarray, list[dict[str, str]]]:
        """Validate the training history, keep the varying sensors, derive targets and scale.

        Sets ``spec_``, ``time_kind_``, ``age_`` and ``scaler_``; returns the prepared history,
        the targets and the sensors left out (``{"name", "reason"}``).
        """
        sensors = self._sensor_columns(frame, target)
        spec = SeriesSpec(self.asset_column, self.time_column, tuple(sensors))
        kind = time_kind(frame[self.time_column]) if self.time_column in frame.columns else "numeric"
        frame = check_history(frame.reset_index(drop=True), spec, where=file_rows, min_points=MIN_POINTS,
                              min_assets=self.MIN_ASSETS, error=InvalidDataset)
        kept, dropped = usable_sensors(frame, sensors)
        for d in dropped:
            logger.warning("sensor %r left out: %s", d["name"], d["reason"])
        if not kept:
            raise InvalidDataset("no sensor varies in the training histories; nothing to learn from",
                                 errors=[{"loc": ["file"], "msg": "no usable sensor"}])
        self.spec_ = SeriesSpec(self.asset_column, self.time_column, tuple(kept))
        self.time_kind_, self.age_ = kind, bool(self.age_feature) and kind == "numeric"
        self.scaler_ = Scaler.fit(input_values(frame, self.spec_, self.age_))
        y = derive_targets(frame, self.spec_, kind, self.cap)
        return Prepared.build(frame, self.spec_, self.scaler_, self.age_), y, dropped

    def _scale(self, y: np.ndarray) -> float:
        """Network output scale: the cap, or the largest training target when uncapped."""
        return float(self.cap) if self.cap is not None else float(max(np.max(y), 1.0))

    def _clip(self, raw: np.ndarray) -> np.ndarray:
        return np.clip(raw, 0.0, self.cap if self.cap is not None else None)

    # ------------------------------------------------------------------ predict
    def _check_fitted(self) -> None:
        if not hasattr(self, "members_"):
            raise NotFitted("this RulEstimator is not fitted yet; call fit() or load()")

    def _history(self, records: Sequence[Mapping[str, Any]]) -> tuple[pd.DataFrame, Prepared, np.ndarray]:
        """The validated request history, prepared, and each asset's last row (first-appearance order)."""
        frame = check_history(records_frame(records, self.spec_), self.spec_, where=request_records,
                              min_points=self.min_points_)
        prep = Prepared.build(frame, self.spec_, self.scaler_, self.age_)
        last = pd.Series(np.arange(len(prep.codes))).groupby(prep.codes).last().to_numpy()
        return frame, prep, last

    def _warnings(self, frame: pd.DataFrame, prep: Prepared, row: int) -> list[str]:
        mine = frame[prep.codes == prep.codes[row]]
        out = [f"sensor {s!r}: {n} missing value(s) carried forward (or the training mean)"
               for s, n in mine[list(self.spec_.sensors)].isna().sum().items() if n]
        if len(mine) < self.window:
            out.append(f"{len(mine)} rows, fewer than the model's window of {self.window}: the history is "
                       "taken as the asset's whole life and padded with its first row")
        return out

    def predict(self, records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Per asset (first-appearance order): ``asset``, ``time`` (its last), ``rul``, ``interval_80``,
        ``interval_95`` (``[lower, upper]``, lower never below 0) and ``warnings``.

        Raises :class:`InvalidInput` (422, naming the asset and record) for a history the checks refuse.
        """
        self._check_fitted()
        if not records:
            return []
        frame, prep, last = self._history(records)
        rul = self._clip(self.members_.output(prep, last, self.window))
        bands = {lv: self.bands_.intervals(rul, lv) for lv in R.LEVELS}
        return [
            {
                "asset": plain(prep.names[i]),
                "time": plain(records[row].get(self.time_column)),
                "rul": float(rul[i]),
                "interval_80": [float(bands[0.8][0][i]), float(bands[0.8][1][i])],
                "interval_95": [float(bands[0.95][0][i]), float(bands[0.95][1][i])],
                "warnings": self._warnings(frame, prep, row),
            }
            for i, row in enumerate(last)
        ]

    def predict_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Per row, the estimate from the asset's history up to and including that row.

        Columns ``rul``, ``rul_lower_80``, ``rul_upper_80``, ``rul_lower_95``, ``rul_upper_95``;
        same index and order as ``frame``. Rows before an asset's ``min_points``-th row are NaN.
        Each asset's rows must be in time order (as in training).
        """
        self._check_fitted()
        checked = check_history(frame.reset_index(drop=True), self.spec_, where=file_rows)
        codes = pd.factorize(checked[self.asset_column], sort=False)[0]
        rul = np.full(len(checked), np.nan)
        sizes = np.bincount(codes) if len(codes) else np.zeros(0, int)
        group = np.cumsum(sizes) // FRAME_CHUNK_ROWS if len(sizes) else sizes
        for g in np.unique(group):
            rows = np.flatnonzero(np.isin(codes, np.flatnonzero(group == g)))
            prep = Prepared.build(checked.iloc[rows], self.spec_, self.scaler_, self.age_)
            ok = np.flatnonzero(prep.position >= self.min_points_ - 1)
            rul[rows[ok]] = self._clip(self.members_.output(prep, ok, self.window))
        out = {"rul": rul}
        for level in R.LEVELS:
            lo, hi = np.full(len(rul), np.nan), np.full(len(rul), np.nan)
            ok = ~np.isnan(rul)
            lo[ok], hi[ok] = self.bands_.intervals(rul[ok], level)
            out[f"rul_lower_{level * 100:.0f}"], out[f"rul_upper_{level * 100:.0f}"] = lo, hi
        return pd.DataFrame(out, index=frame.index)

    def drift_outputs(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The remaining-life estimate per row (its interval bounds follow it and add nothing)."""
        return self.predict_frame(frame)[["rul"]]

    # ------------------------------------------------------------------ explain
    def explain(self, records: Sequence[Mapping[str, Any]], method: str = "shap") -> list[dict[str, Any]]:
        """Per asset: signed contributions per sensor, largest first.

        ``base_value + sum(contributions) == output`` (the model output before clipping to
        [0, cap]; ``rul`` is the clipped estimate): exactly for LightGBM (TreeSHAP summed over
        each sensor's window features), up to the integration error for the network (integrated
        gradients summed over the window, against the training mean), and for the ensemble the
        weighted mean of both. When the age (the time column's value) is a model input, its
        share is ``age_contribution`` and is included in ``base_value``: the base is then the
        estimate for an asset of that age, and the contributions say what the sensors add.
        """
        self._check_fitted()
        if method != "shap":
            raise InvalidInput(f"unknown explanation method {method!r}; use 'shap'",
                               errors=[{"loc": ["body", "method"], "msg": "unknown method"}])
        if not records:
            return []
        frame, prep, last = self._history(records)
        base, contrib, output, how = self.members_.contributions(prep, last, self.window)
        rul = self._clip(self.members_.output(prep, last, self.window))
        n_sensors = len(self.spec_.sensors)
        age = contrib[:, n_sensors] if self.age_ else np.zeros(len(last))
        out = []
        for i, row in enumerate(last):
            pairs = sorted(zip(self.spec_.sensors, contrib[i, :n_sensors].tolist(), strict=True),
                           key=lambda p: -abs(p[1]))
            out.append({
                "asset": plain(prep.names[i]),
                "time": plain(records[row].get(self.time_column)),
                "method": how,
                "rul": float(rul[i]),
                "output": float(output[i]),
                "base_value": float(base[i] + age[i]),
                "age_contribution": float(age[i]) if self.age_ else None,
                "contributions": dict(pairs),
                "warnings": self._warnings(frame, prep, row),
            })
        return out

    # ------------------------------------------------------------------ persistence
    def save(self) -> dict[str, bytes]:
        """``rul.json`` (state, report, schema, scaling, calibration) plus the model files."""
        self._check_fitted()
        state = {
            "format": FORMAT_VERSION,
            "params": self.get_params(),
            "spec": self.spec_.to_dict(),
            "time_kind": self.time_kind_,
            "age": self.age_,
            "scaler": self.scaler_.to_json(),
            "bands": self.bands_.to_json(),
            "chosen": self.chosen_,
            "min_points": self.min_points_,
            "members": self.members_.manifest(),
            "input_schema": self.input_schema_,
            "report": self.report_,
        }
        return {STATE_FILE: json.dumps(state).encode(), **self.members_.files()}

    @classmethod
    def load(cls, files: Mapping[str, bytes]) -> Self:
        """Rebuild a fitted estimator from :meth:`save` output (raises :class:`ArtifactCorrupted`)."""
        try:
            state = read_state(files, STATE_FILE, FORMAT_VERSION, "RUL")
            est = cls(**state["params"])
            est.spec_ = SeriesSpec.from_dict(state["spec"])
            est.time_kind_, est.age_ = state["time_kind"], bool(state["age"])
            est.scaler_ = Scaler.from_json(state["scaler"])
            est.bands_ = R.ConformalBands.from_json(state["bands"])
            est.chosen_, est.min_points_ = state["chosen"], int(state["min_points"])
            est.members_ = Members.load(state["members"], files)
            est.input_schema_, est.report_ = state["input_schema"], state["report"]
        except (KeyError, ValueError, TypeError, RuntimeError) as exc:
            raise ArtifactCorrupted(f"RUL artifact cannot be read: {exc}") from exc
        return est


def _asset_folds(n_assets: int, seed: int) -> list[np.ndarray]:
    """Asset codes split into 5 folds (3 below 20 assets), shuffled by ``seed``."""
    order = np.random.default_rng(seed).permutation(n_assets)
    return [np.sort(f) for f in np.array_split(order, 5 if n_assets >= 20 else 3)]
