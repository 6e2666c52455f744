"""The RUL estimator's fold models: training, held-out evaluation and the served bag.

:func:`train_fold` fits one asset fold's components (LightGBM bag on window features, CNN bag
on raw windows), early-stopped on a validation share of the training assets, and keeps their
predictions on the fold's held-out assets. The held-out predictions of all folds drive the
choice: :func:`candidate_reports` scores each candidate, :func:`ensemble_weight` fits the
ensemble's mix and :func:`evaluate_chosen` reports the chosen blend and calibrates its
intervals. :class:`Members` is the served model built from the folds, with its artifact files.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from shopfloor.evaluation.stability import summarize
from shopfloor.tasks.rul import metrics as R
from shopfloor.tasks.rul.features import Prepared, feature_inputs
from shopfloor.threads import job_threads

NET_FILE = "net.safetensors"
#: Held-out metrics of every candidate; the ``metric`` option picks the one that chooses.
METRICS = ("rmse", "mae", "phm08_score")

GBM_PARAMS = {
    "objective": "regression", "learning_rate": 0.03, "num_leaves": 15, "feature_fraction": 0.5,
    "bagging_fraction": 0.8, "bagging_freq": 1, "lambda_l2": 1.0, "verbose": -1,
}
GBM_MAX_ROUNDS, GBM_PATIENCE = 3000, 200
#: Models per fold: a bag over seeds lowers the variance of the served mean (the networks most).
GBM_SEEDS, NET_SEEDS = 3, 2
#: Share of a fold's remaining time LightGBM may use when the network trains after it.
GBM_TIME_SHARE = 0.3
#: Share of a fold's training assets held out for early stopping and candidate selection.
VALIDATION_SHARE = 0.15


def _parts(gbm_weight: float) -> list[str]:
    """The components a blend needs."""
    return [p for p, needed in (("lightgbm", gbm_weight > 0), ("cnn", gbm_weight < 1)) if needed]


def _blend(parts: Mapping[str, Any], gbm_weight: float) -> Any:
    """``gbm_weight * lightgbm + (1 - gbm_weight) * cnn`` over the parts the blend needs."""
    shares = {"lightgbm": gbm_weight, "cnn": 1 - gbm_weight}
    return sum(shares[p] * parts[p] for p in _parts(gbm_weight))


@dataclass
class FoldModels:
    """One fold's fitted components, their held-out and validation predictions, and training facts."""

    fit_rows: np.ndarray
    val_rows: np.ndarray
    test_rows: np.ndarray
    boosters: list[Any] = field(default_factory=list)
    nets: list[Any] = field(default_factory=list)
    test: dict[str, np.ndarray] = field(default_factory=dict)
    val: dict[str, np.ndarray] = field(default_factory=dict)
    info: dict[str, dict[str, Any]] = field(default_factory=dict)

    def held_out(self, gbm_weight: float) -> np.ndarray:
        """Held-out predictions of the blend with LightGBM's share ``gbm_weight`` (1: LightGBM, 0: CNN)."""
        return _blend(self.test, gbm_weight)

    def validation(self, gbm_weight: float) -> np.ndarray:
        return _blend(self.val, gbm_weight)

    def seconds(self, gbm_weight: float) -> float:
        return float(sum(self.info[p]["seconds"] for p in _parts(gbm_weight)))

    def summary(self) -> dict[str, Any]:
        return {"fit_points": int(len(self.fit_rows)), "validation_points": int(len(self.val_rows)),
                "held_out_points": int(len(self.test_rows)), **self.info}


def train_fold(
    data: dict[str, Any],
    held: np.ndarray,
    folds: list[np.ndarray],
    k: int,
    *,
    components: set[str],
    window: int,
    cap: float,
    seed: int,
    max_epochs: int,
    deadline: float,
    progress: Callable[[float, str, str], None],
) -> FoldModels:
    """Fit the components on the assets outside fold ``held``, early-stopped on a validation share of them.

    ``progress(fraction_of_this_fold, stage, message)``.
    """
    codes, usable, y = data["codes"], data["usable"], data["y"]
    rest = np.setdiff1d(np.concatenate(folds), held)
    n_val = max(1, round(VALIDATION_SHARE * len(rest)))
    val_assets = np.random.default_rng(seed).permutation(rest)[:n_val]
    test = usable & np.isin(codes, held)
    val = usable & np.isin(codes, val_assets)
    fit = usable & ~test & ~val
    out = FoldModels(np.flatnonzero(fit), np.flatnonzero(val), np.flatnonzero(test))
    gbm_share = 0.15 if "cnn" in components else 1.0
    if "lightgbm" in components:
        progress(0.0, "training lightgbm", f"fold {k + 1} of {len(folds)}")
        gbm_end = deadline if "cnn" not in components else (
            time.monotonic() + GBM_TIME_SHARE * max(0.0, deadline - time.monotonic()))
        _fit_boosters(out, data["features"], y, fit, val, test, seed, gbm_end)
        progress(gbm_share, "training lightgbm", f"fold {k + 1} of {len(folds)}: "
                 f"{out.info['lightgbm']['best_iterations']} trees")
    if "cnn" in components:
        _fit_nets(out, data["sequences"], y, fit, val, test, seed=seed, window=window, cap=cap,
                  max_epochs=max_epochs, deadline=deadline,
                  progress=lambda f, msg: progress(gbm_share + (1 - gbm_share) * f, "training cnn", msg))
    return out


