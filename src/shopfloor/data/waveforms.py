"""Read uploaded vibration recordings into the stored recording table, or say which file is wrong.

A recording is one file: ``.wav``, ``.npy``, ``.npz``, MATLAB ``.mat`` (v5, read with
``scipy.io.loadmat``), CSV or Parquet (one column per channel). An upload is one recording, or a zip
of many with an optional ``labels.csv`` (header ``file,label`` and optionally ``group``, ``rpm``,
``sampling_rate``). Without a labels table, a recording's label is the folder holding it (class
folders, as image zips have) and its group is its own name.

The stored table has one row per recording: ``recording`` (its path), ``label``, ``group`` (the
machine, bearing or test run: folds never split a group), ``rpm`` (shaft speed, NaN when unknown),
``sampling_rate`` (Hz), ``samples``, and one column per chosen channel holding the samples as a
float32 array. Channels are chosen by name (:class:`SignalOptions.channels`): a name matches a
channel exactly or as its ending, so ``FE_time`` picks ``X097_FE_time`` in one ``.mat`` file and
``X278_FE_time`` in the next. The sampling rate comes from the labels table, the file itself (a
WAV header, a scalar ``fs`` / ``sampling_rate`` variable) or the upload's ``sampling_rate``; the
shaft speed likewise (a scalar variable whose name ends in ``rpm``, as CWRU files hold).

Zip members are checked as hostile before and while they are read (see :mod:`shopfloor.data.archive`).
"""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import pandas as pd

from shopfloor.data.archive import (
    Budget,
    Member,
    ZipLimits,
    check_members,
    ignored,
    member_error,
    member_parts,
)
from shopfloor.data.decoded_size import TooLarge, check_decoded_size
from shopfloor.errors import InvalidDataset

FIXED = ("recording", "label", "group", "rpm", "sampling_rate", "samples")
SUFFIXES = frozenset({".wav", ".npy", ".npz", ".mat", ".csv", ".parquet"})
LABELS_FILE = "labels.csv"
MIN_SAMPLES = 256
#: Largest recording accepted, in samples per channel (about 10 minutes at 50 kHz).
MAX_SAMPLES = 30_000_000
#: Largest recording file once decoded (a compressed .npz, .mat or Parquet is sized before reading).
MAX_DECODED_BYTES = 512 * 1024**2
_RATE_NAMES = frozenset({"fs", "sampling_rate", "sample_rate", "samplerate", "rate", "sr"})
_TIME_NAMES = frozenset({"time", "t", "time_s", "seconds", "timestamp"})
_MAGIC = (b"RIFF", b"\x93NUMPY", b"MATLAB 5.0")


@dataclass(frozen=True)
class SignalOptions:
    """What an upload says of its recordings: the rate, the channels to keep, the shaft speed."""

    sampling_rate: float | None = None
    channels: tuple[str, ...] | None = None
    rpm: float | None = None


@dataclass
class Recording:
    """One file read: its channels by their own names, and the rate and speed it states, if any."""

    channels: dict[str, np.ndarray]
    rate: float | None = None
    rpm: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _bad(where: str, msg: str) -> InvalidDataset:
    return (
        member_error(where, msg)
        if where != "file"
        else InvalidDataset(msg, errors=[{"loc": ["file"], "msg": msg}])
    )


def looks_like_recordings(path: Path) -> bool:
    """Whether an upload under format ``auto`` is a recording (WAV, NPY, MAT by their magic bytes) or
    a zip holding recordings (``.wav .npy .npz .mat .csv .parquet`` members besides the labels
    table, which a zip of images has too), not images."""
    with Path(path).open("rb") as fh:
        head = fh.read(16)
    if head.startswith(_MAGIC):
        return True
    if not head.startswith(b"PK\x03\x04"):
        return False
    try:
        with zipfile.ZipFile(path) as archive:
            names = [PurePosixPath(info.filename.lower()) for info in archive.infolist()]
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return False
    return any(n.suffix in SUFFIXES for n in names if n.name != LABELS_FILE)


