"""Model directories uploaded as zip or tar(.gz): read into memory, hostile members refused."""

from __future__ import annotations

import gzip
import io
import tarfile
import zipfile

import pytest

from shopfloor.data.model_archive import ModelArchiveLimits, read_model_archive
from shopfloor.errors import InvalidInput

LIMITS = ModelArchiveLimits()


def _zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _tar(entries: dict[str, bytes], gz: bool = True) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz" if gz else "w") as archive:
        for name, data in entries.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


ENTRIES = {
    "model/MLmodel": b"flavors: {}",
    "model/model.onnx": b"x",
    "model/.DS_Store": b"",
    "__MACOSX/a": b"",
}


@pytest.mark.parametrize("pack", [_zip, _tar, lambda e: _tar(e, gz=False)])
def test_files_come_back_by_path_without_litter(pack: object) -> None:
    files = read_model_archive(pack(ENTRIES), LIMITS)  # type: ignore[operator]
    assert files == {"model/MLmodel": b"flavors: {}", "model/model.onnx": b"x"}


def test_limits_and_hostile_members() -> None:
    with pytest.raises(InvalidInput, match="members"):
        read_model_archive(_tar({f"m/{i}": b"" for i in range(5)}), ModelArchiveLimits(max_members=4))
    with pytest.raises(InvalidInput, match="more than 100 bytes"):
        read_model_archive(_tar({"m/big": b"x" * 101}), ModelArchiveLimits(max_total_bytes=100))
    with pytest.raises(InvalidInput, match="outside the archive"):
        read_model_archive(_tar({"../MLmodel": b""}), LIMITS)
    with pytest.raises(InvalidInput, match="climbs out"):
        read_model_archive(_zip({"m/../../MLmodel": b""}), LIMITS)
    bomb = gzip.compress(b"\0" * 3 * 1024**2)  # the gzip stream itself is counted as it unpacks
    with pytest.raises(InvalidInput, match="gzip stream.*more than"):
        read_model_archive(bomb, ModelArchiveLimits(max_total_bytes=1024**2))
    with pytest.raises(InvalidInput, match="neither a zip nor a tar"):
        read_model_archive(b"plain bytes, not an archive", LIMITS)
