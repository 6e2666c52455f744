"""``shopfloor examples``: the packaged AI4I file, local copies and downloads, all checked by sha256."""

from __future__ import annotations

import hashlib
import io
import zipfile
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from shopfloor.cli import app
from shopfloor.errors import ArtifactCorrupted, NotFound, ShopfloorError
from shopfloor.examples import catalog, fetch

runner = CliRunner()


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_ai4i_comes_from_the_package(tmp_path: Path) -> None:
    [path] = fetch.get("ai4i2020", tmp_path, source_dir=None, download=False)
    assert path == tmp_path / "ai4i2020.csv"
    assert _sha(path.read_bytes()) == catalog.EXAMPLES["ai4i2020"].files[0].sha256


def test_a_set_is_copied_from_a_local_data_folder(tmp_path: Path, data_dir: Path) -> None:
    lines: list[str] = []
    paths = fetch.get("sales_weekly", tmp_path / "out", data_dir, download=False, report=lines.append)
    assert [p.name for p in paths] == ["Sales_Transactions_Dataset_Weekly.csv"]
    assert "copied from" in lines[0]
    fetch.get("sales_weekly", tmp_path / "out", data_dir, download=False, report=lines.append)
    assert lines[-1].endswith("already in place")


def test_the_cwru_recordings_are_copied_from_a_local_data_folder(tmp_path: Path, data_dir: Path) -> None:
    """All 46 files, each checked against its recorded size and sha256, in the layout the README
    and the end-to-end test read (``cwru_fan_end/12k_FE/``, ``cwru_fan_end/Normal/``)."""
    example = catalog.EXAMPLES["cwru_fan_end"]
    paths = fetch.get("cwru_fan_end", tmp_path, data_dir, download=False)
    assert len(paths) == 46 and sum(p.stat().st_size for p in paths) == example.size == 134_955_232
    assert (tmp_path / "cwru_fan_end" / "12k_FE" / "OR007@6_2.mat").is_file()
    assert (tmp_path / "cwru_fan_end" / "Normal" / "Normal_0.mat").is_file()
    source = "https://raw.githubusercontent.com/XiongMeijing/CWRU-1/06ee2dbb5a323ace727a1d6ba97421869c8540b5/"
    assert all(f.url and f.url.startswith(f"{source}Data/") for f in example.files)
    assert any("swapped" in note for note in example.notes)


def test_a_local_copy_with_another_checksum_is_refused(tmp_path: Path, data_dir: Path) -> None:
    local = tmp_path / "data" / "sales_weekly"
    local.mkdir(parents=True)
    original = (data_dir / "sales_weekly" / "Sales_Transactions_Dataset_Weekly.csv").read_bytes()
    (local / "Sales_Transactions_Dataset_Weekly.csv").write_bytes(original.replace(b"P1,", b"P9,", 1))
    out = tmp_path / "out"
    with pytest.raises(ArtifactCorrupted, match="expected c406378a"):
        fetch.get("sales_weekly", out, tmp_path / "data", download=False)
    assert list(out.iterdir()) == []  # no partial file left behind


def test_an_unknown_name_lists_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="known: ai4i2020, cmapss"):
        fetch.get("mnist", tmp_path)


def test_offline_without_a_local_copy_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ShopfloorError, match="--from DIR"):
        fetch.get("cmapss", tmp_path, tmp_path / "nothing", download=False)


def _serving(files: dict[str, bytes]) -> httpx.Client:
    def answer(request: httpx.Request) -> httpx.Response:
        body = files.get(str(request.url))
        return httpx.Response(200, content=body) if body is not None else httpx.Response(404)

    return httpx.Client(transport=httpx.MockTransport(answer))


def test_a_download_is_checked_before_it_is_written(tmp_path: Path, data_dir: Path) -> None:
    item = catalog.EXAMPLES["sales_weekly"].files[0]
    good = (data_dir / "sales_weekly" / item.path).read_bytes()
    assert item.url
    with _serving({item.url: good}) as http:
        [path] = fetch.get("sales_weekly", tmp_path / "ok", None, http=http)
    assert path.read_bytes() == good
    with _serving({item.url: good + b"\n"}) as http, pytest.raises(ArtifactCorrupted):
        fetch.get("sales_weekly", tmp_path / "bad", None, http=http)
    assert not (tmp_path / "bad" / item.path).exists()
    with _serving({}) as http, pytest.raises(ShopfloorError, match="HTTP 404"):
        fetch.get("sales_weekly", tmp_path / "gone", None, http=http)


def test_an_archive_is_extracted_by_folder_and_checked_as_a_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    members = {
        "repo-abc/IMAGES/a.jpg": b"a",
        "repo-abc/Validation_Images/b.jpg": b"b",
        "repo-abc/ANNOTATIONS/a.xml": b"x",
        "repo-abc/other/c.txt": b"c",
        "repo-abc/../d.jpg": b"d",
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    listing = "".join(
        f"{_sha(d)}  {p}\n"
        for p, d in [("ANNOTATIONS/a.xml", b"x"), ("IMAGES/a.jpg", b"a"), ("IMAGES/b.jpg", b"b")]
    )
    neu = catalog.EXAMPLES["neu_det"]
    assert neu.archive is not None
    archive = replace(neu.archive, manifest=_sha(listing.encode()))
    monkeypatch.setitem(catalog.EXAMPLES, "neu_det", replace(neu, archive=archive))
    with _serving({archive.url: buffer.getvalue()}) as http:
        fetch.get("neu_det", tmp_path, None, http=http)
    written = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert written == ["neu_det/ANNOTATIONS/a.xml", "neu_det/IMAGES/a.jpg", "neu_det/IMAGES/b.jpg"]

    monkeypatch.setitem(
        catalog.EXAMPLES, "neu_det", replace(neu, archive=replace(archive, manifest="0" * 64))
    )
    with _serving({archive.url: buffer.getvalue()}) as http, pytest.raises(ArtifactCorrupted):
        fetch.get("neu_det", tmp_path / "bad", None, http=http)
    assert not (tmp_path / "bad" / "neu_det").exists()


def test_the_cli_lists_and_gets(tmp_path: Path, data_dir: Path) -> None:
    listed = runner.invoke(app, ["examples", "list"])  # in the width of whatever terminal there is
    assert listed.exit_code == 0, listed.output
    for name in catalog.EXAMPLES:
        assert name in listed.output  # whole: the name is what `examples get` takes
    assert "CC BY" in listed.output
    got = runner.invoke(app, ["examples", "get", "cmapss", "--dir", str(tmp_path), "--from", str(data_dir)])
    assert got.exit_code == 0, got.output
    assert (tmp_path / "cmapss" / "train_FD001.txt").is_file()
    unknown = runner.invoke(app, ["examples", "get", "nope", "--dir", str(tmp_path)])
    assert unknown.exit_code == 1 and "no example data set named 'nope'" in unknown.output