# ---------------------------------------------------------------------- one file
def read_recording(data: bytes, name: str) -> Recording:
    """The channels (float arrays, one per channel), rate and speed of one file; its kind from its
    suffix, else its magic bytes. Raises :class:`InvalidDataset` at ``name``."""
    suffix = PurePosixPath(name.lower()).suffix
    if suffix not in SUFFIXES:
        suffix = {b"RIFF": ".wav", b"\x93NUMPY": ".npy", b"MATLAB 5.0": ".mat"}.get(
            next((m for m in _MAGIC if data.startswith(m)), b""),
            ".npz" if data[:4] == b"PK\x03\x04" else ".parquet" if data[:4] == b"PAR1" else ".csv",
        )
    readers = {".wav": _wav, ".npy": _npy, ".npz": _npz, ".mat": _mat, ".csv": _csv, ".parquet": _parquet}
    if suffix not in readers:
        raise _bad(name, "not a recording: use .wav, .npy, .npz, .mat, .csv or .parquet")
    try:
        check_decoded_size(data, suffix, MAX_DECODED_BYTES)
    except TooLarge as exc:
        raise _bad(name, str(exc)) from None
    except Exception as exc:  # a structure too broken to size is too broken to read
        raise _bad(name, f"not a readable {suffix[1:]} recording: {exc}") from None
    try:
        recording = readers[suffix](data)
    except InvalidDataset:
        raise
    except Exception as exc:  # each reader (scipy, numpy, pandas, pyarrow) has its own error types
        raise _bad(name, f"not a readable {suffix[1:]} recording: {exc}") from None
    if not recording.channels:
        raise _bad(name, "holds no numeric channel of at least 256 samples")
    return recording


def _channels_of(array: np.ndarray) -> dict[str, np.ndarray]:
    """A 1-D array as ``signal``; a 2-D one as ``ch0``, ``ch1``... (the longer side is time)."""
    array = np.asarray(array)
    if array.ndim == 2 and 1 in array.shape:
        array = array.reshape(-1)
    if array.ndim == 1:
        return {"signal": array}
    if array.ndim != 2:
        raise ValueError(f"an array of {array.ndim} dimensions; expected samples or samples x channels")
    if array.shape[0] < array.shape[1]:
        array = array.T
    return {f"ch{i}": array[:, i] for i in range(array.shape[1])}


def _wav(data: bytes) -> Recording:
    from scipy.io import wavfile

    rate, samples = wavfile.read(io.BytesIO(data))
    if np.issubdtype(samples.dtype, np.integer):  # integer PCM to full scale 1.0
        info = np.iinfo(samples.dtype)
        samples = (samples.astype(np.float64) - (info.max + info.min + 1) / 2) / (
            (info.max - info.min + 1) / 2
        )
    return Recording(_channels_of(samples), rate=float(rate))


def _npy(data: bytes) -> Recording:
    return Recording(_channels_of(np.load(io.BytesIO(data), allow_pickle=False)))


def _named(arrays: dict[str, Any]) -> Recording:
    """Arrays by name (an ``.npz``, a ``.mat``): long vectors are channels, scalars rate or speed."""
    out = Recording({}, extra={"variables": True})
    for key, value in arrays.items():
        if key.startswith("__"):
            continue
        array = np.asarray(value)
        if array.dtype.kind not in "iuf":
            continue
        if array.size == 1:
            lower = key.lower()
            if lower.endswith("rpm"):
                out.rpm = float(array.reshape(-1)[0])
            elif lower in _RATE_NAMES:
                out.rate = float(array.reshape(-1)[0])
        elif array.size >= MIN_SAMPLES and max(array.shape) == array.size:
            out.channels[key] = array.reshape(-1)
    return out


def _npz(data: bytes) -> Recording:
    with np.load(io.BytesIO(data), allow_pickle=False) as archive:
        return _named({key: archive[key] for key in archive.files})


def _mat(data: bytes) -> Recording:
    from scipy.io import loadmat

    if b"MATLAB 7.3" in data[:128]:
        raise InvalidDataset("a MATLAB v7.3 (HDF5) file; save it with -v7 or as .npz")
    return _named(loadmat(io.BytesIO(data)))


def _table(frame: pd.DataFrame) -> Recording:
    out = Recording({})
    times = [c for c in frame.columns if str(c).strip().lower() in _TIME_NAMES]
    if times:
        t = pd.to_numeric(frame[times[0]], errors="coerce").to_numpy(dtype=float)
        step = np.nanmedian(np.diff(t)) if len(t) > 1 else np.nan
        if np.isfinite(step) and step > 0:
            out.rate = float(1.0 / step)
    for column in frame.columns:
        if column in times:
            continue
        values = pd.to_numeric(frame[column], errors="coerce")
        if values.notna().all() and len(values) >= MIN_SAMPLES:
            out.channels[str(column)] = values.to_numpy(dtype=float)
    return out


def _csv(data: bytes) -> Recording:
    return _table(pd.read_csv(io.BytesIO(data)))


def _parquet(data: bytes) -> Recording:
    return _table(pd.read_parquet(io.BytesIO(data)))


