"""Demand forecasting (``task: "forecast"``): many series, chosen by rolling-origin backtest.

``fit`` reads a long table (series id, period, demand), checks it (:mod:`shopfloor.tasks.forecast.panel`),
runs every candidate that fits the time budget through a backtest with ``n_windows`` origins
(:mod:`shopfloor.tasks.forecast.backtest`), picks the model with the lowest MASE (for the whole panel, or
per series with ``per_series``), then refits it on the full history and forecasts ``horizon``
periods for every series. Intervals are conformal, from the backtest's scaled errors.

The model is its forecasts: ``forecast(series, horizon, levels)`` slices them and widens them by the
stored error quantiles at any level, so serving needs no model code. Artifacts are JSON plus
safetensors arrays; nothing is pickled.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd

from shopfloor.errors import ArtifactCorrupted, InvalidInput, NotFitted
from shopfloor.tasks.base import BaseEstimator, Capabilities, ProgressFn, no_progress
from shopfloor.tasks.compare import Compared, NewData
from shopfloor.tasks.forecast import FORECAST
from shopfloor.tasks.forecast import backtest as B
from shopfloor.tasks.forecast import candidates as C
from shopfloor.tasks.forecast.compare import compare_at_origin
from shopfloor.tasks.forecast.panel import Panel, build_panel, demand_classes
from shopfloor.tasks.options import check_time_budget, is_whole, option_error

FORMAT_VERSION = 1
ESTIMATOR_FILE, ARRAYS_FILE = "estimator.json", "forecasts.safetensors"
#: Fewest periods a series needs before the first backtest origin.
MIN_TRAIN = 8
DEFAULT_LEVELS = (80, 95)
#: Share of the time budget the candidates' projected backtest may take.
BUDGET_SHARE = 0.8


class Forecaster(BaseEstimator):
    """Series id + period + demand -> point forecasts and calibrated intervals per series and step.

    ``series_column`` / ``time_column`` / ``value_column``: the long table's columns;
    ``horizon``: periods forecast (the most a request may ask); ``n_windows``: backtest origins
    (at least 2); ``season_length``: periods per season (default from the dates' frequency);
    ``per_series``: choose the model per series instead of for the whole panel; ``candidates``:
    restrict the models tried (``seasonal_naive`` always runs as the reference); ``covariates``:
    numeric columns known in advance (planned promotions, shifts): the global boosted model uses
    them, and rows after a series' last demand value give their future values (a forecast reaches
    only as far as they are known).
    """

    declared: ClassVar[Mapping[str, Capabilities]] = {"forecast": FORECAST}

    task: ClassVar[str] = "forecast"

    def __init__(
        self,
        series_column: str = "series",
        time_column: str = "time",
        value_column: str = "value",
        horizon: int = 8,
        n_windows: int = 3,
        season_length: int | None = None,
        per_series: bool = False,
        candidates: list[str] | None = None,
        covariates: list[str] | None = None,
        metric: str | None = None,
        seed: int = 0,
        time_budget_s: float = 300,
        column_types: dict[str, str] | None = None,
    ) -> None:
        self.series_column = series_column
        self.time_column = time_column
        self.value_column = value_column
        self.horizon = horizon
        self.n_windows = n_windows
        self.season_length = season_length
        self.per_series = per_series
        self.candidates = candidates
        self.covariates = covariates
        self.metric = metric
        self.seed = seed
        self.time_budget_s = time_budget_s
        self.column_types = column_types

    # ------------------------------------------------------------------ options
    def check_options(self) -> None:
        for name in ("series_column", "time_column", "value_column"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise option_error(name, "must name a column")
        if not is_whole(self.horizon, 1, 1000):
            raise option_error("horizon", "must be a whole number of periods from 1 to 1000")
        if not is_whole(self.n_windows, 2, 50):
            raise option_error(
                "n_windows", "must be a whole number from 2 to 50 (a backtest needs several origins)"
            )
        if self.season_length is not None and not is_whole(self.season_length, 1, 366):
            raise option_error("season_length", "must be a whole number of periods from 1 to 366")
        if not isinstance(self.per_series, bool):
            raise option_error("per_series", "must be true or false")
        if self.candidates is not None:
            unknown = (
                [c for c in self.candidates if c not in C.ORDER] if isinstance(self.candidates, list) else [0]
            )
            if unknown or not self.candidates:
                raise option_error("candidates", f"a list of model names from: {', '.join(C.ORDER)}")
        if self.covariates is not None and (
            not isinstance(self.covariates, list) or not all(isinstance(c, str) for c in self.covariates)
        ):
            raise option_error("covariates", "a list of column names")
        if self.metric not in (None, "mase"):
            raise option_error("metric", "forecasts are chosen by 'mase'")
        check_time_budget(self.time_budget_s)

    def settle_columns(self, columns: Sequence[Mapping[str, Any]]) -> dict[str, str]:
        """The three columns to read: the options', or the roles a wide-to-long conversion gave."""
        roles = {c.get("role"): c["name"] for c in columns if c.get("role") in ("series", "time", "value")}
        return {
            "series_column": roles.get("series", self.series_column),
            "time_column": roles.get("time", self.time_column),
            "value_column": roles.get("value", self.value_column),
        }

    def settle_options(
        self,
        options: dict[str, Any],
        columns: Sequence[Mapping[str, Any]],
        request: Mapping[str, Any],
        dataset: str,
    ) -> dict[str, Any]:
        """The options with the three columns settled: the options', else the roles a wide-to-long
        conversion gave; a column the dataset lacks must be named (422 at ``options.<name>``)."""
        names = {c["name"] for c in columns}
        for key, value in self.settle_columns(columns).items():
            if options.get(key) is None and value not in names:
                raise InvalidInput(
                    f"name the {key.removesuffix('_column')} column in options.{key}: dataset "
                    f"{dataset!r} has no column {value!r}",
                    errors=[{"loc": ["body", "options", key], "msg": "field required"}],
                )
            options.setdefault(key, value)
        return options

    def check_dataset(self, load: Callable[[], pd.DataFrame]) -> None:
        """The series are checked before a job exists (see :meth:`check_data`)."""
        self.check_data(load())

    def check_data(self, frame: pd.DataFrame) -> None:
        """Refuse a table the forecaster cannot backtest (before a job is queued): bad periods or
        values, duplicate periods, series shorter than the season or than two backtest windows."""
        self._checked_panel(frame)

    def _checked_panel(
        self, frame: pd.DataFrame
    ) -> tuple[Panel, dict[str, np.ndarray], int, list[dict[str, str]]]:
        """The table as a panel, checked for a backtest of ``horizon`` steps: with each series'
        values, the number of backtest windows the history holds and notes on what was left out."""
        self.check_options()
        panel = build_panel(
            frame,
            self.series_column,
            self.time_column,
            self.value_column,
            self.season_length,
            self.covariates,
        )
        values = panel.values()
        windows, notes = self._windows(
            list(values.values()), list(values), int(self.horizon), int(self.n_windows)
        )
        self._future_known(panel, int(self.horizon))
        return panel, values, windows, [*panel.notes, *notes]

    # ------------------------------------------------------------------ fit
    def fit(self, frame: pd.DataFrame, target: str | None = None, progress: ProgressFn = no_progress) -> Self:
        t0 = time.perf_counter()
        deadline = t0 + float(self.time_budget_s)
        progress(0.0, "preparing", "checking the series")
        panel, values, windows, notes = self._checked_panel(frame)
        ids = list(values)
        histories = [values[k] for k in ids]
        h = int(self.horizon)
        counts = Counter(demand_classes(values).values())
        ctx = self._context(panel, ids)
        nonneg = B.ctx_nonneg(histories)
        names = self._candidates_within_budget(counts, histories, h, ctx, windows, deadline, notes, progress)
        bt, scores, members, chosen, choice, pool = self._backtest(
            histories, h, windows, names, ctx, progress
        )
        coverage, residuals = self._interval_errors(bt, chosen, histories, nonneg)

        progress(0.8, "fitting", f"refitting {chosen} on the full history")
        point = self._refit(histories, h, ctx, names, members, chosen, choice, pool, nonneg)
        self._keep_forecasts(panel, ids, histories, point, residuals, nonneg)
        self.panel_ = panel  # the new data's series: a retraining gate compares on them (not saved)
        self.chosen_by_series_ = [pool[int(k)] for k in choice] if self.per_series else None
        self.members_ = members
        baseline = scores["seasonal_naive"]["mase"]
        self.input_schema_ = [{"name": self.series_column, "type": "categorical"}]
        self.report_: dict[str, Any] = self._fit_report(
            panel, histories, bt, scores, chosen, members, coverage, residuals, windows, counts, notes, t0
        )
        progress(1.0, "done", f"{chosen}: backtest MASE {scores[chosen]['mase']:.4f} vs {baseline:.4f} naive")
        return self

    def _context(self, panel: Panel, ids: list[str]) -> C.Context:
        """What every candidate model sees besides the histories: season, start dates, covariates, seed."""
        starts = (
            None
            if panel.freq == 1
            else [g.iloc[0] for _, g in panel.frame.groupby("unique_id", sort=False)["ds"]]
        )
        covs = panel.covariate_arrays(ids) if panel.covariates else None
        return C.Context(
            season=panel.season, starts=starts, freq=panel.freq, seed=int(self.seed), covariates=covs
        )

    def _candidates_within_budget(
        self,
        counts: Counter,
        histories: list[np.ndarray],
        h: int,
        ctx: C.Context,
        windows: int,
        deadline: float,
        notes: list[dict[str, Any]],
        progress: ProgressFn,
    ) -> list[str]:
        """The candidate models whose timed backtest fits the budget; each one left out gets a note."""
        names = self._candidate_names(counts)
        progress(0.05, "timing", f"timing {len(names)} candidate models on a sample of series")
        names, skipped = self._within_budget(names, histories, h, ctx, windows, deadline)
        for name, seconds in skipped.items():
            notes.append(
                {
                    "code": "candidate-skipped",
                    "message": f"{name} left out: its backtest would take about {seconds:.0f} s, "
                    "more than the time budget leaves",
                }
            )
        return names

    def _backtest(
        self,
        histories: list[np.ndarray],
        h: int,
        windows: int,
        names: list[str],
        ctx: C.Context,
        progress: ProgressFn,
    ) -> tuple[Any, dict[str, dict[str, Any]], list[str], str, Any, list[str]]:
        """Backtest the candidates, add the ensemble (and the per-series pick), choose the winner.

        Returns the backtest, the scores by model, the ensemble members, the chosen model, the
        per-series choice and the pool it picks from.
        """
        bt = B.run_backtest(
            histories, h, windows, names, ctx, lambda f, m: progress(0.1 + 0.65 * f, "backtesting", m)
        )
        scores = {n: B.score(bt, n) for n in names}
        members = B.add_ensemble(bt, {n: s["mase"] for n, s in scores.items()})
        if members:
            scores["ensemble"] = B.score(bt, "ensemble")
        chosen, choice = self._choose(bt, scores)
        pool = [*names, *(["ensemble"] if members else [])]
        if self.per_series:
            bt.forecasts["per_series"] = B.pick(bt, choice, pool)
            scores["per_series"] = B.score(bt, "per_series")
        return bt, scores, members, chosen, choice, pool

    def _interval_errors(
        self, bt: Any, chosen: str, histories: list[np.ndarray], nonneg: bool
    ) -> tuple[dict[str, Any], np.ndarray]:
        """The chosen model's interval coverage per backtest window and its scaled residuals."""
        chosen_forecasts = bt.forecasts[chosen]
        interval_scales = [
            B.fallback_scale([x[: len(x) - back] for x in histories], s)
            for back, s in zip(bt.origins, bt.scales, strict=True)
        ]
        coverage = {
            str(level): B.coverage_by_window(bt, chosen_forecasts, interval_scales, level / 100, nonneg)
            for level in DEFAULT_LEVELS
        }
        residuals = np.concatenate(B.scaled_residuals(bt, chosen_forecasts, interval_scales))
        return coverage, residuals

    def _refit(
        self,
        histories: list[np.ndarray],
        h: int,
        ctx: C.Context,
        names: list[str],
        members: list[str],
        chosen: str,
        choice: Any,
        pool: list[str],
        nonneg: bool,
    ) -> np.ndarray:
        """Refit the chosen model (and what it is made of) on the full history: its point forecasts."""
        method = B.Method(names, members, chosen, pool, bool(self.per_series), nonneg)
        point, final = B.point_forecasts(method, histories, h, ctx, choice)
        self.parts_ = {n: final[n].astype(np.float64) for n in members if n in final}
        # how to forecast again from another origin: a retraining gate compares there (not saved)
        self.method_ = (method, ctx, choice)
        return point

    def _keep_forecasts(
        self,
        panel: Panel,
        ids: list[str],
        histories: list[np.ndarray],
        point: np.ndarray,
        residuals: np.ndarray,
        nonneg: bool,
    ) -> None:
        """Store what serving needs: series index, last periods, point forecasts, error scales."""
        self.ids_ = ids
        self.index_ = {k: i for i, k in enumerate(ids)}
        last = panel.last_period()
        self.last_ = [last[k] for k in ids]
        self.freq_, self.season_, self.nonneg_ = panel.freq, panel.season, nonneg
        self.point_ = point.astype(np.float64)
        self.scale_ = B.fallback_scale(histories, B.scales_of(histories, panel.season)).astype(np.float64)
        self.residuals_ = residuals.astype(np.float64)

    def _fit_report(
        self,
        panel: Panel,
        histories: list[np.ndarray],
        bt: Any,
        scores: dict[str, dict[str, Any]],
        chosen: str,
        members: list[str],
        coverage: dict[str, Any],
        residuals: np.ndarray,
        windows: int,
        counts: Counter,
        notes: list[dict[str, Any]],
        t0: float,
    ) -> dict[str, Any]:
        """The fit report: the chosen model and its metrics, every candidate, the backtest, the series."""
        baseline = scores["seasonal_naive"]["mase"]
        return {
            "task": self.task,
            "kind": "forecast",
            "chosen": chosen,
            "ensemble_members": members,
            "metric": "mase",
            "metrics": {
                "mase": scores[chosen]["mase"],
                "smape": scores[chosen]["smape"],
                "mase_seasonal_naive": baseline,
                "relative_mase": scores[chosen]["mase"] / baseline if baseline else None,
                "coverage": coverage,
            },
            "candidates": [
                {
                    "name": n,
                    **s,
                    "relative_mase": s["mase"] / baseline if baseline else None,
                    "cv_score": s["mase"],  # the backtest's score, as the candidates chart reads it
                    "chosen": n == chosen,
                }
                for n, s in sorted(scores.items(), key=lambda kv: kv[1]["mase"])
            ],
            "per_series_choice": dict(Counter(self.chosen_by_series_)) if self.per_series else None,
            "backtest": {
                "method": "rolling origin",
                "windows": windows,
                "horizon": int(self.horizon),
                "origins_before_end": bt.origins,
                "residuals": int(residuals.shape[0]),
            },
            "series": {
                "count": len(histories),
                "periods": {"min": int(min(map(len, histories))), "max": int(max(map(len, histories)))},
                "frequency": "period" if panel.freq == 1 else str(panel.freq),
                "season_length": panel.season,
                "demand_classes": dict(counts),
                "gaps_filled": panel.filled,
                "columns": {
                    "series": self.series_column,
                    "time": self.time_column,
                    "value": self.value_column,
                },
                "covariates": panel.covariates,
            },
            "warnings": notes,
            "fit_seconds": round(time.perf_counter() - t0, 3),
        }

    def _windows(self, histories: list[np.ndarray], ids: list[str], h: int, windows: int) -> tuple[int, list]:
        shortest = int(np.argmin([len(x) for x in histories]))
        n = len(histories[shortest])
        fit = (n - MIN_TRAIN) // h
        if fit < 2:
            need = 2 * h + MIN_TRAIN
            raise InvalidInput(
                f"a horizon of {h} periods needs at least {need} periods in every series (two backtest "
                f"windows and {MIN_TRAIN} to fit on); series {ids[shortest]!r} has {n}",
                errors=[{"loc": ["body", "options", "horizon"], "msg": f"history too short for horizon {h}"}],
            )
        if fit < windows:
            note = f"{windows} backtest windows of {h} periods do not fit in {n} periods; {fit} used"
            return fit, [{"code": "windows-cut", "message": note}]
        return windows, []

    def _future_known(self, panel: Panel, h: int) -> None:
        """With covariates, every series needs their values for the ``h`` periods it forecasts."""
        if not panel.covariates:
            return
        short = [(k, len(panel.future.get(k, ()))) for k in panel.ids if len(panel.future.get(k, ())) < h]
        if short:
            key, n = short[0]
            raise InvalidInput(
                f"covariates are known for {n} future periods of series {key!r} ({len(short)} series short); "
                f"a horizon of {h} needs them for {h}: add rows with the covariates and no value",
                errors=[{"loc": ["body", "options", "horizon"], "msg": f"covariates known for {n} periods"}],
            )

    def _candidate_names(self, counts: Counter) -> list[str]:
        wanted = list(self.candidates) if self.candidates else list(C.ORDER)
        if not self.candidates and not (counts.get("intermittent", 0) + counts.get("lumpy", 0)):
            wanted = [n for n in wanted if n not in C.INTERMITTENT]
        return [n for n in C.ORDER if n in {*wanted, "seasonal_naive"}]

    def _within_budget(
        self,
        names: list[str],
        histories: list[np.ndarray],
        h: int,
        ctx: C.Context,
        windows: int,
        deadline: float,
    ) -> tuple[list[str], dict[str, float]]:
        # first calls compile the statistical models: not part of their cost
        few = range(min(3, len(histories)))
        C.run(names, [histories[i] for i in few], h, ctx.subset(few))
        cost = B.estimate_seconds(names, histories, h, ctx, fits=windows + 1)
        allowed = BUDGET_SHARE * max(deadline - time.perf_counter(), 0.0)
        kept, skipped, spent = [], {}, 0.0
        for n in names:
            if n != "seasonal_naive" and spent + cost[n] > allowed:
                # one timing on a busy machine can stall many times over: time it once more before
                # leaving the candidate out, and keep the quicker figure
                again = B.estimate_seconds([n], histories, h, ctx, fits=windows + 1)[n]
                cost[n] = min(cost[n], again)
            if n == "seasonal_naive" or spent + cost[n] <= allowed:
                kept.append(n)
                spent += cost[n]
            else:
                skipped[n] = cost[n]
        return kept, skipped

    def _choose(self, bt: B.Backtest, scores: dict[str, dict[str, Any]]) -> tuple[str, np.ndarray]:
        finite = {n: s["mase"] for n, s in scores.items() if np.isfinite(s["mase"])}
        chosen = min(finite, key=lambda n: finite[n]) if finite else "seasonal_naive"
        if not self.per_series:
            return chosen, np.zeros(0, dtype=int)
        pool = [n for n in bt.forecasts]
        return "per_series", B.per_series_choice(bt, pool)

    # ------------------------------------------------------------------ retraining
    def columns_read(self) -> list[str]:
        """The covariates besides the series, period and value columns."""
        return list(self.covariates or [])

    def combine(self, frames: Sequence[pd.DataFrame], names: Sequence[str]) -> pd.DataFrame:
        """The datasets' periods together; a period of a series given by two datasets is refused
        (which value would be the demand?): combine the history with the periods that followed."""
        key = [str(self.series_column), str(self.time_column)]
        both = pd.concat([f[key].astype(str).assign(part=i) for i, f in enumerate(frames)], ignore_index=True)
        first = both.groupby(key, sort=False)["part"].transform("first").to_numpy()
        clash = np.flatnonzero(both["part"].to_numpy() != first)
        if len(clash):
            row = both.iloc[int(clash[0])]
            i, j = int(row["part"]), int(first[clash[0]])
            raise InvalidInput(
                f"datasets {names[j]!r} and {names[i]!r} both give series {row[key[0]]!r} at period "
                f"{row[key[1]]}: combine a history with the periods that followed it, or retrain on the "
                "one dataset that holds them all",
                errors=[{"loc": ["body", "dataset_ids", i], "msg": "overlaps another dataset"}],
            )
        return super().combine(frames, names)

    def compare_with(self, champion: Any, data: NewData) -> Compared:
        """On the periods the champion forecast (see :mod:`shopfloor.tasks.forecast.compare`)."""
        return compare_at_origin(self, champion, data, MIN_TRAIN)

    def outcome_column(self, target: str) -> str | None:
        """A forecast is of periods to come, not of a record: live records have no outcome of their own."""
        return None

    # ------------------------------------------------------------------ forecast
    def _check_fitted(self) -> None:
        if not hasattr(self, "point_"):
            raise NotFitted("this Forecaster is not fitted yet; call fit() or load()")

    def _rows(self, series: Sequence[Any] | str, loc: list[Any]) -> list[int]:
        if series == "all":
            return list(range(len(self.ids_)))
        if isinstance(series, str) or not isinstance(series, Sequence) or not series:
            raise InvalidInput(
                'series: a list of series ids, or "all"', errors=[{"loc": loc, "msg": 'a list or "all"'}]
            )
        rows, unknown = [], []
        for k, s in enumerate(series):
            i = self.index_.get(str(s))
            if i is None:
                unknown.append((k, s))
            else:
                rows.append(i)
        if unknown:
            raise InvalidInput(
                f"{len(unknown)} unknown series: {', '.join(repr(s) for _, s in unknown[:10])}",
                errors=[{"loc": [*loc, k], "msg": f"no series {s!r} in the model"} for k, s in unknown[:50]],
            )
        return rows

    def forecast(
        self,
        series: Sequence[Any] | str = "all",
        horizon: int | None = None,
        levels: Sequence[Any] = DEFAULT_LEVELS,
    ) -> list[dict[str, Any]]:
        """Per series: each future period's point forecast and interval bounds at each level."""
        self._check_fitted()
        h_max = self.point_.shape[1]
        h = h_max if horizon is None else horizon
        if not is_whole(h, 1, 10**6):
            raise InvalidInput(
                "horizon must be a whole number of periods >= 1",
                errors=[{"loc": ["body", "horizon"], "msg": "not a positive whole number"}],
            )
        if h > h_max:
            raise InvalidInput(
                f"horizon {h} is beyond what this model was built and backtested for ({h_max} periods); "
                f"retrain with options.horizon >= {h}",
                errors=[{"loc": ["body", "horizon"], "msg": f"at most {h_max}"}],
            )
        for k, level in enumerate(levels):
            if isinstance(level, bool) or not isinstance(level, int | float) or not 0 < level < 100:
                raise InvalidInput(
                    "levels are percentages between 0 and 100, such as 80 and 95",
                    errors=[{"loc": ["body", "levels", k], "msg": "not in (0, 100)"}],
                )
        rows = self._rows(series, ["body", "series"])
        bounds = {level: B.quantiles(self.residuals_[:, :h], float(level) / 100) for level in levels}
        out = []
        for i in rows:
            point = self.point_[i, :h]
            item: dict[str, Any] = {
                "series": self.ids_[i],
                "periods": [_period(p) for p in _future(self.last_[i], self.freq_, h)],
                "forecast": [round(float(v), 6) for v in point],
                "intervals": {},
            }
            for level, (lo_q, hi_q) in bounds.items():
                lo = point + self.scale_[i] * lo_q
                hi = point + self.scale_[i] * hi_q
                if self.nonneg_:
                    lo = np.maximum(lo, 0.0)
                item["intervals"][_level_key(level)] = {
                    "lower": [round(float(v), 6) for v in lo],
                    "upper": [round(float(v), 6) for v in hi],
                }
            if self.chosen_by_series_ is not None:
                item["model"] = self.chosen_by_series_[i]
            item["warnings"] = []
            out.append(item)
        return out

    def predict(self, records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """One forecast (full horizon, 80 and 95 % intervals) per record naming a series."""
        self._check_fitted()
        ids = []
        for k, r in enumerate(records):
            value = r.get(self.series_column) if isinstance(r, Mapping) else None
            if value is None:
                raise InvalidInput(
                    f"record {k} names no series in {self.series_column!r}",
                    errors=[{"loc": ["body", "records", k, self.series_column], "msg": "missing"}],
                )
            ids.append(value)
        if not ids:
            return []
        return self.forecast(ids)

    def answer_scale(self, answer: Mapping[str, Any]) -> float | None:
        """The naive error scale of the answer's series (live MASE divides errors by it); None for a
        series this model does not know or one whose history has no scale."""
        self._check_fitted()
        i = self.index_.get(str(answer.get("series")))
        scale = float(self.scale_[i]) if i is not None else float("nan")
        return scale if np.isfinite(scale) and scale > 0 else None

    def drift_inputs(self) -> list[dict[str, Any]]:
        """The demand values: a window of new periods is compared with the training history."""
        return [{"name": self.value_column, "type": "numeric"}]

    def drift_outputs(self, frame: pd.DataFrame) -> pd.DataFrame:
        """None: a forecast answers per series and horizon, not per row of new demand."""
        return pd.DataFrame(index=frame.index)

    def explain(self, records: Sequence[Mapping[str, Any]], method: str = "shap") -> list[dict[str, Any]]:
        """Which model makes each series' forecast: for an ensemble, each member's forecast and weight
        (``contributions``); with the backtest MASE of every candidate."""
        out = []
        for item in self.predict(records):
            i = self.index_[item["series"]]
            model = self.chosen_by_series_[i] if self.chosen_by_series_ else self.report_["chosen"]
            members = [m for m in self.members_ if m in self.parts_] if model == "ensemble" else []
            contributions = [
                {
                    "model": m,
                    "weight": 1 / len(members),
                    "forecast": [round(float(v), 6) for v in self.parts_[m][i]],
                }
                for m in members
            ] or [{"model": model, "weight": 1.0, "forecast": item["forecast"]}]
            out.append(
                {
                    "series": item["series"],
                    "model": model,
                    "contributions": contributions,
                    "backtest": {c["name"]: c["mase"] for c in self.report_["candidates"]},
                    "scale": float(self.scale_[i]),
                }
            )
        return out

    # ------------------------------------------------------------------ persistence
    def save(self) -> dict[str, bytes]:
        self._check_fitted()
        from safetensors.numpy import save

        state = {
            "format": FORMAT_VERSION,
            "params": {**self.get_params(), "column_types": None},
            "ids": self.ids_,
            "last": [_period(p) for p in self.last_],
            "freq": self.freq_,
            "season": self.season_,
            "nonneg": self.nonneg_,
            "chosen_by_series": self.chosen_by_series_,
            "members": self.members_,
            "input_schema": self.input_schema_,
            "report": self.report_,
        }
        arrays = {"point": self.point_, "scale": self.scale_, "residuals": self.residuals_}
        arrays.update({f"member.{name}": values for name, values in self.parts_.items()})
        return {ESTIMATOR_FILE: json.dumps(state).encode(), ARRAYS_FILE: save(arrays)}

    @classmethod
    def load(cls, files: Mapping[str, bytes]) -> Self:
        from safetensors.numpy import load

        try:
            state = json.loads(files[ESTIMATOR_FILE])
            if not isinstance(state, dict) or state.get("format") != FORMAT_VERSION:
                raise ArtifactCorrupted("forecast artifact: estimator.json is not a supported state")
            arrays = load(bytes(files[ARRAYS_FILE]))
            est = cls(**state["params"])
            est.ids_ = [str(k) for k in state["ids"]]
            est.index_ = {k: i for i, k in enumerate(est.ids_)}
            est.freq_ = state["freq"]
            est.last_ = [p if est.freq_ == 1 else pd.Timestamp(p) for p in state["last"]]
            est.season_, est.nonneg_ = int(state["season"]), bool(state["nonneg"])
            est.chosen_by_series_, est.members_ = state["chosen_by_series"], list(state["members"])
            est.input_schema_, est.report_ = state["input_schema"], state["report"]
            est.point_, est.scale_, est.residuals_ = arrays["point"], arrays["scale"], arrays["residuals"]
            est.parts_ = {k.removeprefix("member."): v for k, v in arrays.items() if k.startswith("member.")}
            n, h = est.point_.shape
            if n != len(est.ids_) or est.scale_.shape != (n,) or est.residuals_.shape[1] != h:
                raise ArtifactCorrupted("forecast artifact: the arrays do not match the series")
        except (KeyError, ValueError, TypeError) as exc:
            raise ArtifactCorrupted(f"forecast artifact cannot be read: {exc}") from exc
        except Exception as exc:  # safetensors raises its own type for damaged files
            if isinstance(exc, ArtifactCorrupted):
                raise
            raise ArtifactCorrupted(f"forecast artifact: {ARRAYS_FILE} cannot be read: {exc}") from exc
        return est


def _future(last: Any, freq: Any, h: int) -> list[Any]:
    if freq == 1:
        return [int(last) + k for k in range(1, h + 1)]
    return list(pd.date_range(pd.Timestamp(last), periods=h + 1, freq=freq)[1:])


def _period(p: Any) -> Any:
    if isinstance(p, pd.Timestamp | np.datetime64):
        return pd.Timestamp(p).isoformat()
    return int(p) if isinstance(p, int | np.integer) else p


def _level_key(level: float) -> str:
    return str(int(level)) if float(level).is_integer() else str(level)
