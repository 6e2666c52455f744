"""NASA C-MAPSS FD001 engines as Lookout for Equipment data: one piece of equipment whose history is
a few engines' lives one after another (one cycle a minute, an hour's pause between two engines).

Two components, as a plant's Lookout dataset would have them: ``operating`` (the three operating
settings) and ``engine`` (the 21 sensors). Labels: the last :data:`LABELLED` share of each life
(the degradation before failure) as anomaly ranges. Helpers give the wide table, each component's
CSV file, the label file and inference input files named ``<component>_<yyyyMMddHHmmss>.csv``.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd

NAMES = ["unit", "cycle", "setting1", "setting2", "setting3", *(f"s{i}" for i in range(1, 22))]
COMPONENTS = {"operating": ["setting1", "setting2", "setting3"], "engine": [f"s{i}" for i in range(1, 22)]}
TIME = "Timestamp"
#: The share of each engine's life labelled anomalous (its end).
LABELLED = 0.3
#: When the first engine starts, one cycle a minute, an hour between two engines.
START = datetime(2024, 1, 1, tzinfo=UTC)
STEP = timedelta(minutes=1)
PAUSE = timedelta(hours=1)


def fd001(data_dir: Path, units: list[int]) -> pd.DataFrame:
    """The rows of the chosen engines of train_FD001.txt, in the order given."""
    frame = pd.read_csv(data_dir / "cmapss" / "train_FD001.txt", sep=r"\s+", header=None, names=NAMES)
    return pd.concat([frame[frame["unit"] == u] for u in units], ignore_index=True)


def timeline(engines: pd.DataFrame, start: datetime = START) -> pd.DataFrame:
    """The engines one after another: ``unit``, ``Timestamp`` and ``component\\sensor`` columns."""
    parts, at = [], start
    for _, life in engines.groupby("unit", sort=False):
        times = [at + i * STEP for i in range(len(life))]
        part = pd.DataFrame({"unit": life["unit"].to_numpy(), TIME: times})
        for component, sensors in COMPONENTS.items():
            for s in sensors:
                part[f"{component}\\{s}"] = life[s].to_numpy(float)
        parts.append(part)
        at = times[-1] + PAUSE
    return pd.concat(parts, ignore_index=True)


def label_ranges(table: pd.DataFrame) -> list[tuple[datetime, datetime]]:
    """The last :data:`LABELLED` share of each engine's life."""
    out = []
    for _, life in table.groupby("unit", sort=False):
        first = life[TIME].iloc[int(len(life) * (1 - LABELLED))]
        out.append((first.to_pydatetime(), life[TIME].iloc[-1].to_pydatetime()))
    return out


def labels_csv(ranges: list[tuple[datetime, datetime]]) -> bytes:
    """Lookout's label file: start, end per row, no header."""
    return "".join(f"{a:%Y-%m-%d %H:%M:%S},{b:%Y-%m-%d %H:%M:%S}\n" for a, b in ranges).encode()


def component_csv(table: pd.DataFrame, component: str) -> bytes:
    """One component's readings as Lookout reads them: Timestamp first, then its sensors."""
    sensors = COMPONENTS[component]
    part = table[[TIME, *(f"{component}\\{s}" for s in sensors)]].copy()
    part.columns = [TIME, *sensors]
    part[TIME] = part[TIME].dt.strftime("%Y-%m-%d %H:%M:%S")
    buffer = io.StringIO()
    part.to_csv(buffer, index=False)
    return buffer.getvalue().encode()


def wide_csv(table: pd.DataFrame) -> bytes:
    """The wide table (Timestamp and every ``component\\sensor``) as one CSV file."""
    out = table.drop(columns="unit").copy()
    out[TIME] = out[TIME].dt.strftime("%Y-%m-%d %H:%M:%S")
    buffer = io.StringIO()
    out.to_csv(buffer, index=False)
    return buffer.getvalue().encode()


def inference_files(table: pd.DataFrame, named_at: datetime, delimiter: str = "_") -> dict[str, bytes]:
    """Each component's file of ``table``'s rows, named with ``named_at`` (yyyyMMddHHmmss)."""
    stamp = named_at.strftime("%Y%m%d%H%M%S")
    return {f"{c}{delimiter}{stamp}.csv": component_csv(table, c) for c in COMPONENTS}


def shifted(table: pd.DataFrame, start: datetime) -> pd.DataFrame:
    """``table`` with its readings moved in time so that its first reading is at ``start``."""
    moved = table.copy()
    moved[TIME] = moved[TIME] - moved[TIME].iloc[0] + pd.Timestamp(start)
    return moved


def schema() -> dict[str, list[dict[str, object]]]:
    """The InlineDataSchema of :data:`COMPONENTS` (a Timestamp column, then DOUBLE sensors)."""
    return {
        "Components": [
            {
                "ComponentName": component,
                "Columns": [
                    {"Name": TIME, "Type": "DATETIME"},
                    *({"Name": s, "Type": "DOUBLE"} for s in sensors),
                ],
            }
            for component, sensors in COMPONENTS.items()
        ]
    }


def components() -> list[dict[str, object]]:
    """:data:`COMPONENTS` as a model's training job records them (name, time column, sensors)."""
    return [{"name": c, "time_column": TIME, "sensors": list(s)} for c, s in COMPONENTS.items()]