# ---------------------------------------------------------------------- channel choice
def pick_channels(recording: Recording, wanted: tuple[str, ...] | None, where: str) -> dict[str, np.ndarray]:
    """The channels ``wanted`` (by exact name, else by name ending, else by index), under the names
    asked for; all of them when none is asked for and the file has one, else refused listing them."""
    names = list(recording.channels)
    if not wanted:
        if len(names) == 1:  # a .mat variable's name changes from file to file (X097_FE_time...)
            own = "signal" if recording.extra.get("variables") else names[0]
            return {own: recording.channels[names[0]]}
        if all(n.startswith("ch") or n == "signal" for n in names):
            return dict(recording.channels)
        raise _bad(
            where,
            f"holds several channels ({', '.join(names[:12])}); name those to keep in 'channels' "
            "(a name or its ending, e.g. FE_time)",
        )
    out = {}
    for want in wanted:
        found = [n for n in names if n == want] or [n for n in names if n.endswith(want)]
        if not found and want.isdigit() and int(want) < len(names):
            found = [names[int(want)]]
        if len(found) != 1:
            what = "no channel" if not found else f"{len(found)} channels ({', '.join(found)})"
            raise _bad(where, f"{what} named {want!r}; it holds {', '.join(names[:12])}")
        out[want] = recording.channels[found[0]]
    return out


def recording_row(
    recording: Recording, where: str, options: SignalOptions, given: dict[str, Any]
) -> dict[str, Any]:
    """One row of the table: channels checked (finite, long enough, one length) and float32."""
    channels = pick_channels(recording, options.channels, where)
    clash = set(channels) & set(FIXED)
    if clash:
        raise _bad(where, f"a channel may not be named {', '.join(sorted(clash))}; rename it")
    lengths = {len(v) for v in channels.values()}
    if len(lengths) > 1:
        raise _bad(where, f"its channels have different lengths ({sorted(lengths)})")
    n = lengths.pop()
    if n < MIN_SAMPLES or n > MAX_SAMPLES:
        raise _bad(where, f"{n:,} samples; a recording holds {MIN_SAMPLES} to {MAX_SAMPLES:,} samples")
    for channel, values in channels.items():
        if not np.isfinite(values).all():
            raise _bad(where, f"channel {channel!r} has missing or infinite values")
    rate = given.get("sampling_rate") or recording.rate or options.sampling_rate
    if rate is None or not np.isfinite(rate) or rate <= 0:
        raise _bad(where, "the sampling rate is unknown: give 'sampling_rate' (Hz) with the upload")
    rpm = given.get("rpm")
    rpm = rpm if rpm is not None else recording.rpm if recording.rpm is not None else options.rpm
    return {
        "label": given.get("label"),
        "group": given.get("group"),
        "rpm": float(rpm) if rpm is not None and rpm > 0 else np.nan,
        "sampling_rate": float(rate),
        "samples": int(n),
        **{name: np.asarray(values, dtype=np.float32) for name, values in channels.items()},
    }


# ---------------------------------------------------------------------- uploads
def read_recordings(
    path: Path, options: SignalOptions, filename: str | None = None, limits: ZipLimits | None = None
) -> pd.DataFrame:
    """The recording table of one upload (a recording, or a zip of them, within ``limits``): see
    the module doc.

    Raises:
        InvalidDataset: naming the file or member: unreadable, no or ambiguous channel, unknown
            rate, non-finite values, too short; a bad ``labels.csv``; recordings whose channels
            differ; no recording at all; an unsafe zip (see :mod:`shopfloor.data.archive`).
    """
    path = Path(path)
    with path.open("rb") as fh:
        head = fh.read(4)
    name = filename or path.name
    if head == b"PK\x03\x04" and not _is_npz(path):
        rows = _read_zip(path, options, limits)
    else:
        row = recording_row(read_recording(path.read_bytes(), name), name, options, {})
        rows = [{"recording": name, **row, "group": PurePosixPath(name).stem}]
    frame = pd.DataFrame(rows)
    channels = [c for c in frame.columns if c not in FIXED]
    if frame[channels].isna().any().any():
        odd = frame.loc[frame[channels].isna().any(axis=1), "recording"].iloc[0]
        raise _bad(str(odd), f"does not hold the channels the others hold ({', '.join(channels)})")
    frame["group"] = frame["group"].fillna(frame["recording"]).astype(str)
    return frame[[*FIXED, *channels]]


