"""The anomaly detectors: quadratic forms of standardised, lightly smoothed sensors.

Every detector sees a point as ``z``: each sensor's trailing mean over the last ``window`` points,
standardised by the normal data's mean and spread. Its score is ``sqrt(z' M z)`` and the share of
sensor ``i`` is ``(C z)_i**2 / w_i`` normalised to 100 %: a reconstruction-based contribution, how far
that one sensor is from what the others imply (or, for ``pca``, how much of the residual it explains),
which points at the faulty sensor even when it stays inside its own normal range:

* ``mahalanobis``: ``M = C = P``, the inverse of a shrunk (Ledoit-Wolf) covariance. Catches a
  sensor leaving its range and sensors breaking their usual relation, including moves of many
  sensors together beyond their normal spread.
* ``pca``: ``M = C = I - V V'`` with ``V`` the principal directions holding 90 % of the
  variance: the reconstruction residual. Blind to moves along the normal co-movement.
* ``regression``: each sensor predicted from all the others; ``M = P D^-1 P`` with ``D = diag(P)``,
  ``C = P``: the sum of squared standardised prediction residuals. Strong on one sensor breaking
  away from the rest, blind to the rest moving together.

Everything here is computed row by row in a fixed order (no BLAS reductions whose rounding could
depend on how many rows are in a call), so scoring a series in chunks gives bit-identical scores
to scoring it whole; the streaming tests rely on that.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from shopfloor.errors import InvalidDataset
from shopfloor.tasks.anomaly.events import raised_runs
from shopfloor.tasks.base import ProgressFn

#: Detector families, in the order they are tried (ties go to the earlier one).
FAMILIES = ("mahalanobis", "pca", "regression")
#: Share of the normal variance the ``pca`` family keeps in its principal subspace.
PCA_VARIANCE = 0.9
#: Smallest standard deviation used to standardise (guards quasi-constant sensors).
MIN_SCALE = 1e-12
#: A sensor is near-constant when fewer than this share of its readings differ from the commonest one.
MIN_VARYING_SHARE = 0.01


def trailing_mean(
    rows: np.ndarray, window: int, begin: np.ndarray | None = None, at: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The mean of each row ``at`` (default: every row) over its last ``window`` rows.

    ``rows`` may hold several series one after another: ``begin[i]`` is the first row of row ``i``'s
    series (default 0), and no window reaches before it. Missing values (NaN) are left out of the
    mean; a sensor with no value in the window stays NaN. Also returns how many points each window
    covers (fewer than ``window`` at a series' start).
    """
    at = np.arange(len(rows)) if at is None else at
    first = np.zeros(len(at), dtype=int) if begin is None else begin[at]
    total = np.zeros((len(at), rows.shape[1]))
    valid = np.zeros((len(at), rows.shape[1]))
    for lag in range(window):
        source = at - lag
        values = rows[np.maximum(source, 0)]
        present = (source >= first)[:, None] & ~np.isnan(values)
        total += np.where(present, values, 0.0)
        valid += present
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(valid > 0, total / np.maximum(valid, 1.0), np.nan)
    return mean, np.minimum(at - first + 1, window)


def varying_sensors(frame: pd.DataFrame, sensors: list[str]) -> tuple[list[str], list[dict[str, Any]]]:
    """Sensors that vary in normal operation, and a warning for each near-constant one dropped."""
    kept, warnings = [], []
    for s in sensors:
        values = frame[s].dropna()
        varying = 1.0 - values.value_counts(normalize=True).iloc[0] if len(values) else 0.0
        if varying < MIN_VARYING_SHARE:
            warnings.append(
                {
                    "code": "constant-sensor",
                    "message": f"sensor {s!r} is (nearly) constant in the "
                    f"training data ({100 * varying:.2g} % of readings differ from the commonest); "
                    "it is not used",
                }
            )
        else:
            kept.append(s)
    if not kept:
        raise InvalidDataset("every sensor is (nearly) constant in the training data; nothing to learn from")
    return kept, warnings


def smooth_assets(series: list[np.ndarray], window: int) -> list[np.ndarray]:
    """Trailing means of whole histories (each array one asset's rows in time order)."""
    return [trailing_mean(s, window)[0] for s in series]


def _rowwise_product(Z: np.ndarray, A: np.ndarray) -> np.ndarray:
    """``Z @ A`` accumulated term by term, so each row's result does not depend on the others."""
    out = np.zeros((len(Z), A.shape[1]))
    for k in range(A.shape[0]):
        out += Z[:, k : k + 1] * A[k]
    return out


