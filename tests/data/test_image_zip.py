"""Zips of images: the three label layouts, VOC boxes, the summary, and every unsafe archive refused."""

from __future__ import annotations

import io
import json
import struct
import zipfile
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from shopfloor.data.archive import ZipLimits, read_counted
from shopfloor.data.image_zip import read_image_zip
from shopfloor.errors import InvalidDataset, UnsupportedMediaType


def image(fmt: str = "PNG", size: tuple[int, int] = (8, 6), mode: str = "RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, 90).save(out, fmt)
    return out.getvalue()


def voc(*boxes: tuple[str, float, float, float, float], prolog: str = "") -> str:
    objects = "".join(
        f"<object><name>{n}</name><bndbox><xmin>{a}</xmin><ymin>{b}</ymin><xmax>{c}</xmax><ymax>{d}</ymax>"
        "</bndbox></object>"
        for n, a, b, c, d in boxes
    )
    return f"{prolog}<annotation><filename>x.jpg</filename>{objects}</annotation>"


def build(tmp_path: Path, members: dict[str, bytes | str], name: str = "up.zip") -> Path:
    path = tmp_path / name
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for member, data in members.items():
            archive.writestr(member, data)
    return path


def refused(path: Path, member: str | None, needle: str, limits: ZipLimits | None = None) -> InvalidDataset:
    with pytest.raises(InvalidDataset) as info:
        read_image_zip(path, limits)
    error = info.value
    assert needle.lower() in error.detail.lower(), error.detail
    if member is not None:
        assert member in error.detail
        assert ["file", "members", member] in [e["loc"] for e in error.errors]
    return error


# --- layouts ---------------------------------------------------------------------------------------


def test_class_folders_under_a_wrapper(tmp_path: Path) -> None:
    path = build(
        tmp_path,
        {
            "neu/crazing/c1.png": image("PNG", (8, 6)),
            "neu/crazing/c2.jpg": image("JPEG", (8, 6)),
            "neu/scratches/s1.bmp": image("BMP", (10, 4), "L"),
            "neu/scratches/s2.tif": image("TIFF", (8, 6)),
            "neu/scratches/s3.png": image("PNG", (12, 12), "L"),
            "neu/annotations/s1.xml": voc(("scratches", 1, 2, 5, 3), ("scratches", 0, 0, 2.5, 1)),
            "__MACOSX/neu/crazing/._c1.png": b"junk",
            "neu/.DS_Store": b"junk",
            "neu/crazing/Thumbs.db": b"junk",
            "neu/.hidden/notes.txt": b"junk",
        },
    )
    frame, summary = read_image_zip(path)
    assert list(frame.columns) == [
        "image",
        "filename",
        "label",
        "width",
        "height",
        "channels",
        "format",
        "boxes",
    ]
    labels = dict(zip(frame["filename"], frame["label"], strict=True))
    assert labels == {
        "neu/crazing/c1.png": "crazing",
        "neu/crazing/c2.jpg": "crazing",
        "neu/scratches/s1.bmp": "scratches",
        "neu/scratches/s2.tif": "scratches",
        "neu/scratches/s3.png": "scratches",
    }
    row = frame.set_index("filename").loc["neu/scratches/s1.bmp"]
    assert row["image"] == image("BMP", (10, 4), "L")  # the original bytes, unchanged
    assert (row["width"], row["height"], row["channels"], row["format"]) == (10, 4, 1, "BMP")
    assert json.loads(row["boxes"]) == [
        {"name": "scratches", "xmin": 1, "ymin": 2, "xmax": 5, "ymax": 3},
        {"name": "scratches", "xmin": 0, "ymin": 0, "xmax": 2.5, "ymax": 1},
    ]
    assert frame["boxes"].isna().sum() == 4
    assert summary == {
        "images": 5,
        "labelled": 5,
        "classes": {"crazing": 2, "scratches": 3},
        "formats": {"BMP": 1, "JPEG": 1, "PNG": 2, "TIFF": 1},
        "channels": {"1": 2, "3": 3},
        "sizes": {"min": [8, 4], "max": [12, 12], "most_common": [8, 6]},
        "annotated": 1,
        "boxes": 2,
    }


def test_flat_images_are_unlabelled_and_xml_next_to_image_matches(tmp_path: Path) -> None:
    path = build(
        tmp_path,
        {"a.png": image(), "b.png": image(), "b.xml": voc(("pit", 1, 1, 2, 2)), "orphan.xml": voc()},
    )
    frame, summary = read_image_zip(path)
    assert frame["label"].isna().all()
    assert summary["labelled"] == 0 and summary["classes"] == {}
    assert summary["annotated"] == 1 and summary["boxes"] == 1
    assert frame.set_index("filename").loc["b.png", "boxes"] is not None


def test_single_class_folder_is_a_wrapper(tmp_path: Path) -> None:
    frame, _ = read_image_zip(build(tmp_path, {"good/a.png": image(), "good/b.png": image()}))
    assert frame["label"].isna().all()


def test_labels_csv_by_path_and_by_basename(tmp_path: Path) -> None:
    path = build(
        tmp_path,
        {
            "imgs/a.png": image(),
            "imgs/b.png": image(),
            "other/c.png": image(),
            "labels.csv": "filename,label\nimgs/a.png,ok\nb.png,defect\n./other/c.png,\n",
        },
    )
    frame, summary = read_image_zip(path)
    labels = dict(zip(frame["filename"], frame["label"], strict=True))
    assert labels == {"imgs/a.png": "ok", "imgs/b.png": "defect", "other/c.png": None}
    assert summary["labelled"] == 2 and summary["classes"] == {"defect": 1, "ok": 1}


def test_labels_csv_inside_a_wrapper_names_paths_from_its_folder(tmp_path: Path) -> None:
    path = build(
        tmp_path,
        {
            "set/x/a.png": image(),
            "set/y/a.png": image(),
            "set/labels.csv": "filename,label\nx/a.png,1\ny/a.png,2\n",
        },
    )
    frame, _ = read_image_zip(path)
    assert dict(zip(frame["filename"], frame["label"], strict=True)) == {
        "set/x/a.png": "1",
        "set/y/a.png": "2",
    }


@pytest.mark.parametrize(
    ("csv_text", "member", "needle"),
    [
        ("filename,label\na.png,x\nb.png,y\nghost.png,z\n", "labels.csv", "ghost.png"),
        ("filename,label\na.png,x\n", "b.png", "missing from labels.csv"),
        ("name,class\na.png,x\nb.png,y\n", "labels.csv", "header"),
        ("filename,label\na.png,x\nb.png,y,z\n", "labels.csv", "line 3"),
        ("filename,label\na.png,x\na.png,y\nb.png,y\n", "labels.csv", "twice"),
    ],
    ids=["unknown-file", "image-not-listed", "bad-header", "ragged-row", "labelled-twice"],
)
def test_bad_labels_csv(tmp_path: Path, csv_text: str, member: str, needle: str) -> None:
    path = build(tmp_path, {"a.png": image(), "b.png": image(), "labels.csv": csv_text})
    refused(path, member, needle)


def test_images_both_loose_and_in_class_folders_are_refused(tmp_path: Path) -> None:
    path = build(tmp_path, {"cls/a.png": image(), "other/b.png": image(), "loose.png": image()})
    refused(path, "loose.png", "class folder")


# --- VOC annotations ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("xml", "needle"),
    [
        (voc(("x", 1, 1, 2, 2), prolog='<!DOCTYPE lolz [<!ENTITY lol "lol">]>'), "DOCTYPE"),
        ('<!ENTITY a "b"><annotation/>', "ENTITY"),
        ("<annotation><object>", "well-formed"),
        ("<svg></svg>", "not a Pascal VOC"),
        ("<annotation><object><name>x</name></object></annotation>", "bndbox"),
        (voc(("x", 1, 1, "wide", 2)), "not a number"),
        (voc(("x", 5, 1, 2, 2)), "below"),
    ],
    ids=["doctype", "entity", "malformed", "not-voc", "no-box", "not-a-number", "inverted"],
)
def test_bad_annotations_are_refused(tmp_path: Path, xml: str, needle: str) -> None:
    path = build(tmp_path, {"a.png": image(), "annotations/a.xml": xml})
    refused(path, "annotations/a.xml", needle)


