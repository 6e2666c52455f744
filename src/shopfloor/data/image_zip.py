"""Read an uploaded zip of part images into the stored image table, or say which member is wrong.

The table has one row per image: ``image`` (the file's bytes, unchanged), ``filename`` (its path in
the zip), ``label`` (str or None), ``width``, ``height``, ``channels`` (1 grey, 3 colour),
``format`` (PNG, JPEG, BMP, TIFF) and ``boxes`` (JSON list of VOC boxes, or None).

Labels come from one of three layouts:

* class folders: the label is the folder directly holding the image (``crazing/x.jpg``), below the
  folders every image shares (so a wrapper like ``neu/crazing/x.jpg`` is fine);
* a ``labels.csv`` (header ``filename,label``) naming every image, by its path from the zip root,
  from the CSV's folder, or by its bare name when that is unique; a blank label means unlabelled;
* images all in one folder and no CSV: unlabelled (label None).

Pascal-VOC ``.xml`` files anywhere in the zip annotate the image with the same file stem.

An archive is hostile until checked (see :mod:`shopfloor.data.archive`): every member's path,
type, flags and declared sizes are checked before any byte is decompressed, and bytes are counted
again while reading. ``__MACOSX/``, ``.DS_Store``, ``Thumbs.db`` and hidden files are skipped;
anything else that is not an image, ``labels.csv`` or a VOC file is refused.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections import Counter
from pathlib import Path, PurePosixPath
from typing import Any

import pandas as pd

from shopfloor.data.archive import (
    Budget,
    Member,
    ZipLimits,
    archive_error,
    check_members,
    ignored,
    member_error,
    member_parts,
)
from shopfloor.data.images import inspect_image
from shopfloor.data.voc import parse_voc
from shopfloor.errors import InvalidDataset, InvalidInput, UnsupportedMediaType

COLUMNS = ("image", "filename", "label", "width", "height", "channels", "format", "boxes")
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"})
LABELS_FILE = "labels.csv"


def read_image_zip(path: Path, limits: ZipLimits | None = None) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The image table of the zip at ``path`` (see the module doc) and its summary.

    Summary: ``images``, ``labelled``, ``classes`` ({label: count}), ``formats`` ({format: count}),
    ``channels`` ({"1": n, "3": n}: string keys, as JSON stores them), ``sizes`` (``min`` and ``max``
    ``[width, height]``, each side on its own, and the ``most_common`` size), ``annotated`` (images
    with a VOC file) and ``boxes`` (total).

    Raises:
        InvalidDataset: not a zip; too many members or too many bytes in all; and, located at
            ``["file", "members", name]``: a path that is absolute or climbs out with ``..``, a
            symbolic link, an encrypted member, a member too large, too compressed, damaged or
            larger than its header says, a file that is neither image nor ``labels.csv`` nor
            VOC, an image that does not decode, a bad ``labels.csv`` or VOC file; no images.
        UnsupportedMediaType: an Office document (.xlsx, .docx), which is a zip too.
    """
    limits = limits or ZipLimits()
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        raise InvalidDataset(
            f"the file is not a readable zip archive: {exc}",
            errors=[{"loc": ["file"], "msg": "not a readable zip archive"}],
        ) from None
    with archive:
        images, labels_csv, annotations = _sort_members(archive.infolist(), limits)
        budget = Budget(limits)
        table = _read_images(archive, images, budget)
        labels = (
            _csv_labels(budget.read(archive, labels_csv), labels_csv, images)
            if labels_csv
            else _folder_labels(images)
        )
        parsed = {m.name: parse_voc(budget.read(archive, m), m.name) for m in annotations}
        boxes = _match_boxes(images, annotations, parsed)
    frame = pd.DataFrame(table, columns=list(COLUMNS))
    frame["label"] = [labels[m.name] for m in images]
    frame["boxes"] = [json.dumps(boxes[m.name]) if m.name in boxes else None for m in images]
    return frame, summarise(frame)


def _sort_members(
    infos: list[zipfile.ZipInfo], limits: ZipLimits
) -> tuple[list[Member], Member | None, list[Member]]:
    """Check every member without reading it; the images, the labels CSV and the VOC files."""
    if any(info.filename == "[Content_Types].xml" for info in infos):
        raise UnsupportedMediaType(
            "the file is an Office document (.xlsx, .docx), not a zip of images; save a sheet as CSV",
            errors=[{"loc": ["file"], "msg": "an Office document"}],
        )
    check_members(infos, limits)
    images: list[Member] = []
    tables: list[Member] = []
    annotations: list[Member] = []
    for info in infos:
        parts = member_parts(info)
        if info.is_dir() or not parts or ignored(parts):
            continue
        member = Member(info, parts)
        lower = parts[-1].lower()
        suffix = PurePosixPath(lower).suffix
        if suffix in IMAGE_SUFFIXES:
            images.append(member)
        elif lower == LABELS_FILE:
            tables.append(member)
        elif suffix == ".xml":
            annotations.append(member)
        else:
            raise member_error(
                info.filename,
                "not an image (PNG, JPEG, BMP, TIFF), labels.csv or a Pascal VOC .xml annotation",
            )
    if not images:
        raise archive_error("the zip holds no images (PNG, JPEG, BMP or TIFF)")
    if len(tables) > 1:
        raise member_error(tables[1].name, f"a second {LABELS_FILE} (the first is {tables[0].name})")
    return images, (tables[0] if tables else None), annotations


