"""Uploaded zip archives, checked as hostile before and while they are read.

Every member's path, type, flags and declared sizes are checked before any byte is decompressed
(:func:`check_members`), and bytes are counted again while reading (:class:`Budget`) because the
sizes in a zip header are whatever its author wrote. ``__MACOSX/``, ``.DS_Store``, ``Thumbs.db``
and hidden files are operating-system litter (:func:`ignored`), skipped rather than refused.

Used by the image zips (:mod:`shopfloor.data.image_zip`) and the recording zips
(:mod:`shopfloor.data.waveforms`); what a member may be is theirs to say.
"""

from __future__ import annotations

import re
import stat
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import IO

from shopfloor.errors import InvalidDataset

IGNORED_NAMES = frozenset({".ds_store", "thumbs.db", "desktop.ini"})
CHUNK = 1 << 20
_DRIVE = re.compile(r"^[A-Za-z]:")


@dataclass(frozen=True)
class ZipLimits:
    """What an uploaded archive may hold; a compression ratio counts only above ``ratio_floor`` bytes."""

    max_members: int = 50_000
    max_total_bytes: int = 2 * 1024**3
    max_member_bytes: int = 64 * 1024**2
    max_ratio: float = 200.0
    ratio_floor: int = 1024**2


@dataclass(frozen=True)
class Member:
    """One file of an archive, by its path components ("." and blanks dropped)."""

    info: zipfile.ZipInfo
    parts: tuple[str, ...]

    @property
    def name(self) -> str:
        return self.info.filename

    @property
    def folder(self) -> tuple[str, ...]:
        return self.parts[:-1]

    @property
    def stem(self) -> str:
        return PurePosixPath(self.parts[-1]).stem


def member_error(member: str, msg: str) -> InvalidDataset:
    """An :class:`InvalidDataset` about one member of an uploaded archive, located at it."""
    return InvalidDataset(f"{member}: {msg}", errors=[{"loc": ["file", "members", member], "msg": msg}])


def archive_error(msg: str) -> InvalidDataset:
    """An :class:`InvalidDataset` about the archive as a whole, located at the file."""
    return InvalidDataset(msg, errors=[{"loc": ["file"], "msg": msg}])


def check_members(infos: list[zipfile.ZipInfo], limits: ZipLimits) -> None:
    """Refuse an archive of too many members, any unsafe member (:func:`check_member`), a name
    that appears twice, or more bytes declared in all than the limits allow; nothing is read."""
    if len(infos) > limits.max_members:
        raise archive_error(f"the zip has {len(infos):,} members, over the limit of {limits.max_members:,}")
    seen: set[str] = set()
    for info in infos:
        check_member(info, limits)
        if info.filename in seen:
            raise member_error(info.filename, "appears twice in the archive")
        seen.add(info.filename)
    declared = sum(info.file_size for info in infos)
    if declared > limits.max_total_bytes:
        raise archive_error(
            f"the zip unpacks to {declared:,} bytes, over the limit of {limits.max_total_bytes:,}"
        )


def check_member(info: zipfile.ZipInfo, limits: ZipLimits) -> None:
    """Refuse an absolute or climbing path, a link, an encrypted member, or one whose declared size
    or compression ratio is over the limits."""
    name = info.filename
    if name.startswith(("/", "\\")) or _DRIVE.match(name):
        raise member_error(name, "an absolute path; members must be relative to the archive")
    if ".." in name.replace("\\", "/").split("/"):
        raise member_error(name, "a path that climbs out of the archive with '..'")
    if stat.S_ISLNK(info.external_attr >> 16):
        raise member_error(name, "a symbolic link; only plain files are accepted")
    if info.flag_bits & 0x1:
        raise member_error(name, "encrypted; upload an archive without a password")
    if info.file_size > limits.max_member_bytes:
        raise member_error(
            name, f"unpacks to {info.file_size:,} bytes, over the limit of {limits.max_member_bytes:,}"
        )
    if info.file_size > limits.ratio_floor and info.file_size > limits.max_ratio * max(info.compress_size, 1):
        ratio = info.file_size / max(info.compress_size, 1)
        raise member_error(name, f"compressed {ratio:,.0f}:1, over {limits.max_ratio:g}:1 (a zip bomb?)")


def member_parts(info: zipfile.ZipInfo) -> tuple[str, ...]:
    """A member's path components, with either slash, "." and blanks dropped."""
    return tuple(p for p in info.filename.replace("\\", "/").split("/") if p not in ("", "."))


def ignored(parts: tuple[str, ...]) -> bool:
    """Operating-system litter and hidden files, skipped rather than refused."""
    return (
        "__MACOSX" in parts
        or parts[-1].lower() in IGNORED_NAMES
        or any(part.startswith(".") for part in parts)
    )


class Budget:
    """Reads members, counting the bytes that actually come out against the archive's limits."""

    def __init__(self, limits: ZipLimits) -> None:
        self.limits = limits
        self.total = 0

    def read(self, archive: zipfile.ZipFile, member: Member) -> bytes:
        """The member's bytes; refused at the member when damaged or larger than allowed."""
        info = member.info
        limit = min(info.file_size, self.limits.max_member_bytes, self.limits.max_total_bytes - self.total)
        try:
            with archive.open(info) as handle:
                data = read_counted(handle, info.filename, limit)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, RuntimeError) as exc:
            raise member_error(
                info.filename, f"damaged, or its data does not match its header: {exc}"
            ) from None
        self.total += len(data)
        return data


def read_counted(handle: IO[bytes], member: str, limit: int) -> bytes:
    """Everything ``handle`` yields, refused at ``member`` as soon as it passes ``limit`` bytes."""
    chunks = []
    count = 0
    while chunk := handle.read(CHUNK):
        count += len(chunk)
        if count > limit:
            raise member_error(
                member, f"unpacks to more than {limit:,} bytes, more than its header declares or allows"
            )
        chunks.append(chunk)
    return b"".join(chunks)