def test_ambiguous_annotation_is_refused(tmp_path: Path) -> None:
    path = build(tmp_path, {"a/1.png": image(), "b/1.png": image(), "ann/1.xml": voc()})
    refused(path, "ann/1.xml", "matches 2 images")


# --- unsafe or unusable archives -----------------------------------------------------------------


@pytest.mark.parametrize(
    "member",
    ["../evil.png", "imgs/../../evil.png", "/etc/evil.png", "C:/evil.png", "c:evil.png", "..\\evil.png"],
)
def test_member_paths_that_escape_are_refused(tmp_path: Path, member: str) -> None:
    refused(build(tmp_path, {"ok.png": image(), member: image()}), member, "")


def test_symlink_member_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "link.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("ok.png", image())
        link = zipfile.ZipInfo("cls/link.png")
        link.create_system = 3
        link.external_attr = 0o120777 << 16
        archive.writestr(link, "/etc/passwd")
    refused(path, "cls/link.png", "symbolic link")


def test_encrypted_member_is_refused(tmp_path: Path) -> None:
    path = build(tmp_path, {"ok.png": image(), "secret.png": image()})
    raw = bytearray(path.read_bytes())
    # Set the "encrypted" flag bit of secret.png in its local header and central directory entry.
    for signature, flag_offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        start = 0
        while (start := raw.find(signature, start)) >= 0:
            name_offset = 30 if signature == b"PK\x03\x04" else 46
            name_length = struct.unpack_from("<H", raw, start + (26 if signature == b"PK\x03\x04" else 28))[0]
            if raw[start + name_offset : start + name_offset + name_length] == b"secret.png":
                raw[start + flag_offset] |= 0x1
            start += 4
    path.write_bytes(bytes(raw))
    refused(path, "secret.png", "encrypted")


