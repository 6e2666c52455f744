"""Recordings read from every accepted file kind, one file or a zip with a labels table; bad files
refused naming the file."""

from __future__ import annotations

import io
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shopfloor.data.archive import ZipLimits
from shopfloor.data.waveform_profile import recording_profile
from shopfloor.data.waveforms import SignalOptions, looks_like_recordings, read_recordings
from shopfloor.errors import InvalidDataset
from signal_data import RATE, recordings, waveform

X = waveform(3.1, 1800)


def _wav(x: np.ndarray) -> bytes:
    from scipy.io import wavfile

    out = io.BytesIO()
    wavfile.write(out, RATE, (x / 4 * 32767).astype(np.int16))
    return out.getvalue()


def _npy(x: np.ndarray) -> bytes:
    out = io.BytesIO()
    np.save(out, x)
    return out.getvalue()


def _mat(x: np.ndarray, number: int = 97) -> bytes:
    from scipy.io import savemat

    out = io.BytesIO()
    savemat(
        out,
        {
            f"X{number:03d}_FE_time": x[:, None].astype(float),
            f"X{number:03d}_DE_time": x[:, None] * 2,
            f"X{number:03d}RPM": np.array([[1797]], dtype=np.uint16),
        },
    )
    return out.getvalue()


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_each_file_kind_is_one_recording(tmp_path: Path) -> None:
    npz = io.BytesIO()
    np.savez(npz, a=X, b=X * 2, fs=np.array(RATE))
    frame = pd.DataFrame({"time": np.arange(X.size) / RATE, "acc": X})
    parquet = io.BytesIO()
    frame.to_parquet(parquet)
    cases = {
        "r.wav": (_wav(X), SignalOptions(), ["signal"], RATE, None),
        "r.npy": (_npy(X), SignalOptions(sampling_rate=RATE), ["signal"], RATE, None),
        "r.npz": (npz.getvalue(), SignalOptions(channels=("b",)), ["b"], RATE, None),
        "r.mat": (
            _mat(X),
            SignalOptions(sampling_rate=12000, channels=("FE_time",)),
            ["FE_time"],
            12000,
            1797,
        ),
        "r.csv": (frame.to_csv(index=False).encode(), SignalOptions(), ["acc"], RATE, None),
        "r.parquet": (parquet.getvalue(), SignalOptions(rpm=1500), ["acc"], RATE, 1500),
    }
    for name, (data, options, channels, rate, rpm) in cases.items():
        path = _write(tmp_path, name, data)
        table = read_recordings(path, options, name)
        assert (
            len(table) == 1
            and [
                c
                for c in table.columns
                if c not in ("recording", "label", "group", "rpm", "sampling_rate", "samples")
            ]
            == channels
        )
        assert table["sampling_rate"].iloc[0] == pytest.approx(rate, rel=1e-6), name
        assert np.isnan(table["rpm"].iloc[0]) if rpm is None else table["rpm"].iloc[0] == rpm, name
        assert table["samples"].iloc[0] == X.size
        values = table[channels[0]].iloc[0]
        assert (
            values.dtype == np.float32 and np.corrcoef(values, X * (2 if name == "r.npz" else 1))[0, 1] > 0.99
        )
    assert looks_like_recordings(tmp_path / "r.mat") and looks_like_recordings(tmp_path / "r.wav")
    assert not looks_like_recordings(tmp_path / "r.csv")


