"""The example data sets the README walkthroughs use: where each comes from, under which licence,
and the sha256 of every file, so that a copy from a local folder or a download is checked before
it is written.

Each set is fetched from the public commit its provenance note names (raw files, or for NEU-DET the
repository archive, whose extracted files are checked: the archive's own digest is not stable).
AI4I 2020 also ships inside this package (``ai4i2020.csv``, CC BY 4.0, see ``ai4i2020.PROVENANCE.md``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

_GITHUB_RAW = "https://raw.githubusercontent.com"


@dataclass(frozen=True)
class ExampleFile:
    """One file of an example: its path in the set (also where it is written), size and sha256."""

    path: str
    size: int
    sha256: str
    url: str | None = None


@dataclass(frozen=True)
class Archive:
    """A zip whose members are extracted by folder: ``folders`` maps a folder name in the archive to
    the folder under ``root`` it is written to. The extracted files are checked as a whole: the
    sha256 of their ``sha256sum`` listing (``"<sha256>  <path>\\n"`` per file, path relative to
    the set's folder, sorted by path as bytes) must be ``manifest``."""

    url: str
    root: str
    folders: dict[str, str]
    manifest: str
    files: int
    size: int


@dataclass(frozen=True)
class Example:
    name: str
    title: str
    licence: str
    source: str
    files: tuple[ExampleFile, ...] = ()
    archive: Archive | None = None
    packaged: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files) + (self.archive.size if self.archive else 0)


def _raw(repo: str, commit: str, path: str) -> str:
    return f"{_GITHUB_RAW}/{repo}/{commit}/{path}"


_CMAPSS = ("alireza-javanmardi/conformal-RUL-intervals", "37e450ac8b656229d44aed3ac39dcf85ea11b86c")
_NESTOR = ("usnistgov/nestor", "5f63fc51885b5cab820516a90715baef5b5fa9ed")
_MAINTIE = ("nlp-tlp/maintie", "825e7710e4129598da997276a38b3cb40b200bc2")
_NEU = (
    "siddhartamukherjee/NEU-DET-Steel-Surface-Defect-Detection",
    "351bee21b56bbf97a1e1d18262bceb202eb7ef41",
)
_AI4I = ("4n0rm4lp3rs0n/dead-machine", "124f3934f6b587e40633d93a1f9c1c06dfea1f5b")
_SALES = ("saritmaitra/Segmentation-Clustering", "b82e2fd7e7ac76807c6f1883cd6878182b11c1f6")

EXAMPLES: dict[str, Example] = {
    e.name: e
    for e in (
        Example(
            name="ai4i2020",
            title="AI4I 2020 predictive maintenance (synthetic, 10,000 rows)",
            licence="CC BY 4.0",
            source="UCI Machine Learning Repository, dataset 601 (S. Matzka, 2020)",
            files=(
                ExampleFile(
                    "ai4i2020.csv",
                    508149,
                    "9841aaa04b716d41ce9501f42d9388de7f571566608945061d026f95853c0337",
                    _raw(*_AI4I, "ai4i2020.csv"),
                ),
            ),
            packaged=True,
        ),
        Example(
            name="cmapss",
            title="NASA C-MAPSS turbofan run-to-failure, FD001 (simulated)",
            licence="public NASA data (US Government work); acknowledge the source",
            source="NASA Ames PCoE Prognostics Data Repository (Saxena et al., PHM 2008)",
            files=tuple(
                ExampleFile(f"cmapss/{name}", size, sha, _raw(*_CMAPSS, f"data/CMAPSS/{name}"))
                for name, size, sha in (
                    (
                        "train_FD001.txt",
                        3515356,
                        "963b5e22825b34d8b21c69e1aeb4af3e647050eb672ee8834ba4b5d91d2de0f8",
                    ),
                    (
                        "test_FD001.txt",
                        2228855,
                        "3cda7109ce17bafb5443f2ac926cfcf88154b941b8c4cf95eb55d1ddd6f52851",
                    ),
                    (
                        "RUL_FD001.txt",
                        429,
                        "a19c8ec94931949d0485bdc35118206e9c81c4547b422efb9cf86f4ceddbceca",
                    ),
                    ("readme.txt", 2442, "4f5270554b775c67e73aff383c5436fd329d6e4cc3d3a116913276fae511269b"),
                )
            ),
        ),
        Example(
            name="neu_det",
            title="NEU-DET hot-rolled steel surface defects (1,800 images, 6 classes)",
            licence="no formal licence; distributed by its authors for research use",
            source="Northeastern University (K. Song, Y. Yan), NEU surface defect database",
            archive=Archive(
                url=f"https://github.com/{_NEU[0]}/archive/{_NEU[1]}.zip",
                root="neu_det",
                folders={
                    "IMAGES": "IMAGES",
                    "Validation_Images": "IMAGES",
                    "ANNOTATIONS": "ANNOTATIONS",
                    "Validation_Annotations": "ANNOTATIONS",
                },
                manifest="24b2f16bcb311c819d8cceaf1ef8c5f55c0a6eb8b74ff1bf76af64ddf16d4a46",
                files=3600,
                size=26873000 + 1480471,
            ),
        ),
        Example(
            name="maintenance_text",
            title="Excavator work orders (5,485, labelled) and the MaintIE gold corpus",
            licence="excavators: research use with attribution to UWA / NIST; MaintIE: MIT",
            source="UWA Prognostics Data Library via usnistgov/nestor; nlp-tlp/maintie (LREC-COLING 2024)",
            files=(
                ExampleFile(
                    "maintenance_text/excavators/excavators.csv",
                    286536,
                    "4fdc10728bb8d579ae310ee12bb613dc7068ded2050c301674e78bbfbbd189f0",
                    _raw(*_NESTOR, "nestor/datasets/excavators.csv"),
                ),
                ExampleFile(
                    "maintenance_text/excavators/excavators-cleaned.csv",
                    781309,
                    "006c4f71bc1ff2edc2adf064107a054a6cf2f2027a53ba2cf748ccb7b4e517a2",
                    _raw(*_NESTOR, "nestor/datasets/excavators-cleaned.csv"),
                ),
                ExampleFile(
                    "maintenance_text/maintie/gold_release.json",
                    817880,
                    "ef811cf4ffd0c90e6a13b1369e24e9d1d08f9a294d873ab4fb1a580096d7d6e0",
                    _raw(*_MAINTIE, "data/gold_release.json"),
                ),
                ExampleFile(
                    "maintenance_text/maintie/scheme.json",
                    134144,
                    "0352bd240953829105d3017caf72dbf008e9c2ceee201add1ade22d818b582c0",
                    _raw(*_MAINTIE, "data/scheme.json"),
                ),
                ExampleFile(
                    "maintenance_text/maintie/LICENSE.md",
                    1068,
                    "a406579cd136771c705c521db86ca7d60a6f3de7c9b5460e6193a2df27861bde",
                    _raw(*_MAINTIE, "LICENSE.md"),
                ),
            ),
        ),
        Example(
            name="sales_weekly",
            title="Sales Transactions Dataset Weekly (811 products x 52 weeks, retail)",
            licence="CC BY 4.0",
            source="UCI Machine Learning Repository, dataset 396 (J. Tan, 2017)",
            files=(
                ExampleFile(
                    "Sales_Transactions_Dataset_Weekly.csv",
                    270315,
                    "c406378a12fd93d4ac6c3751bca8bc345554461e000d3708759cef26e0bb8cc1",
                    _raw(*_SALES, "Sales_Transactions_Dataset_Weekly.csv"),
                ),
            ),
        ),
    )
}
