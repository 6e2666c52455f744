from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import pytest

from shopfloor.data.upload import UploadInfo, copy_file, receive_upload
from shopfloor.errors import InvalidDataset, InvalidInput, PayloadTooLarge


class FakeUpload:
    """Stands in for starlette's UploadFile: async read(n), short reads allowed."""

    def __init__(self, data: bytes, max_read: int = 7) -> None:
        self.data = data
        self.pos = 0
        self.max_read = max_read
        self.reads = 0

    async def read(self, size: int = -1) -> bytes:
        self.reads += 1
        n = min(size, self.max_read)
        chunk = self.data[self.pos : self.pos + n]
        self.pos += len(chunk)
        return chunk


def test_receive_upload_streams_hashes_and_counts(tmp_path: Path) -> None:
    data = b"a,b\n" + b"1,2\n" * 100
    dest = tmp_path / "sub" / "upload.csv"
    source = FakeUpload(data)
    info = asyncio.run(receive_upload(source, dest, limit_bytes=10_000, chunk_size=16))
    assert info == UploadInfo(path=dest, size=len(data), sha256=hashlib.sha256(data).hexdigest())
    assert dest.read_bytes() == data
    assert source.reads > 10  # read in chunks, not in one go


def test_receive_upload_exactly_at_the_limit_is_accepted(tmp_path: Path) -> None:
    info = asyncio.run(receive_upload(FakeUpload(b"x" * 50), tmp_path / "f", limit_bytes=50, chunk_size=8))
    assert info.size == 50


def test_receive_upload_over_limit_removes_partial_file(tmp_path: Path) -> None:
    dest = tmp_path / "big.csv"
    with pytest.raises(PayloadTooLarge) as caught:
        asyncio.run(
            receive_upload(FakeUpload(b"x" * 5000, max_read=100), dest, limit_bytes=1024, chunk_size=100)
        )
    assert "SHOPFLOOR_MAX_UPLOAD_MB" in caught.value.detail
    assert "MB" in caught.value.detail
    assert not dest.exists()


def test_receive_upload_empty_is_rejected(tmp_path: Path) -> None:
    dest = tmp_path / "empty.csv"
    with pytest.raises(InvalidDataset, match="the file is empty"):
        asyncio.run(receive_upload(FakeUpload(b""), dest, limit_bytes=100))
    assert not dest.exists()


def test_receive_upload_failure_midway_removes_partial_file(tmp_path: Path) -> None:
    class Broken(FakeUpload):
        async def read(self, size: int = -1) -> bytes:
            if self.pos > 10:
                raise ConnectionResetError("client went away")
            return await super().read(size)

    dest = tmp_path / "broken.csv"
    with pytest.raises(ConnectionResetError):
        asyncio.run(receive_upload(Broken(b"y" * 100), dest, limit_bytes=1000))
    assert not dest.exists()


def test_copy_file(tmp_path: Path, ai4i_path: Path) -> None:
    info = copy_file(ai4i_path, tmp_path / "copy.csv", limit_bytes=10 << 20, chunk_size=4096)
    data = ai4i_path.read_bytes()
    assert info.size == len(data)
    assert info.sha256 == hashlib.sha256(data).hexdigest()


def test_copy_file_over_limit(tmp_path: Path, ai4i_path: Path) -> None:
    dest = tmp_path / "copy.csv"
    with pytest.raises(PayloadTooLarge):
        copy_file(ai4i_path, dest, limit_bytes=1000)
    assert not dest.exists()


def test_copy_file_missing_source(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="cannot read"):
        copy_file(tmp_path / "nope.csv", tmp_path / "dest.csv", limit_bytes=1000)