def test_a_zip_of_images_with_its_labels_table_is_no_recording(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("a.png", b"\x89PNG\r\n\x1a\n")
        zf.writestr("labels.csv", "filename,label\na.png,scratch\n")
    assert not looks_like_recordings(_write(tmp_path, "images.zip", buffer.getvalue()))
    with zipfile.ZipFile(buffer, "a") as zf:
        zf.writestr("run/c.csv", "FE_time\n0.1\n")  # a recording as CSV beside the table
    assert looks_like_recordings(_write(tmp_path, "mixed.zip", buffer.getvalue()))


def test_a_zip_with_a_labels_table(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("run/a.mat", _mat(X, 97))
        zf.writestr("run/b.mat", _mat(waveform(None, 1750), 278))
        zf.writestr(
            "run/labels.csv", "file,label,group,rpm\na.mat,OR,bearing1,\nb.mat,normal,bearing2,1750\n"
        )
    path = _write(tmp_path, "set.zip", buffer.getvalue())
    assert looks_like_recordings(path)
    table = read_recordings(path, SignalOptions(sampling_rate=12000, channels=("FE_time",)))
    assert table["label"].tolist() == ["OR", "normal"] and table["group"].tolist() == ["bearing1", "bearing2"]
    assert table["rpm"].tolist() == [1797, 1750]  # from the file when the table says nothing
    profile = {c["name"]: c for c in recording_profile(table)}
    stats = profile["FE_time"]["stats"]
    assert profile["FE_time"]["type"] == "waveform" and stats["sampling_rate_hz"] == [12000.0]
    assert set(stats["spectra"]["db"]) == {"OR", "normal"} and stats["spectra_svg"].startswith("<svg")
    assert {"clipping", "dc_offset", "duration_s"} <= set(stats)


def test_class_folders_label_recordings(tmp_path: Path) -> None:
    frame = recordings(per_class=1)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, x in zip(frame["recording"], frame["signal"], strict=True):
            zf.writestr(name, _npy(x))
    table = read_recordings(_write(tmp_path, "f.zip", buffer.getvalue()), SignalOptions(sampling_rate=RATE))
    assert sorted(table["label"]) == ["inner", "normal", "outer"]


@pytest.mark.parametrize(
    ("name", "data", "options", "says"),
    [
        ("r.mat", _mat(X), SignalOptions(sampling_rate=12000), "several channels"),
        (
            "r.mat",
            _mat(X),
            SignalOptions(sampling_rate=12000, channels=("BA_time",)),
            "no channel named 'BA_time'",
        ),
        ("r.npy", _npy(X), SignalOptions(), "sampling rate is unknown"),
        ("r.npy", _npy(np.array([1.0, np.nan] * 200)), SignalOptions(sampling_rate=10), "infinite"),
        ("r.npy", _npy(X[:100]), SignalOptions(sampling_rate=10), "100 samples"),
        ("r.wav", b"RIFF\x00\x00garbage", SignalOptions(), "not a readable wav"),
    ],
)
def test_bad_recordings_are_refused_naming_the_file(
    tmp_path: Path, name: str, data: bytes, options: SignalOptions, says: str
) -> None:
    with pytest.raises(InvalidDataset) as caught:
        read_recordings(_write(tmp_path, name, data), options, name)
    assert says in caught.value.detail


def test_a_labels_table_must_name_every_recording(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("a.npy", _npy(X))
        zf.writestr("b.npy", _npy(X))
        zf.writestr("labels.csv", "file,label\na.npy,x\n")
    with pytest.raises(InvalidDataset) as caught:
        read_recordings(_write(tmp_path, "z.zip", buffer.getvalue()), SignalOptions(sampling_rate=RATE))
    assert caught.value.errors[0]["loc"] == ["file", "members", "b.npy"]


@pytest.mark.parametrize(
    ("names", "where", "says"),
    [
        (["../up.npy"], "../up.npy", "climbs out"),
        (["r/a.npy", "r/a.npy"], "r/a.npy", "appears twice"),
        (["a.npy", "b.npy", "c.npy", "labels.csv"], None, "4 members"),
    ],
)
def test_a_recording_zip_is_checked_as_hostile(
    tmp_path: Path, names: list[str], where: str | None, says: str
) -> None:
    """The archive checks image zips have: a climbing path, a name twice, too many members."""
    buffer = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(buffer, "w") as zf:
        warnings.simplefilter("ignore")  # zipfile warns of the duplicate name the test writes
        for name in names:
            zf.writestr(name, _npy(X))
    path = _write(tmp_path, "z.zip", buffer.getvalue())
    with pytest.raises(InvalidDataset) as caught:
        read_recordings(path, SignalOptions(sampling_rate=RATE), limits=ZipLimits(max_members=3))
    assert says in caught.value.detail
    assert caught.value.errors[0]["loc"] == (["file", "members", where] if where else ["file"])


@pytest.mark.parametrize("kind", [".npz", ".mat", ".parquet"])
def test_a_compressed_recording_is_sized_before_it_is_decoded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    """A few kilobytes that inflate far past the limit are refused by their declared or counted size,
    before a reader builds the arrays; the same file under the limit is read."""
    from scipy.io import savemat

    from shopfloor.data import waveforms

    quiet = np.zeros(2_000_000)  # 16 MB of float64 that compress to a few kilobytes
    path = tmp_path / f"bomb{kind}"
    if kind == ".npz":
        np.savez_compressed(path, signal=quiet)
    elif kind == ".mat":
        savemat(path, {"X1_FE_time": quiet[:, None], "X1RPM": np.array([[1750]])}, do_compression=True)
    else:
        pd.DataFrame({"signal": quiet}).to_parquet(path)
    assert path.stat().st_size < 1_000_000
    monkeypatch.setattr(waveforms, "MAX_DECODED_BYTES", 8 * 1024**2)
    with pytest.raises(InvalidDataset) as refused:
        read_recordings(path, SignalOptions(sampling_rate=RATE))
    assert "decodes to more than" in refused.value.detail and f"bomb{kind}" in str(refused.value.errors)
    monkeypatch.setattr(waveforms, "MAX_DECODED_BYTES", 64 * 1024**2)
    assert len(read_recordings(path, SignalOptions(sampling_rate=RATE))) == 1
