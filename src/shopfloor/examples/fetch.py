"""Write an example data set into a folder: from this package (AI4I), from a local copy of the data
folder (``SHOPFLOOR_DATA_DIR``, laid out ``<set>/<files>``), or downloaded from its public source.

Every file is checked against the sha256 recorded in :mod:`shopfloor.examples.catalog` before it
takes its place; a mismatch is refused and nothing of that file is left behind. A file already in
place with the right digest is kept as it is.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from importlib.resources import files as package_files
from pathlib import Path, PurePosixPath
from typing import IO, TYPE_CHECKING

from shopfloor.errors import ArtifactCorrupted, NotFound, ShopfloorError
from shopfloor.examples.catalog import EXAMPLES, Archive, Example, ExampleFile

if TYPE_CHECKING:
    import httpx

#: Called with one line per file: where it came from.
Report = Callable[[str], None]
_CHUNK = 1 << 20


def lookup(name: str) -> Example:
    """The example called ``name``; ``NotFound`` lists the known names."""
    try:
        return EXAMPLES[name]
    except KeyError:
        raise NotFound(f"no example data set named {name!r}; known: {', '.join(EXAMPLES)}") from None


def get(
    name: str,
    dest: Path,
    source_dir: Path | None = None,
    *,
    download: bool = True,
    http: httpx.Client | None = None,
    report: Report = lambda _: None,
) -> list[Path]:
    """Write example ``name`` under ``dest`` and return the paths written (or found in place).

    Each file comes from the package, else from ``source_dir/<name>/`` when it is there, else (with
    ``download``) from its public URL through ``http``. Raises ``NotFound`` for an unknown name,
    ``ArtifactCorrupted`` when a file's sha256 differs from the recorded one, and ``ShopfloorError``
    when a file is neither local nor downloadable."""
    example = lookup(name)
    dest.mkdir(parents=True, exist_ok=True)
    local = source_dir / name if source_dir is not None else None
    written = [_get_file(example, f, dest, local, download, http, report) for f in example.files]
    if example.archive is not None:
        written += _get_archive(example.archive, dest, local, download, http, report)
    return written


def _get_file(
    example: Example,
    item: ExampleFile,
    dest: Path,
    local: Path | None,
    download: bool,
    http: httpx.Client | None,
    report: Report,
) -> Path:
    target = dest / item.path
    if target.is_file() and _sha256_file(target) == item.sha256:
        report(f"{item.path}: already in place")
        return target
    relative = item.path.removeprefix(f"{example.name}/")
    if example.packaged:
        with package_files("shopfloor.examples").joinpath(relative).open("rb") as stream:
            _write_checked(_chunks(stream), target, item.sha256, "the installed package")
        report(f"{item.path}: from the installed package")
    elif local is not None and (local / relative).is_file():
        with (local / relative).open("rb") as stream:
            _write_checked(_chunks(stream), target, item.sha256, str(local / relative))
        report(f"{item.path}: copied from {local / relative}")
    else:
        _refuse_offline(example, local, download, item.url)
        assert item.url is not None
        with _opened(http) as client, client.stream("GET", item.url) as response:
            _check_status(response, item.url)
            _write_checked(response.iter_bytes(_CHUNK), target, item.sha256, item.url)
        report(f"{item.path}: downloaded from {item.url}")
    return target


def _get_archive(
    archive: Archive,
    dest: Path,
    local: Path | None,
    download: bool,
    http: httpx.Client | None,
    report: Report,
) -> list[Path]:
    root = dest / archive.root
    if root.is_dir() and _manifest(root, set(archive.folders.values()))[0] == archive.manifest:
        report(f"{archive.root}/: already in place")
        return [root]
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest, prefix=f".{archive.root}-") as scratch:
        staged = Path(scratch)
        wanted = set(archive.folders.values())
        if local is not None and all((local / f).is_dir() for f in wanted):
            for folder in sorted(wanted):
                shutil.copytree(local / folder, staged / folder)
            origin = str(local)
        else:
            _refuse_offline(None, local, download, archive.url, archive.root)
            with _opened(http) as client, tempfile.TemporaryFile() as zipped:
                with client.stream("GET", archive.url) as response:
                    _check_status(response, archive.url)
                    for chunk in response.iter_bytes(_CHUNK):
                        zipped.write(chunk)
                _extract(zipped, archive, staged)
            origin = archive.url
        digest, count = _manifest(staged, wanted)
        if digest != archive.manifest:
            raise ArtifactCorrupted(
                f"the {count} files of {archive.root} from {origin} do not match the recorded sha256 "
                f"manifest ({digest} != {archive.manifest}); nothing was written"
            )
        for folder in sorted(wanted):
            if (root / folder).exists():
                shutil.rmtree(root / folder)
            root.mkdir(parents=True, exist_ok=True)
            os.replace(staged / folder, root / folder)
    how = "downloaded" if origin == archive.url else "copied"
    report(f"{archive.root}/: {count} files {how} from {origin}")
    return [root]


def _extract(zipped: IO[bytes], archive: Archive, staged: Path) -> None:
    """Only ``<top>/<folder>/<file>`` members of the folders named; the name is reduced to its last
    part, so no member can write outside ``staged``."""
    with zipfile.ZipFile(zipped) as z:
        for info in z.infolist():
            parts = PurePosixPath(info.filename).parts
            if info.is_dir() or len(parts) != 3 or parts[1] not in archive.folders:
                continue
            name = parts[2]
            if name in {".", ".."} or "\\" in name:
                continue
            target = staged / archive.folders[parts[1]] / name
            target.parent.mkdir(parents=True, exist_ok=True)
            with z.open(info) as src, target.open("wb") as out:
                shutil.copyfileobj(src, out)


def _manifest(root: Path, folders: set[str]) -> tuple[str, int]:
    """sha256 of the ``sha256sum`` listing of every file in ``folders`` under ``root``."""
    lines = sorted(
        (path.relative_to(root).as_posix(), _sha256_file(path))
        for folder in folders
        if (root / folder).is_dir()
        for path in (root / folder).rglob("*")
        if path.is_file()
    )
    listing = "".join(f"{sha}  {rel}\n" for rel, sha in sorted(lines, key=lambda x: x[0].encode()))
    return hashlib.sha256(listing.encode()).hexdigest(), len(lines)


def _refuse_offline(
    example: Example | None, local: Path | None, download: bool, url: str | None, what: str | None = None
) -> None:
    if download and url:
        return
    where = f" and not in {local}" if local is not None else ""
    name = what or (example.name if example else "")
    raise ShopfloorError(
        f"example {name!r} is not in this package{where}; "
        "name a local copy with --from DIR (or SHOPFLOOR_DATA_DIR), or allow the download"
    )


def _chunks(stream: IO[bytes]) -> Iterator[bytes]:
    return iter(lambda: stream.read(_CHUNK), b"")


def _write_checked(chunks: Iterable[bytes], target: Path, sha256: str, origin: str) -> None:
    """Write ``chunks`` next to ``target``, then move them into place only if their sha256 is ``sha256``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}-")
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in chunks:
                digest.update(chunk)
                out.write(chunk)
        if digest.hexdigest() != sha256:
            raise ArtifactCorrupted(
                f"{target.name} from {origin} has sha256 {digest.hexdigest()}, expected {sha256}; "
                "it was not written"
            )
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@contextmanager
def _opened(http: httpx.Client | None) -> Iterator[httpx.Client]:
    if http is not None:
        yield http
        return
    import httpx

    with httpx.Client(follow_redirects=True, timeout=httpx.Timeout(60.0, connect=15.0)) as client:
        try:
            yield client
        except httpx.HTTPError as exc:
            raise ShopfloorError(
                f"could not download the example ({exc}); offline, name a local copy with --from DIR"
            ) from None


def _check_status(response: httpx.Response, url: str) -> None:
    if response.status_code != 200:
        raise ShopfloorError(f"downloading {url} answered HTTP {response.status_code}")
