"""A small multivariate series for the Azure multivariate tests: three variables that move together
(``b`` follows ``a``, ``c`` mirrors it), one reading a minute, as OneTable and MultiTable files."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

START = datetime(2026, 1, 1, tzinfo=UTC)
VARIABLES = ("a", "b", "c")


def series(n: int = 1200, seed: int = 0) -> pd.DataFrame:
    """``n`` minutes of normal operation: a ``timestamp`` column (ISO 8601, UTC) and a, b, c."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    a = np.sin(2 * np.pi * t / 240) + 0.1 * rng.normal(size=n)
    b = 2.0 * a + 0.1 * rng.normal(size=n)
    c = -a + 0.1 * rng.normal(size=n)
    stamps = [(START + timedelta(minutes=int(i))).strftime("%Y-%m-%dT%H:%M:%SZ") for i in t]
    return pd.DataFrame({"timestamp": stamps, "a": a, "b": b, "c": c})


def at(minute: int) -> str:
    return (START + timedelta(minutes=minute)).strftime("%Y-%m-%dT%H:%M:%SZ")


def one_table(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode()


def multi_table_zip(frame: pd.DataFrame) -> bytes:
    """One ``timestamp,value`` CSV per variable, named by it, in a zip."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name in VARIABLES:
            part = frame[["timestamp", name]].rename(columns={name: "value"})
            archive.writestr(f"{name}.csv", part.to_csv(index=False))
    return out.getvalue()


def disturbed(frame: pd.DataFrame, variable: str, last: int, by: float) -> pd.DataFrame:
    """``frame`` with ``variable`` moved by ``by`` over its ``last`` rows (the others unchanged)."""
    out = frame.copy()
    out.loc[out.index[-last:], variable] += by
    return out


def variable_values(frame: pd.DataFrame) -> list[dict[str, object]]:
    """The rows of ``frame`` as Azure VariableValues."""
    return [
        {"variable": name, "timestamps": list(frame["timestamp"]), "values": [float(v) for v in frame[name]]}
        for name in VARIABLES
    ]