def _rowwise_dot(X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    out = np.zeros(len(X))
    for k in range(X.shape[1]):
        out += X[:, k] * Y[:, k]
    return out


@dataclass
class Detector:
    """One fitted detector: standardisation, score matrix ``M``, contribution matrix ``C``, weights ``w``."""

    family: str
    center: np.ndarray
    scale: np.ndarray
    M: np.ndarray
    C: np.ndarray
    w: np.ndarray

    def standardise(self, smoothed: np.ndarray) -> np.ndarray:
        """Standardised smoothed sensors; a sensor with no value in the window counts as normal (0)."""
        z = (smoothed - self.center) / self.scale
        return np.where(np.isnan(z), 0.0, z)

    def score(self, z: np.ndarray) -> np.ndarray:
        """``sqrt(z' M z)`` per row."""
        return np.sqrt(np.maximum(_rowwise_dot(z, _rowwise_product(z, self.M)), 0.0))

    def shares(self, z: np.ndarray) -> np.ndarray:
        """Each sensor's share of each row's abnormality, in percent (rows sum to 100)."""
        part = _rowwise_product(z, self.C) ** 2 / self.w
        total = _rowwise_dot(part, np.ones(part.shape))[:, None]
        even = np.full(part.shape, 100.0 / part.shape[1])
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(total > 0, 100.0 * part / total, even)

    def to_json(self) -> dict[str, Any]:
        return {
            "family": self.family,
            **{k: getattr(self, k).tolist() for k in ("center", "scale", "M", "C", "w")},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Detector:
        arrays = {k: np.asarray(data[k], dtype=float) for k in ("center", "scale", "M", "C", "w")}
        d = len(arrays["center"])
        if arrays["M"].shape != (d, d) or arrays["C"].shape != (d, d) or arrays["w"].shape != (d,):
            raise ValueError("detector matrices do not match the number of sensors")
        return cls(family=str(data["family"]), **arrays)


def fit_detector(family: str, smoothed: np.ndarray) -> Detector:
    """Fit ``family`` on rows of smoothed normal data (rows with a missing sensor are left out)."""
    from sklearn.covariance import ledoit_wolf

    rows = smoothed[~np.isnan(smoothed).any(axis=1)]
    d = smoothed.shape[1]
    if len(rows) < 2 * (d + 1):
        raise InvalidDataset(
            f"only {len(rows)} points have a value of every sensor within their window; learning how "
            f"{d} sensors move together needs at least {2 * (d + 1)}: send sensors sampled together "
            "(or a longer window)"
        )
    center = rows.mean(axis=0)
    scale = np.maximum(rows.std(axis=0), MIN_SCALE)
    Z = (rows - center) / scale
    if family == "pca":
        values, vectors = np.linalg.eigh(np.cov(Z, rowvar=False).reshape(d, d))
        order = np.argsort(values)[::-1]
        values, vectors = np.clip(values[order], 0.0, None), vectors[:, order]
        kept = int(np.searchsorted(np.cumsum(values) / max(values.sum(), MIN_SCALE), PCA_VARIANCE) + 1)
        V = vectors[:, : min(kept, d - 1)] if d > 1 else vectors[:, :0]
        M = np.eye(d) - V @ V.T
        return Detector(family, center, scale, M, M, np.maximum(np.diag(M), MIN_SCALE))
    covariance = ledoit_wolf(Z, assume_centered=True)[0]
    P = np.linalg.inv(covariance)
    P = (P + P.T) / 2
    D = np.diag(P)
    if family == "mahalanobis":
        return Detector(family, center, scale, P, P, D)
    if family == "regression":
        return Detector(family, center, scale, P @ np.diag(1.0 / D) @ P, P, D)
    raise ValueError(f"unknown detector family {family!r}")


def rolling_mean(series: np.ndarray, k: int) -> np.ndarray:
    """Means over every full window of ``k`` rows (NaN-aware; for calibration, where speed matters
    more than the bit-exactness of :func:`trailing_mean`)."""
    present = ~np.isnan(series)
    total = np.cumsum(np.vstack([np.zeros((1, series.shape[1])), np.where(present, series, 0.0)]), axis=0)
    valid = np.cumsum(np.vstack([np.zeros((1, series.shape[1])), present]), axis=0)
    sums, counts = total[k:] - total[:-k], valid[k:] - valid[:-k]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0.5, sums / np.maximum(counts, 1.0), np.nan)


# ------------------------------------------------------------------------------ selection by injection

#: Synthetic faults injected per fit (half into one sensor, half along the normal co-movement).
FAULTS = 240
#: Range of fault sizes, in standard deviations of normal operation (raw, unsmoothed).
MAGNITUDES = (1.0, 4.0)


@dataclass(frozen=True)
class Fault:
    """One synthetic fault added to a stretch ``start:stop`` of a held-out asset from ``onset`` on."""

    asset: int
    start: int
    onset: int
    stop: int
    kind: str  # "sensor": one sensor moves; "process": all sensors move along the main co-movement
    shape: str  # "step" or "drift" (a ramp from 0 to the magnitude at the stretch's end)
    sensor: int
    magnitude: float


def plan_faults(
    lengths: list[int], d: int, window: int, min_points: int, count: int, rng: np.random.Generator
) -> list[Fault]:
    """``count`` faults on assets long enough for a full window plus a clean and a faulty half."""
    need = 2 * (min_points + 1)
    eligible = [a for a, n in enumerate(lengths) if n - (window - 1) >= need]
    faults = []
    for r in range(count if eligible else 0):
        a = eligible[int(rng.integers(len(eligible)))]
        span = min(max(6 * window, 60), lengths[a] - (window - 1))
        start = int(rng.integers(window - 1, lengths[a] - span + 1))
        kind = "sensor" if r % 2 == 0 else "process"
        faults.append(
            Fault(
                asset=a,
                start=start,
                onset=start + span // 2,
                stop=start + span,
                kind=kind,
                shape=str(rng.choice(["step", "drift"])),
                sensor=int(rng.integers(d)) if kind == "sensor" else -1,
                magnitude=float(rng.uniform(*MAGNITUDES) * rng.choice([-1.0, 1.0])),
            )
        )
    return faults


def inject(
    series: np.ndarray, fault: Fault, spread: np.ndarray, direction: np.ndarray, window: int
) -> np.ndarray:
    """The faulty stretch's smoothed rows (its first ``window - 1`` rows of history stay clean)."""
    rows = series[fault.start - window + 1 : fault.stop].copy()
    length = fault.stop - fault.onset
    profile = np.ones(length) if fault.shape == "step" else np.arange(1, length + 1) / length
    vector = direction if fault.kind == "process" else np.eye(len(spread))[fault.sensor] * spread
    rows[len(rows) - length :] += fault.magnitude * profile[:, None] * vector
    return trailing_mean(rows, window, at=np.arange(window - 1, len(rows)))[0]


def _full_windows(smoothed: list[np.ndarray], window: int) -> np.ndarray:
    """Training rows for a detector: points with a full window (all points if too few have one)."""
    rows = np.vstack([s[window - 1 :] for s in smoothed])
    return rows if len(rows) >= 2 * (rows.shape[1] + 1) else np.vstack(smoothed)


def fit_on(family: str, smoothed: list[np.ndarray], window: int) -> Detector:
    """Fit ``family`` on the full-window points of the smoothed assets."""
    return fit_detector(family, _full_windows(smoothed, window))


@dataclass
class _Fold:
    train: list[int]
    held: list[int]
    faults: list[Fault]
    stretches: list[np.ndarray]


def _folds(
    series: list[np.ndarray],
    smoothed: list[np.ndarray],
    window: int,
    min_points: int,
    rng: np.random.Generator,
) -> list[_Fold]:
    n = len(series)
    k = min(5, n)
    order = rng.permutation(n)
    out = []
    for f in range(k):
        held = sorted(int(a) for a in order[f::k])
        train = [a for a in range(n) if a not in held]
        raw = pd.DataFrame(np.vstack([series[a] for a in train]))
        spread = np.maximum(raw.std(ddof=0).to_numpy(), MIN_SCALE)
        d = raw.shape[1]
        correlation = raw.corr().fillna(0.0).to_numpy()  # pairwise: sensors need not share rows
        np.fill_diagonal(correlation, 1.0)
        values, vectors = np.linalg.eigh(correlation)
        direction = np.sqrt(max(values[-1], 0.0)) * vectors[:, -1] * spread
        faults = plan_faults(
            [len(series[a]) for a in held], d, window, min_points, int(np.ceil(FAULTS * len(held) / n)), rng
        )
        stretches = [inject(series[held[x.asset]], x, spread, direction, window) for x in faults]
        out.append(_Fold(train, held, faults, stretches))
    return out


def evaluate_families(
    series: list[np.ndarray],
    families: list[str],
    window: int,
    min_points: int,
    false_alarm_rate: float,
    seed: int,
    deadline: float,
    progress: ProgressFn,
) -> tuple[list[dict[str, Any]], dict[str, list[Detector]], list[_Fold]]:
    """Cross-fit each family by asset folds; measure false alarms and injected-fault detection.

    For fold ``f`` the threshold comes from the clean held-out scores of the *other* folds, so both
    figures are out of sample. Returns one figure dict per family tried (a family is skipped once
    ``deadline`` (monotonic seconds) has passed, never the first), its per-fold detectors, the folds.
    """
    rng = np.random.default_rng(seed)
    smoothed = smooth_assets(series, window)
    folds = _folds(series, smoothed, window, min_points, rng)
    q = 1.0 - false_alarm_rate
    figures: list[dict[str, Any]] = []
    detectors: dict[str, list[Detector]] = {}
    for i, family in enumerate(families):
        if i and time.monotonic() > deadline:
            figures.append({"name": family, "skipped": "time budget spent"})
            continue
        progress(0.1 + 0.7 * i / len(families), "candidates", f"cross-fitting {family}")
        started = time.monotonic()
        dets = [fit_on(family, [smoothed[a] for a in fold.train], window) for fold in folds]
        clean = [
            [d.score(d.standardise(smoothed[a][window - 1 :])) for a in fold.held]
            for d, fold in zip(dets, folds, strict=True)
        ]
        pooled = [np.concatenate(c) for c in clean]
        flagged = points = events = 0
        hits: dict[str, list[bool]] = {"sensor": [], "process": []}
        delays: list[int] = []
        for f, (det, fold) in enumerate(zip(dets, folds, strict=True)):
            others = np.concatenate([pooled[g] for g in range(len(folds)) if g != f])
            threshold = float(np.quantile(others, q))
            flagged += int((pooled[f] > threshold).sum())
            points += len(pooled[f])
            events += sum(len(raised_runs(c > threshold, min_points)) for c in clean[f])
            for fault, stretch in zip(fold.faults, fold.stretches, strict=True):
                onset = fault.onset - fault.start
                runs = [
                    a
                    for a, _ in raised_runs(det.score(det.standardise(stretch)) > threshold, min_points)
                    if a >= onset
                ]
                hits[fault.kind].append(bool(runs))
                if runs:
                    delays.append(runs[0] + min_points - 1 - onset)
        every = hits["sensor"] + hits["process"]
        detectors[family] = dets
        figures.append(
            {
                "name": family,
                "detection_rate": float(np.mean(every)) if every else None,
                "sensor_fault_detection": float(np.mean(hits["sensor"])) if hits["sensor"] else None,
                "process_fault_detection": float(np.mean(hits["process"])) if hits["process"] else None,
                "median_detection_delay_points": float(np.median(delays)) if delays else None,
                "false_alarm_rate": flagged / points if points else None,
                "false_events_per_1000_points": 1000.0 * events / points if points else None,
                "threshold": float(np.quantile(np.concatenate(pooled), q)),
                "faults": len(every),
                "fit_seconds": round(time.monotonic() - started, 3),
            }
        )
    return figures, detectors, folds


def choose(figures: list[dict[str, Any]]) -> dict[str, Any]:
    """Most injected faults detected; then fewest false alarms; then the earlier family."""
    tried = [f for f in figures if "skipped" not in f]

    def key(item: tuple[int, dict[str, Any]]) -> tuple[float, float, int]:
        i, f = item
        far = f["false_alarm_rate"] if f["false_alarm_rate"] is not None else 1.0
        return (f["detection_rate"] if f["detection_rate"] is not None else -1.0, -far, -i)

    return max(enumerate(tried), key=key)[1]


def warmup_quantiles(
    detectors: list[Detector], series: list[np.ndarray], folds: list[_Fold], window: int, q: float
) -> list[float]:
    """The ``q`` quantile of out-of-fold scores from windows of 1, 2, ... ``window - 1`` points.

    A point near the start of a history is judged on fewer points, so its mean is noisier; its score
    is rescaled so that it crosses the threshold as rarely as a point with a full window.
    """
    out = []
    for k in range(1, window):
        scores = [
            det.score(det.standardise(rolling_mean(series[a], k)))
            for det, fold in zip(detectors, folds, strict=True)
            for a in fold.held
            if len(series[a]) >= k
        ]
        pooled = np.concatenate(scores) if scores else np.empty(0)
        out.append(float(np.quantile(pooled, q)) if len(pooled) else float("nan"))
    return out
