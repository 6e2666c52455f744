"""A model directory uploaded as a zip or a gzip'd tar, read as hostile into ``{path: bytes}``.

Zips go through :mod:`shopfloor.data.archive` (paths, links, encryption, declared sizes and
ratios checked before anything is decompressed, bytes counted while reading). Tars get the
same rules: only regular files and folders (a link, device or FIFO refuses the archive), no
absolute or climbing path, sizes counted against the limits while reading. Operating-system
litter and hidden files are skipped. Nothing is ever written to disk.
"""

from __future__ import annotations

import gzip
import io
import tarfile
import zipfile
import zlib
from dataclasses import dataclass
from typing import IO, cast

from shopfloor.data.archive import (
    Budget,
    Member,
    ZipLimits,
    archive_error,
    check_members,
    ignored,
    member_error,
    member_parts,
    read_counted,
)


@dataclass(frozen=True)
class ModelArchiveLimits:
    """What an uploaded model directory may hold."""

    max_members: int = 1_000
    max_total_bytes: int = 512 * 1024**2
    max_ratio: float = 200.0


def read_model_archive(data: bytes, limits: ModelArchiveLimits) -> dict[str, bytes]:
    """Every kept file of the archive as ``{"folder/name": bytes}`` (folders joined with ``/``).

    Raises :class:`~shopfloor.errors.InvalidDataset` (422) for a file that is neither a zip nor a
    gzip'd or plain tar, or for any unsafe or oversized member.
    """
    if zipfile.is_zipfile(io.BytesIO(data)):
        return dict(_read_zip(data, limits))
    return dict(_read_tar(data, limits))


def _read_zip(data: bytes, limits: ModelArchiveLimits) -> dict[str, bytes]:
    zl = ZipLimits(
        max_members=limits.max_members,
        max_total_bytes=limits.max_total_bytes,
        max_member_bytes=limits.max_total_bytes,
        max_ratio=limits.max_ratio,
    )
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError) as exc:
        raise archive_error(f"the zip cannot be read: {exc}") from None
    with archive:
        infos = [i for i in archive.infolist() if not i.is_dir()]
        check_members(infos, zl)
        budget, out = Budget(zl), {}
        for info in infos:
            parts = member_parts(info)
            if parts and not ignored(parts):
                out["/".join(parts)] = budget.read(archive, Member(info, parts))
    return out


def _tar_bytes(data: bytes, limits: ModelArchiveLimits) -> bytes:
    """The tar itself: a gzip'd upload is unpacked with its output counted (a gzip bomb stops)."""
    if data[:2] != b"\x1f\x8b":
        return data
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as handle:
            stream = cast(IO[bytes], handle)
            return read_counted(stream, "(the gzip stream)", limits.max_total_bytes + 1024**2)
    except (OSError, EOFError, zlib.error) as exc:
        raise archive_error(f"the gzip stream cannot be read: {exc}") from None


def _read_tar(data: bytes, limits: ModelArchiveLimits) -> dict[str, bytes]:
    raw = _tar_bytes(data, limits)
    try:
        archive = tarfile.open(fileobj=io.BytesIO(raw), mode="r:")
        members = archive.getmembers()
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise archive_error(
            f"the file is neither a zip nor a tar(.gz) archive of a model directory ({exc})"
        ) from None
    if len(members) > limits.max_members:
        raise archive_error(
            f"the archive has {len(members):,} members, over the limit of {limits.max_members:,}"
        )
    out: dict[str, bytes] = {}
    total = 0
    with archive:
        for m in members:
            name = m.name
            if m.isdir():
                continue
            if not m.isfile():
                raise member_error(name, "not a plain file (a link or device); only plain files are accepted")
            if name.startswith(("/", "\\")) or ".." in name.replace("\\", "/").split("/"):
                raise member_error(name, "a path outside the archive ('/' or '..')")
            parts = tuple(p for p in name.replace("\\", "/").split("/") if p not in ("", "."))
            if not parts or ignored(parts):
                continue
            key = "/".join(parts)
            if key in out:
                raise member_error(name, "appears twice in the archive")
            total += m.size
            if total > limits.max_total_bytes:
                raise archive_error(f"the archive unpacks to more than {limits.max_total_bytes:,} bytes")
            handle = archive.extractfile(m)
            if handle is None:
                raise member_error(name, "cannot be read")
            out[key] = read_counted(handle, name, m.size)
    return out
