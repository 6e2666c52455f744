"""A Gaussian-copula generator of synthetic tables (numpy/scipy only, no new dependency).

``GaussianCopula(seed).fit(frame, column_types).sample(n)`` returns ``n`` new rows with the
same columns and dtypes:

* numeric (and datetime, as nanoseconds) columns keep their empirical marginal: a uniform
  is mapped through the linearly interpolated quantile function of the real values, then
  jittered by a small kernel bandwidth, clipped to the real range and rounded to the
  column's decimals (integers stay integers);
* categorical and boolean columns keep their frequencies: each level owns an interval of
  the unit interval, and real rows get the normal score of their level (the mean of the
  standard normal over that interval);
* the dependence between columns is the correlation matrix of the normal scores, each
  entry divided by the scores' standard deviations (a level's mean score only carries
  ``sd`` of the latent normal's signal, so this undoes the attenuation for rare levels);
* id columns are regenerated as fresh ids (never copied); text columns are dropped
  (see :attr:`GaussianCopula.notes_`);
* missing values keep each column's missing rate (drawn independently).

With ``by`` (a categorical or boolean column, typically a classification target), one
copula is fitted per level of ``by`` (levels with fewer than :data:`MIN_LEVEL_ROWS` rows
share one copula) and rows are drawn in the real level proportions: the class-conditional
distributions, which a single copula blurs into one correlation matrix, are kept.

A sampled row identical to a row in ``avoid`` (default: the fitted rows) is redrawn, so
no real value tuple is reproduced exactly.
"""

from __future__ import annotations

from typing import Any, Self

import numpy as np
import pandas as pd
from scipy import stats

from shopfloor.errors import InvalidInput, NotFitted

#: bandwidth of the numeric jitter, as a fraction of Silverman's rule of thumb
JITTER = 0.25
MAX_RESAMPLE_ROUNDS = 20
_EPS = 1e-6
MIN_LEVEL_ROWS = 20


def _decimals(values: np.ndarray) -> int | None:
    """How many decimals the real values use (None: more than 6, i.e. continuous)."""
    sample = values[:2000]
    for d in range(7):
        if np.allclose(sample, np.round(sample, d), rtol=0, atol=1e-9):
            return d
    return None


