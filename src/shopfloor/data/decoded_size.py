"""How many bytes an uploaded file will take once decoded, known before it is decoded.

Compressed formats (numpy's ``.npz``, MATLAB v5 with compressed variables, Parquet) can hold a few
kilobytes that inflate to gigabytes. :func:`check_decoded_size` reads what each format says of
its own decoded size (zip member sizes; Parquet rows, columns and row-group sizes) or inflates a
MATLAB file's compressed variables in bounded steps, counting, and refuses a file over the limit
before any reader builds its arrays. Formats that are not compressed (``.npy``, ``.wav``, text)
decode to about their size.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

from shopfloor.errors import InvalidDataset

CHUNK = 1 << 20
MAT_HEADER = 128
MI_COMPRESSED = 15


class TooLarge(InvalidDataset):
    """The file decodes to more than the limit; the message says how much, as far as counted."""


def check_decoded_size(data: bytes, suffix: str, limit: int) -> None:
    """Raise :class:`TooLarge` when ``data`` (a file of kind ``suffix``, e.g. ``".npz"``) decodes to
    more than ``limit`` bytes; ``ValueError`` for a structure too broken to tell."""
    if suffix == ".npz":
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            size = sum(info.file_size for info in archive.infolist())
    elif suffix == ".mat":
        size = _mat_size(data, limit)
    elif suffix == ".parquet":
        import pyarrow.parquet as pq

        meta = pq.ParquetFile(io.BytesIO(data)).metadata
        # encoded sizes can be tiny (a dictionary of one value); every cell read takes 8 bytes or more
        encoded = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
        size = max(encoded, meta.num_rows * meta.num_columns * 8)
    else:
        return
    if size > limit:
        raise TooLarge(
            f"decodes to more than {size / 1024**2:,.0f} MiB; a recording may take at most "
            f"{limit / 1024**2:,.0f} MiB decoded"
        )


def _mat_size(data: bytes, limit: int) -> int:
    """The bytes of a MATLAB v5 file's variables, compressed ones inflated (at most ``limit`` + one
    step of them: the count stops once past the limit)."""
    if len(data) < MAT_HEADER:
        raise ValueError("shorter than a MATLAB header")
    order = "<" if data[126:128] == b"IM" else ">"
    total, pos = 0, MAT_HEADER
    while pos + 8 <= len(data) and total <= limit:
        kind, nbytes = struct.unpack(f"{order}II", data[pos : pos + 8])
        if kind >> 16:  # small data element: type and size in 4 bytes, the data in the next 4
            total, pos = total + 4, pos + 8
            continue
        body = data[pos + 8 : pos + 8 + nbytes]
        if kind == MI_COMPRESSED:
            total += _inflated(body, limit - total)
            pos += 8 + nbytes
        else:
            total += nbytes
            pos += 8 + nbytes + (-nbytes % 8)
    return total


def _inflated(payload: bytes, room: int) -> int:
    """Bytes ``payload`` (zlib) inflates to, counted in steps of :data:`CHUNK`; stops once over ``room``."""
    inflater = zlib.decompressobj()
    total = len(inflater.decompress(payload, CHUNK))
    while total <= room:
        step = inflater.decompress(inflater.unconsumed_tail, CHUNK)
        if not step:
            break
        total += len(step)
    return total