@pytest.mark.parametrize(
    ("member", "data"),
    [("notes.txt", b"hello"), ("tools/run.exe", b"MZ\x90\x00"), ("scan", image())],
    ids=["text", "executable", "no-extension"],
)
def test_files_that_are_not_images_are_refused(tmp_path: Path, member: str, data: bytes) -> None:
    refused(build(tmp_path, {"ok.png": image(), member: data}), member, "not an image")


@pytest.mark.parametrize(
    ("member", "data"),
    [
        ("bad.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40),
        ("text.jpg", b"just text"),
        ("cut.jpg", image("JPEG")[:60]),
    ],
    ids=["garbage-png", "text-as-jpeg", "truncated-jpeg"],
)
def test_images_that_do_not_decode_are_refused(tmp_path: Path, member: str, data: bytes) -> None:
    refused(build(tmp_path, {"ok.png": image(), member: data}), member, "")


def test_gif_is_refused_by_format(tmp_path: Path) -> None:
    refused(build(tmp_path, {"ok.png": image(), "anim.png": image("GIF")}), "anim.png", "GIF")


def test_too_many_members(tmp_path: Path) -> None:
    path = build(tmp_path, {f"{i}.png": image() for i in range(4)})
    error = refused(path, None, "4 members", ZipLimits(max_members=3))
    assert error.errors[0]["loc"] == ["file"]


def test_total_declared_size_over_the_limit(tmp_path: Path) -> None:
    path = build(tmp_path, {f"{i}.png": image() for i in range(4)})
    total = sum(len(image()) for _ in range(4))
    refused(path, None, "unpacks to", ZipLimits(max_total_bytes=total - 1))


def test_member_over_the_size_limit(tmp_path: Path) -> None:
    big = image("BMP", (100, 100))
    path = build(tmp_path, {"ok.png": image(), "big.bmp": big})
    refused(path, "big.bmp", "over the limit", ZipLimits(max_member_bytes=len(big) - 1))


def test_absurd_compression_ratio_is_refused(tmp_path: Path) -> None:
    path = build(tmp_path, {"ok.png": image(), "bomb.bmp": b"\x00" * (3 * 1024 * 1024)})
    refused(path, "bomb.bmp", "compressed")
    # The same ratio on a small member is fine by ratio (it is then refused as a bad image).
    small = build(tmp_path, {"ok.png": image(), "flat.bmp": b"\x00" * 50_000}, "small.zip")
    error = refused(small, "flat.bmp", "")
    assert "compressed" not in error.detail


def _lie_about_size(path: Path, member: bytes, declared: int) -> None:
    """Patch the uncompressed size of ``member`` in its local header and central directory entry."""
    raw = bytearray(path.read_bytes())
    for signature, size_offset, length_offset, name_offset in (
        (b"PK\x03\x04", 22, 26, 30),
        (b"PK\x01\x02", 24, 28, 46),
    ):
        start = 0
        while (start := raw.find(signature, start)) >= 0:
            length = struct.unpack_from("<H", raw, start + length_offset)[0]
            if raw[start + name_offset : start + name_offset + length] == member:
                struct.pack_into("<I", raw, start + size_offset, declared)
            start += 4
    path.write_bytes(bytes(raw))


def test_member_whose_header_understates_its_size_is_refused(tmp_path: Path) -> None:
    data = image("BMP", (200, 200))  # 120 kB of pixels, declared as 1 kB
    path = build(tmp_path, {"ok.png": image(), "liar.bmp": data})
    _lie_about_size(path, b"liar.bmp", 1000)
    with zipfile.ZipFile(path) as archive:
        assert archive.getinfo("liar.bmp").file_size == 1000  # the declared checks see a small member
    refused(path, "liar.bmp", "")


def test_bytes_are_counted_while_reading() -> None:
    assert read_counted(io.BytesIO(b"x" * 100), "m.png", 100) == b"x" * 100
    with pytest.raises(InvalidDataset, match="m.png: unpacks to more than 99 bytes") as info:
        read_counted(io.BytesIO(b"x" * 100), "m.png", 99)
    assert info.value.errors[0]["loc"] == ["file", "members", "m.png"]


def test_duplicate_member_names_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "dup.zip"
    with zipfile.ZipFile(path, "w") as archive, pytest.warns(UserWarning, match="Duplicate name"):
        archive.writestr("a.png", image())
        archive.writestr("a.png", image())
    refused(path, "a.png", "twice")


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"a,b\n1,2\n", "not a readable zip"),
        (b"PK\x03\x04" + b"\x00" * 64, "not a readable zip"),
        (None, "no images"),
        ({"readme.md": b"# hi"}, "readme.md"),
        ({"__MACOSX/._a.png": b"x", "labels.csv": "filename,label\n"}, "no images"),
    ],
    ids=["csv", "broken-zip", "empty-zip", "no-images", "only-litter"],
)
def test_unusable_archives(tmp_path: Path, content: Any, needle: str) -> None:
    if isinstance(content, bytes):
        path = tmp_path / "up.zip"
        path.write_bytes(content)
    else:
        path = build(tmp_path, content or {})
    refused(path, None, needle)


def test_office_document_is_not_an_image_zip(tmp_path: Path) -> None:
    path = build(tmp_path, {"[Content_Types].xml": "<Types/>", "xl/workbook.xml": "<workbook/>"})
    with pytest.raises(UnsupportedMediaType, match="CSV"):
        read_image_zip(path)