def row_keys(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """One hash per row over ``columns``, comparable between a real and a synthetic frame."""
    norm = {}
    for col in columns:
        s = frame[col]
        if pd.api.types.is_datetime64_any_dtype(s.dtype):
            norm[col] = s.astype("int64", errors="ignore").astype(str)
        elif pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
            # the same rounding on both sides absorbs last-bit differences of parsed decimals
            norm[col] = np.round(s.astype(float), 9).astype(str)
        else:
            norm[col] = s.astype(str)
    keys = pd.util.hash_pandas_object(pd.DataFrame(norm), index=False)
    return np.asarray(keys.to_numpy(), dtype=np.uint64)


class GaussianCopula:
    """Gaussian copula over empirical marginals. ``seed`` fixes fitting and sampling."""

    def __init__(self, seed: int = 0, jitter: float = JITTER) -> None:
        self.seed = seed
        self.jitter = jitter

    # ------------------------------------------------------------------ fit
    def fit(self, frame: pd.DataFrame, column_types: dict[str, str]) -> Self:
        """Learn marginals and correlations. ``column_types``: column -> profile type.

        Raises :class:`InvalidInput` for a table with fewer than 10 rows or no column to model.
        """
        if len(frame) < 10:
            raise InvalidInput("a synthetic copy needs at least 10 real rows")
        self.columns_ = list(frame.columns)
        self.dtypes_ = {c: frame[c].dtype for c in frame.columns}
        self.notes_: list[dict[str, Any]] = []
        self.margins_: dict[str, dict[str, Any]] = {}
        self.ids_: dict[str, dict[str, Any]] = {}
        scores, spreads = [], []
        for col in frame.columns:
            kind = column_types.get(col, "categorical")
            if kind == "id":
                self.ids_[col] = self._fit_id(frame[col])
                continue
            if kind == "text":
                self.notes_.append(
                    {
                        "code": "text-dropped",
                        "column": col,
                        "message": f"text column {col!r} is not synthesized (dropped)",
                    }
                )
                continue
            margin, z = self._fit_margin(frame[col], kind)
            self.margins_[col] = margin
            scores.append(z)
            spreads.append(1.0 if margin["kind"] != "categorical" else max(float(np.std(z)), 0.05))
        if not self.margins_:
            raise InvalidInput("no column to synthesize (only id and text columns)")
        self.columns_ = [c for c in self.columns_ if c in self.margins_ or c in self.ids_]
        Z = np.column_stack(scores)
        with np.errstate(invalid="ignore", divide="ignore"):  # a constant column: no correlation
            corr = np.corrcoef(Z, rowvar=False) if Z.shape[1] > 1 else np.ones((1, 1))
        corr = np.nan_to_num(np.atleast_2d(corr), nan=0.0)
        corr = np.clip(corr / np.outer(spreads, spreads), -0.99, 0.99)
        np.fill_diagonal(corr, 1.0)
        # nearest positive-definite matrix: clip eigenvalues, renormalise the diagonal
        w, v = np.linalg.eigh(corr)
        corr = (v * np.maximum(w, 1e-6)) @ v.T
        d = np.sqrt(np.diag(corr))
        self.corr_ = corr / np.outer(d, d)
        self.avoid_ = row_keys(frame, self._compared())
        return self

    def _fit_id(self, values: pd.Series) -> dict[str, Any]:
        numeric = pd.api.types.is_integer_dtype(values.dtype)
        start = int(values.max()) + 1 if numeric and values.notna().any() else 1
        return {"numeric": numeric, "start": start}

    def _fit_margin(self, values: pd.Series, kind: str) -> tuple[dict[str, Any], np.ndarray]:
        n = len(values)
        missing = values.isna().to_numpy()
        z = np.zeros(n)
        if kind in ("numeric", "datetime"):
            is_dt = kind == "datetime" or pd.api.types.is_datetime64_any_dtype(values.dtype)
            if is_dt:
                parsed = pd.to_datetime(values, errors="coerce")
                missing = parsed.isna().to_numpy()
                real = parsed[~missing].astype("int64").to_numpy(dtype=float)
            else:
                num = pd.to_numeric(values, errors="coerce")
                missing = num.isna().to_numpy()
                real = num[~missing].to_numpy(dtype=float)
            if len(real) == 0:
                return {"kind": "empty", "missing": 1.0}, z
            ranks = stats.rankdata(real, method="average")
            z[~missing] = stats.norm.ppf(ranks / (len(real) + 1))
            std = float(np.std(real))
            iqr = float(np.subtract(*np.percentile(real, [75, 25])))
            spread = min(std, iqr / 1.34) if iqr > 0 else std
            bandwidth = self.jitter * 0.9 * spread * len(real) ** -0.2
            integer = not is_dt and np.allclose(real, np.round(real))
            return {
                "kind": "datetime" if is_dt else "numeric",
                "sorted": np.sort(real),
                "bandwidth": bandwidth,
                "decimals": 0 if integer else (None if is_dt else _decimals(real)),
                "missing": float(missing.mean()),
            }, z
        # categorical / boolean: missing is a level of its own
        levels = values.astype(object).where(~values.isna(), None)
        counts = levels.value_counts(dropna=False, sort=True)
        cats = list(counts.index)
        probs = counts.to_numpy(dtype=float) / n
        upper = np.cumsum(probs)
        lower = upper - probs
        index = {c: i for i, c in enumerate(cats)}
        codes = np.array([index[c] for c in levels], dtype=int)
        a = stats.norm.ppf(np.clip(lower, 0, 1))
        b = stats.norm.ppf(np.clip(upper, 0, 1))
        level_score = (stats.norm.pdf(a) - stats.norm.pdf(b)) / np.maximum(probs, _EPS)
        z = level_score[codes]
        return {"kind": "categorical", "levels": cats, "upper": upper, "missing": 0.0}, z

    def fit_by(self, frame: pd.DataFrame, column_types: dict[str, str], by: str | None) -> Self:
        """:meth:`fit`, or one copula per level of ``by`` (see the module docstring)."""
        self.parts_: list[tuple[float, GaussianCopula]] = []
        if by is None or column_types.get(by) not in ("categorical", "boolean"):
            return self.fit(frame, column_types)
        self.fit(frame, column_types)  # columns, ids, notes and the rows to avoid
        levels = frame[by].astype(str)
        counts = levels.value_counts()
        small = counts.index[counts < MIN_LEVEL_ROWS]
        groups = [levels == lv for lv in counts.index if lv not in small]
        if len(small):
            groups.append(levels.isin(small))
        for i, mask in enumerate(groups):
            sub = frame.loc[mask.to_numpy()]
            if len(sub) >= 10:
                part = GaussianCopula(self.seed + 101 * (i + 1), self.jitter).fit(sub, column_types)
                self.parts_.append((len(sub) / len(frame), part))
        if len(self.parts_) < 2:
            self.parts_ = []
        return self

    # ------------------------------------------------------------------ sample
    def _check_fitted(self) -> None:
        if not hasattr(self, "corr_"):
            raise NotFitted("this GaussianCopula is not fitted yet; call fit()")

    def _compared(self) -> list[str]:
        return [c for c in self.columns_ if c in self.margins_]

    def sample(self, n: int, avoid: pd.DataFrame | None = None) -> pd.DataFrame:
        """``n`` synthetic rows; none equals a row of ``avoid`` (default: the fitted rows)."""
        self._check_fitted()
        rng = np.random.default_rng(self.seed + 1)
        avoid_keys = set((self.avoid_ if avoid is None else row_keys(avoid, self._compared())).tolist())
        out = self._draw_any(n, rng)
        for _ in range(MAX_RESAMPLE_ROUNDS):
            dup = np.isin(row_keys(out, self._compared()), list(avoid_keys))
            if not dup.any():
                break
            fresh = self._draw_any(int(dup.sum()), rng)
            fresh.index = out.index[dup]
            out.loc[dup] = fresh
        for col, spec in self.ids_.items():
            out[col] = self._ids(spec, n)
        return out[self.columns_].reset_index(drop=True)

    def _draw_any(self, n: int, rng: np.random.Generator) -> pd.DataFrame:
        """Rows from this copula, or from the per-level copulas in their proportions."""
        parts = getattr(self, "parts_", [])
        if not parts:
            return self._draw(n, rng)
        weights = np.array([w for w, _ in parts])
        counts = rng.multinomial(n, weights / weights.sum())
        drawn = [p._draw(int(k), rng) for k, (_, p) in zip(counts, parts, strict=True) if k]
        out = pd.concat(drawn, ignore_index=True)
        return out.iloc[rng.permutation(len(out))].reset_index(drop=True)

    def _draw(self, n: int, rng: np.random.Generator) -> pd.DataFrame:
        names = list(self.margins_)
        Z = rng.multivariate_normal(np.zeros(len(names)), self.corr_, size=n, method="cholesky")
        U = np.clip(stats.norm.cdf(Z), _EPS, 1 - _EPS)
        data = {}
        for j, col in enumerate(names):
            series = self._column(self.margins_[col], U[:, j], rng)
            missing = rng.uniform(size=n) < self.margins_[col]["missing"]
            data[col] = self._restore(col, series, missing)
        return pd.DataFrame(data)

    def _column(self, m: dict[str, Any], u: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if m["kind"] == "empty":
            return np.full(len(u), np.nan)
        if m["kind"] == "categorical":
            idx = np.minimum(np.searchsorted(m["upper"], u, side="right"), len(m["levels"]) - 1)
            return np.array(m["levels"], dtype=object)[idx]
        real = m["sorted"]
        pos = u * (len(real) - 1)
        values = np.interp(pos, np.arange(len(real)), real)
        values = values + rng.normal(scale=m["bandwidth"], size=len(u))
        values = np.clip(values, real[0], real[-1])
        if m["decimals"] is not None:
            values = np.round(values, m["decimals"])
        return values

    def _restore(self, col: str, values: np.ndarray, missing: np.ndarray) -> pd.Series:
        """Back to the real column's dtype, with missing values where drawn."""
        dtype = self.dtypes_[col]
        kind = self.margins_[col]["kind"]
        if kind == "datetime":
            s = pd.Series(pd.to_datetime(values.astype("int64")))
            if getattr(dtype, "tz", None) is not None:
                s = s.dt.tz_localize("UTC").dt.tz_convert(dtype.tz)
            s[missing] = pd.NaT
            return s if pd.api.types.is_datetime64_any_dtype(dtype) else s.dt.strftime("%Y-%m-%dT%H:%M:%S")
        s = pd.Series(values)
        if kind == "numeric":
            s = s.astype(float)
            s[missing] = np.nan
            if pd.api.types.is_integer_dtype(dtype):
                return s.round().astype("Int64" if missing.any() else dtype)
            return s.astype(dtype) if pd.api.types.is_float_dtype(dtype) else s
        s[missing] = None
        if pd.api.types.is_bool_dtype(dtype) and not s.isna().any():
            return s.astype(bool)
        if pd.api.types.is_numeric_dtype(dtype) and not s.isna().any():
            return s.astype(dtype)
        return s

    def _ids(self, spec: dict[str, Any], n: int) -> pd.Series:
        if spec["numeric"]:
            return pd.Series(np.arange(spec["start"], spec["start"] + n, dtype=np.int64))
        return pd.Series([f"SYN-{i:07d}" for i in range(1, n + 1)], dtype=object)
