"""Decoding part images from bytes (upload members, predict requests) into checked pixel arrays.

Accepted: PNG, JPEG, BMP and TIFF, grey or colour, at most :data:`MAX_PIXELS` pixels (a decompression
bomb is refused before it is decoded). Requests may carry an image as raw bytes (multipart) or as
base64 text in JSON (optionally a ``data:image/...;base64,`` URL).
"""

from __future__ import annotations

import base64
import binascii
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from shopfloor.errors import InvalidInput

FORMATS = ("PNG", "JPEG", "BMP", "TIFF")
#: Largest image accepted (pixels): 64 megapixels, far above inspection cameras' frames.
MAX_PIXELS = 64_000_000


@dataclass(frozen=True)
class ImageInfo:
    format: str
    width: int
    height: int
    channels: int  # 1 grey, 3 colour (alpha dropped)


def _refuse(loc: list[Any], msg: str) -> InvalidInput:
    return InvalidInput(msg, errors=[{"loc": loc, "msg": msg}])


def _open(data: bytes, loc: list[Any]) -> tuple[ImageInfo, Any]:
    """``data`` opened, checked and fully decoded once: its info and the loaded PIL image."""
    from PIL import Image, UnidentifiedImageError

    try:
        image = Image.open(io.BytesIO(data))
        try:
            if image.format not in FORMATS:
                raise _refuse(loc, f"{image.format} images are not accepted; use {', '.join(FORMATS)}")
            if image.width * image.height > MAX_PIXELS:
                raise _refuse(loc, f"image of {image.width}x{image.height} pixels is over {MAX_PIXELS:,}")
            image.load()
        except BaseException:
            image.close()
            raise
        channels = 1 if image.mode in ("1", "L", "I", "I;16", "F", "LA") else 3
        return ImageInfo(str(image.format), int(image.width), int(image.height), channels), image
    except InvalidInput:
        raise
    except UnidentifiedImageError:
        raise _refuse(loc, "not a readable image: the format is not recognised") from None
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise _refuse(loc, f"not a readable image: {exc}") from None


def inspect_image(data: bytes, loc: list[Any]) -> ImageInfo:
    """Open ``data`` as an image and check it fully decodes; raises ``InvalidInput`` at ``loc``."""
    info, image = _open(data, loc)
    image.close()
    return info


def image_bytes(value: Any, loc: list[Any]) -> bytes:
    """The image bytes a record carries: ``bytes`` as is, text as base64 (data URL prefix allowed)."""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    if not isinstance(value, str) or not value.strip():
        raise _refuse(loc, "expected an image: base64 text in JSON, or a file in a multipart request")
    text = value.strip()
    if text.startswith("data:"):
        text = text.split(",", 1)[-1]
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise _refuse(loc, "the image is not valid base64") from None


def readable_pixels(
    values: Iterable[Any], decode: Callable[[Any, list[Any]], np.ndarray], column: str
) -> list[np.ndarray]:
    """The pixels of each value that ``decode`` (value, location) reads; unreadable images are left
    out, not refused (a drift check compares what it can read)."""
    found = []
    for i, value in enumerate(values):
        try:
            found.append(decode(value, ["body", "records", i, column]))
        except InvalidInput:
            continue
    return found


def read_image(data: bytes, size: int, grey: bool, loc: list[Any]) -> tuple[ImageInfo, np.ndarray]:
    """Checked, decoded once and resized to ``size`` x ``size``: the image's info and its pixels as
    float32 in [0, 1], shape (channels, size, size). Raises ``InvalidInput`` at ``loc``."""
    from PIL import Image

    info, image = _open(data, loc)
    with image:
        converted = image.convert("L" if grey else "RGB").resize((size, size), Image.Resampling.BILINEAR)
        pixels = np.asarray(converted, dtype=np.float32) / 255.0
    return info, pixels[None] if grey else pixels.transpose(2, 0, 1).copy()


def to_array(data: bytes, size: int, grey: bool, loc: list[Any]) -> np.ndarray:
    """The pixels of :func:`read_image` alone."""
    return read_image(data, size, grey, loc)[1]


def thumbnail_png(data: bytes, side: int = 96) -> bytes:
    """A PNG of the image scaled to fit ``side`` x ``side`` pixels (for showing, not learning)."""
    info, image = _open(data, ["image"])
    try:
        image.thumbnail((side, side))
        out = io.BytesIO()
        image.convert("L" if info.channels == 1 else "RGB").save(out, format="PNG")
        return out.getvalue()
    finally:
        image.close()