def _read_images(archive: zipfile.ZipFile, images: list[Member], budget: Budget) -> list[list[Any]]:
    rows = []
    for member in images:
        data = budget.read(archive, member)
        try:
            info = inspect_image(data, ["file", "members", member.name])
        except InvalidInput as exc:
            raise InvalidDataset(f"{member.name}: {exc.detail}", errors=exc.errors) from None
        rows.append([data, member.name, None, info.width, info.height, info.channels, info.format, None])
    return rows


def _folder_labels(images: list[Member]) -> dict[str, str | None]:
    """Label = the folder holding the image, below the folders all images share; none if all share it."""
    common = images[0].folder
    for member in images[1:]:
        depth = 0
        while depth < min(len(common), len(member.folder)) and common[depth] == member.folder[depth]:
            depth += 1
        common = common[:depth]
    labels: dict[str, str | None] = {
        m.name: (m.folder[-1] if len(m.folder) > len(common) else None) for m in images
    }
    if len(set(map(bool, labels.values()))) > 1:
        loose = next(name for name, label in labels.items() if label is None)
        where = "/".join(common) or "the top of the zip"
        raise member_error(
            loose,
            f"sits directly in {where} while other images are in class folders; "
            "put every image in a class folder, or add a labels.csv",
        )
    return labels


def _csv_labels(data: bytes, table: Member, images: list[Member]) -> dict[str, str | None]:
    """Labels from ``labels.csv``: every row names one image, every image has one row."""

    def refuse(msg: str) -> InvalidDataset:
        return member_error(table.name, msg)

    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise refuse("not UTF-8 text") from None
    rows = [row for row in csv.reader(io.StringIO(text)) if any(cell.strip() for cell in row)]
    if not rows or [cell.strip().lower() for cell in rows[0]] != ["filename", "label"]:
        raise refuse("the first line must be the header filename,label")
    by_path = {"/".join(m.parts): m.name for m in images}
    by_local = {
        "/".join(m.parts[len(table.folder) :]): m.name
        for m in images
        if m.folder[: len(table.folder)] == table.folder
    }
    by_base = Counter(m.parts[-1] for m in images)
    base_name = {m.parts[-1]: m.name for m in images}
    labels: dict[str, str | None] = {}
    unknown = []
    for line, row in enumerate(rows[1:], start=2):
        if len(row) != 2:
            raise refuse(f"line {line} has {len(row)} fields; expected filename,label")
        key = "/".join(p for p in row[0].strip().replace("\\", "/").split("/") if p not in ("", "."))
        name = by_path.get(key) or by_local.get(key)
        if name is None and by_base.get(key) == 1:
            name = base_name[key]
        elif name is None and by_base.get(key, 0) > 1:
            raise refuse(
                f"line {line}: {key!r} matches {by_base[key]} images; give the path from the zip root"
            )
        if name is None:
            unknown.append(row[0].strip())
            continue
        if name in labels:
            raise refuse(f"line {line}: {name} is labelled twice")
        labels[name] = row[1].strip() or None
    if unknown:
        raise InvalidDataset(
            f"{table.name} names {len(unknown)} file(s) not among the images: {', '.join(unknown[:10])}",
            errors=[{"loc": ["file", "members", table.name], "msg": f"no image {n!r}"} for n in unknown[:50]],
        )
    missing = [m.name for m in images if m.name not in labels]
    if missing:
        raise InvalidDataset(
            f"{len(missing)} image(s) missing from {table.name}: {', '.join(missing[:10])}",
            errors=[{"loc": ["file", "members", n], "msg": f"not in {LABELS_FILE}"} for n in missing[:50]],
        )
    return labels


def _match_boxes(
    images: list[Member], annotations: list[Member], parsed: dict[str, list[dict[str, Any]]]
) -> dict[str, list[dict[str, Any]]]:
    """Each VOC file to the image with its stem (the one in the same folder when several share it)."""
    by_stem: dict[str, list[Member]] = {}
    for member in images:
        by_stem.setdefault(member.stem, []).append(member)
    found: dict[str, str] = {}  # image name -> annotation name
    for annotation in annotations:
        name = annotation.name
        candidates = by_stem.get(annotation.stem, [])
        if len(candidates) > 1:
            candidates = [m for m in candidates if m.folder == annotation.folder] or candidates
        if len(candidates) > 1:
            raise member_error(name, f"matches {len(candidates)} images by name; keep it next to its image")
        if not candidates:
            continue  # an annotation without its image (a partial export): nothing to attach
        image = candidates[0].name
        if image in found:
            raise member_error(name, f"{image} already has the annotation {found[image]}")
        found[image] = name
    return {image: parsed[annotation] for image, annotation in found.items()}


def summarise(frame: pd.DataFrame) -> dict[str, Any]:
    """Counts and sizes of an image table (see :func:`read_image_zip`); plain JSON types."""
    sizes = list(zip(frame["width"].astype(int), frame["height"].astype(int), strict=True))
    labels = frame["label"].dropna()
    boxes = [json.loads(b) for b in frame["boxes"].dropna()]
    return {
        "images": len(frame),
        "labelled": len(labels),
        "classes": dict(sorted(Counter(map(str, labels)).items())),
        "formats": dict(sorted(Counter(map(str, frame["format"])).items())),
        "channels": {str(k): v for k, v in sorted(Counter(map(int, frame["channels"])).items())},
        "sizes": {
            "min": [min(w for w, _ in sizes), min(h for _, h in sizes)],
            "max": [max(w for w, _ in sizes), max(h for _, h in sizes)],
            "most_common": list(Counter(sizes).most_common(1)[0][0]),
        },
        "annotated": len(boxes),
        "boxes": sum(len(b) for b in boxes),
    }
