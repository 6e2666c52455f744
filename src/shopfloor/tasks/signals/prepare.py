"""What both signal families share: their options checked, the recording table read, windows and
features made within the time budget, and a predict record read into samples.

A training table is the stored recording table (:mod:`shopfloor.data.waveforms`): one row per
recording, channel columns of float arrays, ``sampling_rate``, ``rpm``, ``group``, ``recording``.
A predict record carries each channel the model reads as a list of numbers (or base64 of
little-endian float32), with ``sampling_rate`` and ``rpm`` when known; it may be one window or a
whole recording.
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from shopfloor.data.waveforms import FIXED
from shopfloor.errors import InvalidInput
from shopfloor.tasks.options import check_time_budget, is_whole, option_error
from shopfloor.tasks.signals import features as F

#: Share of the time budget that making features may take before windows are thinned.
FEATURE_SHARE = 0.25
MAX_RECORD_SAMPLES = 5_000_000


def check_common(est: Any) -> None:
    """The options both families take (window, windows, orders, band, budget, seed)."""
    if not is_whole(est.window, 256, 65536):
        raise option_error("window", "must be a whole number from 256 to 65536")
    if not is_whole(est.max_windows, 1, 4096):
        raise option_error("max_windows", "must be a whole number from 1 to 4096")
    if est.defect_orders is not None:
        if not isinstance(est.defect_orders, Mapping) or not all(
            isinstance(k, str)
            and k
            and isinstance(v, int | float)
            and not isinstance(v, bool)
            and 0 < v < 100
            for k, v in est.defect_orders.items()
        ):
            raise option_error("defect_orders", "must map names to orders of shaft speed (0 to 100)")
    band = est.envelope_band_hz
    if band is not None and (
        not isinstance(band, list | tuple)
        or len(band) != 2
        or not all(isinstance(v, int | float) for v in band)
        or not 0 <= band[0] < band[1]
    ):
        raise option_error("envelope_band_hz", "must be [low, high] in Hz with low < high")
    check_time_budget(est.time_budget_s)
    if not isinstance(est.seed, int) or isinstance(est.seed, bool):
        raise option_error("seed", "must be a whole number")


def envelope_band(hz: Sequence[float] | None) -> tuple[float, float] | None:
    """The ``envelope_band_hz`` option (``[low, high]``, checked by :func:`check_common`) as the pair
    the features take; None when no band is set."""
    return (hz[0], hz[1]) if hz else None


@dataclass
class Table:
    """The recordings of a training table, read once."""

    names: list[str]
    groups: list[str]
    channels: list[str]
    rate: float
    rpm: np.ndarray
    samples: list[list[np.ndarray]]  # per recording, per channel


def channel_columns(frame: pd.DataFrame) -> list[str]:
    """The columns holding sample arrays (everything but the recording table's fixed columns)."""
    return [
        str(c)
        for c in frame.columns
        if c not in FIXED and len(frame) and isinstance(frame[c].iloc[0], np.ndarray | list)
    ]


def read_table(frame: pd.DataFrame, exclude: set[str]) -> Table:
    """The recordings of ``frame``; refused when it is not a recording table or mixes rates."""
    channels = [c for c in channel_columns(frame) if c not in exclude]
    if not channels or "sampling_rate" not in frame.columns:
        raise InvalidInput(
            "the dataset holds no recordings: upload vibration recordings with format=signals",
            errors=[{"loc": ["body", "dataset_id"], "msg": "not a dataset of recordings"}],
        )
    rates = sorted({float(r) for r in frame["sampling_rate"]})
    if len(rates) > 1:
        raise InvalidInput(
            f"the recordings have {len(rates)} sampling rates ({', '.join(f'{r:g}' for r in rates[:5])} Hz); "
            "train on recordings at one rate (resample them before upload)",
            errors=[{"loc": ["body", "dataset_id"], "msg": "mixed sampling rates"}],
        )
    names = (
        [str(v) for v in frame["recording"]] if "recording" in frame else [str(i) for i in range(len(frame))]
    )
    groups = [str(v) for v in frame["group"]] if "group" in frame else names
    rpm = (
        pd.to_numeric(frame["rpm"], errors="coerce").to_numpy(float)
        if "rpm" in frame
        else np.full(len(frame), np.nan)
    )
    samples = [[np.asarray(frame[c].iloc[i], dtype=np.float64) for c in channels] for i in range(len(frame))]
    return Table(names, groups, channels, rates[0], rpm, samples)


@dataclass
class Windows:
    """Features of every window of a table: ``x`` (windows, features), ``rec`` (the recording of each)."""

    x: np.ndarray
    rec: np.ndarray
    per_recording: int
    seconds: float


def table_features(est: Any, table: Table, budget_s: float) -> Windows:
    """Features of at most ``max_windows`` windows per recording; fewer when the first recording shows
    that all of them would take more than ``budget_s`` seconds."""
    t0 = time.perf_counter()
    orders = dict(est.defect_orders or {})
    band = envelope_band(est.envelope_band_hz)
    most = int(est.max_windows)
    blocks: list[np.ndarray] = []
    recs: list[np.ndarray] = []
    for i, chans in enumerate(table.samples):
        if len(chans[0]) < est.window:
            raise InvalidInput(
                f"recording {table.names[i]!r} has {len(chans[0])} samples, "
                f"fewer than one window ({est.window})",
                errors=[{"loc": ["body", "options", "window"], "msg": "longer than a recording"}],
            )
        start = time.perf_counter()
        x = F.recording_features(chans, table.rate, _rpm(table.rpm[i]), int(est.window), most, orders, band)
        if i == 1:  # the second recording's cost (the first pays for imports) sets what the budget holds
            per_window = (time.perf_counter() - start) / len(x)
            fits = int(budget_s / max(per_window * len(table.samples), 1e-9))
            if fits < most:
                most = max(1, fits)
                x = _thin(x, most)
                blocks[0] = _thin(blocks[0], most)
                recs[0] = recs[0][: len(blocks[0])]
        blocks.append(x)
        recs.append(np.full(len(x), i))
    return Windows(np.vstack(blocks), np.concatenate(recs), most, time.perf_counter() - t0)


def _thin(x: np.ndarray, most: int) -> np.ndarray:
    return x[np.linspace(0, len(x) - 1, min(most, len(x))).round().astype(int)]


def _rpm(value: Any) -> float | None:
    return float(value) if value is not None and np.isfinite(value) and value > 0 else None


# ---------------------------------------------------------------------- predict records
def _samples(value: Any, loc: list[Any]) -> np.ndarray:
    if isinstance(value, str):
        try:
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidInput(
                "samples are neither a list of numbers nor base64",
                errors=[{"loc": loc, "msg": "bad samples"}],
            ) from None
        if len(raw) % 4:
            raise InvalidInput(
                "base64 samples must be float32", errors=[{"loc": loc, "msg": "not float32 bytes"}]
            )
        array = np.frombuffer(raw, dtype="<f4").astype(np.float64)
    elif isinstance(value, list | tuple | np.ndarray):
        try:
            array = np.asarray(value, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError):
            raise InvalidInput(
                "samples must be numbers", errors=[{"loc": loc, "msg": "expected numbers"}]
            ) from None
    else:
        raise InvalidInput(
            "expected the channel's samples", errors=[{"loc": loc, "msg": "expected a list of numbers"}]
        )
    if len(array) > MAX_RECORD_SAMPLES or not np.isfinite(array).all():
        raise InvalidInput(
            "samples must be finite and at most 5,000,000", errors=[{"loc": loc, "msg": "bad samples"}]
        )
    return array


def read_record(
    record: Mapping[str, Any], i: int, channels: list[str], rate: float, window: int
) -> tuple[list[np.ndarray], float | None, list[str]]:
    """One record's channels at the model's rate (resampled if it says another), its shaft speed and
    warnings. Raises :class:`InvalidInput` at ``["body", "records", i, ...]``."""
    from scipy.signal import resample_poly

    warns = []
    if not isinstance(record, Mapping):
        raise InvalidInput(
            "expected an object", errors=[{"loc": ["body", "records", i], "msg": "expected an object"}]
        )
    given = record.get("sampling_rate")
    if given is None:
        warns.append(f"no sampling_rate given: read at the training rate, {rate:g} Hz")
        given = rate
    elif isinstance(given, bool) or not isinstance(given, int | float) or not given > 0:
        raise InvalidInput(
            "sampling_rate must be a positive number",
            errors=[{"loc": ["body", "records", i, "sampling_rate"], "msg": "a positive number"}],
        )
    out = []
    for channel in channels:
        loc = ["body", "records", i, channel]
        if record.get(channel) is None:
            raise InvalidInput(
                f"record {i} lacks channel {channel!r}", errors=[{"loc": loc, "msg": "field required"}]
            )
        values = _samples(record[channel], loc)
        if float(given) != rate:
            from fractions import Fraction

            ratio = Fraction(rate / float(given)).limit_denominator(1000)
            values = resample_poly(values, ratio.numerator, ratio.denominator)
        if len(values) < window:
            raise InvalidInput(
                f"record {i}: {len(values)} samples in {channel!r}, fewer than one window of {window}",
                errors=[{"loc": loc, "msg": f"at least {window} samples at {rate:g} Hz"}],
            )
        out.append(values)
    if float(given) != rate:
        warns.append(f"resampled from {float(given):g} Hz to the training rate, {rate:g} Hz")
    rpm = record.get("rpm")
    if rpm is not None and (isinstance(rpm, bool) or not isinstance(rpm, int | float)):
        raise InvalidInput(
            "rpm must be a number", errors=[{"loc": ["body", "records", i, "rpm"], "msg": "a number"}]
        )
    return out, _rpm(rpm), warns


def read_records(
    records: Any, channels: list[str], rate: float, window: int
) -> list[tuple[list[np.ndarray], float | None, list[str]]]:
    """Every record read (see :func:`read_record`); bad records refused together."""
    out, errors = [], []
    for i, record in enumerate(records):
        try:
            out.append(read_record(record, i, channels, rate, window))
        except InvalidInput as exc:
            errors += exc.errors or []
    if errors:
        raise InvalidInput(f"{len(errors)} record(s) cannot be read as recordings", errors=errors[:50])
    return out


def input_schema(channels: list[str]) -> list[dict[str, Any]]:
    """The inputs a model reads: its channels (samples); ``sampling_rate`` and ``rpm`` are optional."""
    return [{"name": c, "type": "waveform"} for c in channels]