def _fit_boosters(out: FoldModels, X: np.ndarray, y: np.ndarray, fit: np.ndarray, val: np.ndarray,
                  test: np.ndarray, seed: int, deadline: float) -> None:
    """Up to :data:`GBM_SEEDS` LightGBM models (row and feature sampling seeds), early-stopped on ``val``.

    Past ``deadline`` the current model keeps the trees grown so far and no further seed starts.
    """
    import lightgbm as lgb

    def out_of_time(env: Any) -> None:
        if time.monotonic() > deadline:
            raise lgb.callback.EarlyStopException(env.iteration, env.evaluation_result_list)

    started, best = time.monotonic(), []
    leaf = int(np.clip(fit.sum() // 100, 5, 100))
    params = {**GBM_PARAMS, "num_threads": job_threads(), "min_data_in_leaf": leaf}
    train, valid = lgb.Dataset(X[fit], y[fit], free_raw_data=False), lgb.Dataset(X[val], y[val])
    for j in range(GBM_SEEDS):
        if j and time.monotonic() > deadline:
            break
        stop: list[Callable[..., Any]] = [lgb.early_stopping(GBM_PATIENCE, verbose=False), out_of_time]
        trained = lgb.train({**params, "seed": seed * GBM_SEEDS + j}, train, GBM_MAX_ROUNDS,
                            valid_sets=[valid], callbacks=stop)
        best.append(trained.best_iteration or trained.current_iteration())
        # rebuilt from its text so that the fold model is exactly what save() and load() give
        out.boosters.append(lgb.Booster(model_str=trained.model_to_string(num_iteration=best[-1])))
    out.test["lightgbm"] = np.mean([b.predict(X[test]) for b in out.boosters], axis=0)
    out.val["lightgbm"] = np.mean([b.predict(X[val]) for b in out.boosters], axis=0)
    out.info["lightgbm"] = {"seconds": round(time.monotonic() - started, 3), "best_iterations": best}


def _fit_nets(out: FoldModels, S: np.ndarray, y: np.ndarray, fit: np.ndarray, val: np.ndarray,
              test: np.ndarray, *, seed: int, window: int, cap: float, max_epochs: int, deadline: float,
              progress: Callable[[float, str], None]) -> None:
    """Up to :data:`NET_SEEDS` networks, early-stopped on ``val``, within ``deadline``."""
    from shopfloor.tasks.rul.net import NetConfig, bag_predict, train_bag

    def on_epoch(j: int, epoch: int, n: int, rmse: float) -> None:
        progress((j + epoch / n) / NET_SEEDS, f"epoch {epoch} of {n}, validation RMSE {rmse:.2f}")

    started = time.monotonic()
    config = NetConfig(n_inputs=S.shape[2], window=window)
    out.nets, runs = train_bag(config, S[fit], y[fit], S[val], y[val], scale=cap, max_epochs=max_epochs,
                               seeds=[seed * NET_SEEDS + j for j in range(NET_SEEDS)], deadline=deadline,
                               on_epoch=on_epoch)
    out.test["cnn"], out.val["cnn"] = bag_predict(out.nets, S[test], cap), bag_predict(out.nets, S[val], cap)
    seconds = round(time.monotonic() - started, 3)
    out.info["cnn"] = {"seconds": seconds, "runs": runs, "config": config.to_json()}


def candidate_reports(
    results: list[FoldModels],
    wanted: list[str],
    y: np.ndarray,
    weights: np.ndarray,
    clip: Callable[[np.ndarray], np.ndarray],
    blend: dict[str, float],
) -> list[dict[str, Any]]:
    """Per candidate: cross-validated metrics on the held-out folds (what selection compares).

    The early-stopping assets' RMSE is reported beside them but not used to choose: the
    network's best epoch is picked on those assets, which flatters it there.
    """
    out = []
    held = np.concatenate([r.test_rows for r in results])
    stopping = np.concatenate([r.val_rows for r in results])
    for name in wanted:
        pred = clip(np.concatenate([r.held_out(blend[name]) for r in results]))
        early = clip(np.concatenate([r.validation(blend[name]) for r in results]))
        out.append({
            "name": name,
            "metrics": R.regression_metrics(y[held], pred, weights[held]),
            "early_stopping_rmse": R.rmse(y[stopping], early, weights[stopping]),
            "fit_seconds": round(sum(r.seconds(blend[name]) for r in results), 3),
            **({"weights": {"lightgbm": blend[name], "cnn": round(1 - blend[name], 3)}}
               if name == "ensemble" else {}),
        })
    return out


def ensemble_weight(
    results: list[FoldModels], y: np.ndarray, weights: np.ndarray, metric: str,
    clip: Callable[[np.ndarray], np.ndarray],
) -> float:
    """LightGBM's share in the ensemble: the grid value (0, 0.1, ..., 1) with the best held-out metric.

    One number fitted on some twenty thousand held-out predictions (stacking); ties go to the
    even mix, then to LightGBM.
    """
    held = np.concatenate([r.test_rows for r in results])
    gbm = np.concatenate([r.test["lightgbm"] for r in results])
    cnn = np.concatenate([r.test["cnn"] for r in results])
    grid = sorted(np.round(np.linspace(0, 1, 11), 2), key=lambda w: (abs(w - 0.5), -w))
    scores = [R.regression_metrics(y[held], clip(w * gbm + (1 - w) * cnn), weights[held])[metric]
              for w in grid]
    return float(grid[int(np.argmin(scores))])


def _cross_coverage(
    true: np.ndarray, pred: np.ndarray, weights: np.ndarray, groups: np.ndarray, fold: np.ndarray, n_bins: int
) -> dict[str, float]:
    """Coverage and mean width of each level, each fold's intervals calibrated on the other folds."""
    lows = {lv: np.zeros(len(true)) for lv in R.LEVELS}
    highs = {lv: np.zeros(len(true)) for lv in R.LEVELS}
    for k in np.unique(fold):
        here = fold == k
        bands = R.ConformalBands.calibrate(pred[~here], true[~here], groups[~here], weights[~here],
                                           n_bins=n_bins)
        for lv in R.LEVELS:
            lows[lv][here], highs[lv][here] = bands.intervals(pred[here], lv)
    out = {}
    for lv in R.LEVELS:
        tag = f"{lv * 100:.0f}"
        out[f"coverage_{tag}"] = R.coverage(true, lows[lv], highs[lv], weights)
        out[f"width_{tag}"] = float(np.sum(weights * (highs[lv] - lows[lv])) / weights.sum())
    return out


def evaluate_chosen(
    results: list[FoldModels],
    gbm_weight: float,
    y: np.ndarray,
    weights: np.ndarray,
    prep: Prepared,
    clip: Callable[[np.ndarray], np.ndarray],
) -> tuple[dict[str, Any], dict[str, Any], R.ConformalBands]:
    """Held-out metrics and coverage of the chosen blend, its spread over folds, and the served bands.

    The bands are calibrated on all folds' held-out predictions (cross-conformal).
    """
    rows = np.concatenate([r.test_rows for r in results])
    oof = clip(np.concatenate([r.held_out(gbm_weight) for r in results]))
    fold_of = np.concatenate([np.full(len(r.test_rows), k) for k, r in enumerate(results)])
    n_bins = int(np.clip(len(prep.names) // 20, 1, 5))
    held_out = R.regression_metrics(y[rows], oof, weights[rows])
    held_out.update(_cross_coverage(y[rows], oof, weights[rows], prep.codes[rows], fold_of, n_bins))
    held_out.update({"n_assets": len(prep.names), "n_points": int(len(rows))})
    bands = R.ConformalBands.calibrate(oof, y[rows], prep.codes[rows], weights[rows], n_bins=n_bins)
    # Every metric per fold, the PHM08 score per asset included: the folds hold a fifth of the
    # assets each, so only the per-asset penalty compares with the held-out set's.
    per_fold: dict[str, list[float]] = {}
    for r in results:
        pred = clip(r.held_out(gbm_weight))
        for m, value in R.regression_metrics(y[r.test_rows], pred, weights[r.test_rows]).items():
            per_fold.setdefault(m, []).append(value)
    stability = {
        "method": f"{len(results)} refits of the chosen model, one per asset fold, each with its own "
                  "seed (validation assets and initialisation), scored on the fold's held-out assets",
        "n": len(results),
        "metrics": summarize(per_fold),
    }
    return held_out, stability, bands


@dataclass
class Members:
    """The served model: the chosen candidate's fold models, averaged per component, then blended."""

    chosen: str
    gbm_weight: float
    boosters: list[Any]
    nets: list[Any]
    net_config: dict[str, Any] | None
    scale: float

    @classmethod
    def from_folds(cls, results: list[FoldModels], chosen: str, gbm_weight: float, scale: float) -> Members:
        parts = _parts(gbm_weight)
        config = results[0].info["cnn"]["config"] if "cnn" in parts else None
        boosters = [b for r in results for b in r.boosters] if "lightgbm" in parts else []
        nets = [n for r in results for n in r.nets] if "cnn" in parts else []
        return cls(chosen, gbm_weight, boosters, nets, config, scale)

    def output(self, prep: Prepared, rows: np.ndarray, window: int) -> np.ndarray:
        """The raw (unclipped) estimate at ``rows`` of ``prep``."""
        outs = {}
        if self.boosters:
            X = prep.features(rows)
            outs["lightgbm"] = np.mean([b.predict(X) for b in self.boosters], axis=0)
        if self.nets:
            from shopfloor.tasks.rul.net import bag_predict

            outs["cnn"] = bag_predict(self.nets, prep.sequences(window, rows), self.scale)
        return np.asarray(_blend(outs, self.gbm_weight))

    def contributions(
        self, prep: Prepared, rows: np.ndarray, window: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
        """``(base (n,), contributions (n, inputs), output (n,), method)``: base + sum == output."""
        n_inputs = prep.scaled.shape[1]
        parts: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        if self.boosters:
            X = prep.features(rows)
            raw = np.mean([b.predict(X, pred_contrib=True) for b in self.boosters], axis=0)
            owner = feature_inputs(n_inputs - int(prep.age), prep.age)
            per_input = np.zeros((len(rows), n_inputs))
            np.add.at(per_input.T, owner, raw[:, :-1].T)
            parts["lightgbm"] = (raw[:, -1], per_input, raw.sum(axis=1))
        if self.nets:
            from shopfloor.tasks.rul.net import bag_attributions

            base, per_input, output = bag_attributions(self.nets, prep.sequences(window, rows), self.scale)
            parts["cnn"] = (base, per_input, output)
        base, contrib, output = (_blend({p: v[i] for p, v in parts.items()}, self.gbm_weight)
                                 for i in range(3))
        names = {"lightgbm": "TreeSHAP", "cnn": "integrated gradients"}
        method = " and ".join(names[p] for p in parts)
        if len(parts) > 1:
            method = f"weighted mean ({self.gbm_weight:g} / {1 - self.gbm_weight:g}) of {method}"
        return base, contrib, output, method

    def manifest(self) -> dict[str, Any]:
        return {"chosen": self.chosen, "gbm_weight": self.gbm_weight, "boosters": len(self.boosters),
                "nets": len(self.nets), "net_config": self.net_config, "scale": self.scale}

    def files(self) -> dict[str, bytes]:
        out = {f"lightgbm_{i}.txt": b.model_to_string().encode() for i, b in enumerate(self.boosters)}
        if self.nets:
            from shopfloor.tasks.rul.net import bag_bytes

            out[NET_FILE] = bag_bytes(self.nets)
        return out

    @classmethod
    def load(cls, manifest: Mapping[str, Any], files: Mapping[str, bytes]) -> Members:
        """Raises ``KeyError`` or ``ValueError`` for missing or unreadable files."""
        boosters, nets = [], []
        if manifest["boosters"]:
            import lightgbm as lgb

            try:
                boosters = [lgb.Booster(model_str=files[f"lightgbm_{i}.txt"].decode())
                            for i in range(int(manifest["boosters"]))]
            except lgb.basic.LightGBMError as exc:
                raise ValueError(f"a LightGBM file is damaged: {exc}") from exc
        if manifest["nets"]:
            from shopfloor.tasks.rul.net import NetConfig, bag_from_bytes

            config = NetConfig.from_json(manifest["net_config"])
            nets = bag_from_bytes(config, files[NET_FILE], int(manifest["nets"]))
        return cls(str(manifest["chosen"]), float(manifest["gbm_weight"]), boosters, nets,
                   manifest["net_config"], float(manifest["scale"]))