def _is_npz(path: Path) -> bool:
    """A zip of ``.npy`` arrays alone (numpy's ``.npz``) is one recording, not a zip of them."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = [info.filename for info in archive.infolist() if not info.is_dir()]
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return False
    return bool(names) and all(n.lower().endswith(".npy") and "/" not in n for n in names)


def _read_zip(path: Path, options: SignalOptions, limits: ZipLimits | None = None) -> list[dict[str, Any]]:
    limits = limits or ZipLimits()
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        raise _bad("file", f"the file is not a readable zip archive: {exc}") from None
    with archive:
        infos = archive.infolist()
        check_members(infos, limits)
        members, tables = [], []
        for info in infos:
            parts = member_parts(info)
            if info.is_dir() or not parts or ignored(parts):
                continue
            member = Member(info, parts)
            if parts[-1].lower() == LABELS_FILE:
                tables.append(member)
            elif PurePosixPath(parts[-1].lower()).suffix in SUFFIXES:
                members.append(member)
            else:
                raise member_error(
                    info.filename, "not a recording (.wav .npy .npz .mat .csv .parquet) or labels.csv"
                )
        if not members:
            raise _bad("file", "the zip holds no recordings (.wav, .npy, .npz, .mat, .csv or .parquet)")
        if len(tables) > 1:
            raise member_error(tables[1].name, f"a second {LABELS_FILE}")
        budget = Budget(limits)
        given = _labels(budget.read(archive, tables[0]), tables[0], members) if tables else _folders(members)
        rows = []
        for member in members:
            recording = read_recording(budget.read(archive, member), member.name)
            row = recording_row(recording, member.name, options, given[member.name])
            rows.append({"recording": member.name, **row})
    return rows


def _folders(members: list[Member]) -> dict[str, dict[str, Any]]:
    """Without a labels table: the label is the folder holding a recording (none when all share it)."""
    folders = {m.folder for m in members}
    labelled = len(folders) > 1
    return {m.name: {"label": m.folder[-1] if labelled and m.folder else None} for m in members}


def _number(text: str, what: str, refuse: Any) -> float | None:
    text = text.strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise refuse(f"{what} {text!r} is not a number") from None
    if not np.isfinite(value) or value <= 0:
        raise refuse(f"{what} {text!r} must be a positive number")
    return value


def _labels(data: bytes, table: Member, members: list[Member]) -> dict[str, dict[str, Any]]:
    """Each recording's label, group, rpm and rate from ``labels.csv``; every recording named once."""

    def refuse(msg: str) -> InvalidDataset:
        return member_error(table.name, msg)

    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise refuse("not UTF-8 text") from None
    rows = [row for row in csv.reader(io.StringIO(text)) if any(cell.strip() for cell in row)]
    header = [cell.strip().lower() for cell in rows[0]] if rows else []
    header = ["file" if h == "filename" else "sampling_rate" if h == "rate" else h for h in header]
    known = {"file", "label", "group", "rpm", "sampling_rate"}
    if "file" not in header or not set(header) <= known or len(set(header)) != len(header):
        raise refuse(
            "the first line must name the columns: file, label, and optionally group, rpm, sampling_rate"
        )
    local = {
        "/".join(m.parts[len(table.folder) :]): m.name
        for m in members
        if m.folder[: len(table.folder)] == table.folder
    }
    full = {"/".join(m.parts): m.name for m in members}
    base: dict[str, list[str]] = {}
    for m in members:
        base.setdefault(m.parts[-1], []).append(m.name)
    out: dict[str, dict[str, Any]] = {}
    for line, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise refuse(f"line {line} has {len(row)} fields; the header has {len(header)}")
        cells = dict(zip(header, (cell.strip() for cell in row), strict=True))
        key = "/".join(p for p in cells["file"].replace("\\", "/").split("/") if p not in ("", "."))
        name = full.get(key) or local.get(key) or (base[key][0] if len(base.get(key, [])) == 1 else None)
        if name is None:
            raise refuse(f"line {line}: no recording {cells['file']!r} in the zip")
        if name in out:
            raise refuse(f"line {line}: {name} is named twice")
        out[name] = {
            "label": cells.get("label") or None,
            "group": cells.get("group") or None,
            "rpm": _number(cells.get("rpm", ""), f"line {line}: rpm", refuse),
            "sampling_rate": _number(cells.get("sampling_rate", ""), f"line {line}: sampling_rate", refuse),
        }
    missing = [m.name for m in members if m.name not in out]
    if missing:
        raise InvalidDataset(
            f"{len(missing)} recording(s) missing from {table.name}: {', '.join(missing[:10])}",
            errors=[{"loc": ["file", "members", n], "msg": f"not in {LABELS_FILE}"} for n in missing[:50]],
        )
    return out
