"""Zips of images uploaded through the API: stored as an image table, unsafe archives leave nothing."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

from PIL import Image

from shopfloor.data.stored import load_frame

Api = Any

NEU_CLASSES = ("crazing", "inclusion", "patches", "pitted_surface", "rolled-in_scale", "scratches")


def _zip(members: dict[str, bytes | str]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


def _image(fmt: str, size: tuple[int, int], mode: str, shade: int) -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, shade if mode == "L" else (shade, 40, 200 - shade)).save(out, fmt)
    return out.getvalue()


def _upload(api: Api, content: bytes, filename: str = "parts.zip", **data: str):
    return api.client.post(
        "/v1/datasets",
        files={"file": (filename, content, "application/zip")},
        data=data,
        headers=api.headers("builder"),
    )


def _two_classes() -> dict[str, bytes | str]:
    kinds = [("PNG", "png", "RGB"), ("JPEG", "jpg", "L"), ("BMP", "bmp", "RGB"), ("TIFF", "tif", "L")]
    members: dict[str, bytes | str] = {}
    for n in range(12):
        fmt, ext, mode = kinds[n % 4]
        folder = "good" if n < 6 else "scratch"
        members[f"line3/{folder}/part_{n}.{ext}"] = _image(
            fmt, (32, 24) if n != 11 else (40, 40), mode, 10 * n
        )
    members["line3/annotations/part_7.xml"] = (
        "<annotation><object><name>scratch</name>"
        "<bndbox><xmin>2</xmin><ymin>3</ymin><xmax>20</xmax><ymax>9</ymax></bndbox></object></annotation>"
    )
    return members


def test_upload_a_zip_of_images(api: Api) -> None:
    members = _two_classes()
    response = _upload(api, _zip(members), name="line 3 parts")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["format"] == "images" and body["rows"] == 12 and body["name"] == "line 3 parts"
    got = api.client.get(f"/v1/datasets/{body['id']}", headers=api.headers()).json()
    assert got["format"] == "images" and got["rows"] == 12
    columns = {c["name"]: c for c in got["columns"]}
    assert list(columns) == ["image", "filename", "label", "width", "height", "channels", "format", "boxes"]
    assert columns["image"]["type"] == "image" and columns["image"]["missing"] == 0
    assert columns["image"]["stats"] == {
        "images": 12,
        "labelled": 12,
        "classes": {"good": 6, "scratch": 6},
        "formats": {"BMP": 3, "JPEG": 3, "PNG": 3, "TIFF": 3},
        "channels": {"1": 6, "3": 6},
        "sizes": {"min": [32, 24], "max": [40, 40], "most_common": [32, 24]},
        "annotated": 1,
        "boxes": 1,
    }
    assert columns["label"]["type"] == "categorical"
    assert columns["boxes"]["missing"] == 11
    assert got["masking"] is None and got["series"] is None
    # Stored as uploaded: the original bytes of every image, the boxes as JSON.
    frame = load_frame(api.platform, api.platform.store.get_dataset("default", body["id"])).set_index(
        "filename"
    )
    assert frame.loc["line3/scratch/part_7.tif", "image"] == members["line3/scratch/part_7.tif"]
    assert json.loads(frame.loc["line3/scratch/part_7.tif", "boxes"]) == [
        {"name": "scratch", "xmin": 2, "ymin": 3, "xmax": 20, "ymax": 9}
    ]
    assert api.scratch_files() == []


def test_format_images_accepts_a_zip_and_refuses_a_table(api: Api) -> None:
    flat = _zip({"a.png": _image("PNG", (8, 8), "RGB", 1), "b.png": _image("PNG", (8, 8), "RGB", 2)})
    response = _upload(api, flat, format="images")
    assert response.status_code == 201, response.text
    assert response.json()["columns"][0]["stats"]["labelled"] == 0
    refused = _upload(api, b"a,b\n1,2\n", "t.csv", format="images")
    assert refused.status_code == 422 and "not a readable zip" in refused.json()["detail"]
    with_table_options = _upload(api, flat, asset_column="unit", time_column="cycle")
    assert with_table_options.status_code == 422
    assert with_table_options.json()["errors"][0]["loc"] == ["body", "asset_column"]


def test_unsafe_zip_is_refused_and_leaves_nothing(api: Api) -> None:
    before = api.client.get("/v1/datasets", headers=api.headers()).json()["items"]
    members = _two_classes()
    members["../../etc/cron.d/evil.png"] = members["line3/good/part_0.png"]
    response = _upload(api, _zip(members))
    assert response.status_code == 422, response.text
    problem = response.json()
    assert "../../etc/cron.d/evil.png" in problem["detail"]
    assert problem["errors"][0]["loc"] == ["file", "members", "../../etc/cron.d/evil.png"]
    assert api.client.get("/v1/datasets", headers=api.headers()).json()["items"] == before == []
    assert api.platform.store.list_datasets("default") == []
    assert api.files_under("default") == []
    assert api.scratch_files() == []


def test_neu_images_by_class(api: Api, data_dir: Path) -> None:
    source = data_dir / "neu_det" / "IMAGES"
    members: dict[str, bytes | str] = {
        f"neu/{cls}/{cls}_{n}.jpg": (source / f"{cls}_{n}.jpg").read_bytes()
        for cls in NEU_CLASSES
        for n in range(1, 6)
    }
    response = _upload(api, _zip(members), "neu.zip")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["format"] == "images" and body["rows"] == 30 and body["name"] == "neu"
    stats = body["columns"][0]["stats"]
    assert stats["classes"] == dict.fromkeys(NEU_CLASSES, 5)
    assert stats["formats"] == {"JPEG": 30}
    assert stats["sizes"] == {"min": [200, 200], "max": [200, 200], "most_common": [200, 200]}
    assert sum(stats["channels"].values()) == 30
