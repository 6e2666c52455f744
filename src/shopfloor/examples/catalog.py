"""The example data sets the README walkthroughs use: where each comes from, under which licence,
and the sha256 of every file, so that a copy from a local folder or a download is checked before
it is written.

Each set is fetched from the public commit its provenance note names (raw files, or for NEU-DET the
repository archive, whose extracted files are checked: the archive's own digest is not stable).
AI4I 2020 also ships inside this package (``ai4i2020.csv``, CC BY 4.0, see ``ai4i2020.PROVENANCE.md``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import quote

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
_CWRU = ("XiongMeijing/CWRU-1", "06ee2dbb5a323ace727a1d6ba97421869c8540b5")
#: sha256, size and path (in the set, and under ``Data/`` in the repository) of the CWRU files.
_CWRU_FILES = """
e7447bf84ff363c0e49f651f76b502ab34b58653d53156faa852033cef8da947   2908440 12k_FE/B007_0.mat
ec58fd361b56b645ce3811352ec4ae947fbdfc053cede581738129d02ea8928b   2899632 12k_FE/B007_1.mat
f6179084903e78126b7728f267125f0d387f79eb69742145fc1047fdfc938d8b   2921664 12k_FE/B007_2.mat
0536eee89c111af8c4ecbf8dd580bc63a35df480795d837d1e9a0d036c62ed4b   2908440 12k_FE/B007_3.mat
ffef67be62c7f4395c3c0d69684ee7b7772d5c6f6c4f5f67b6791fa66d2489ea   2930472 12k_FE/B014_0.mat
11838a991ec50b1f34f786ca8431e0ef1ff81df072a66e9740e6488da5be8627   2921664 12k_FE/B014_1.mat
1c16e412208b2f7d43779ba6654fdc76781bd118071a27442338cae781a22bd5   2934864 12k_FE/B014_2.mat
5fb1247048f7773b2bc023afed156f7708d6a03fe78f7aa33f0a202beef6b2de   2908440 12k_FE/B014_3.mat
53146773c3f3b844a6aaaf57fbbe4a821c4e887bb9ad20af49c4bf904e4d9096   2912832 12k_FE/B021_0.mat
1511ae3611d67c9cfa697ba2b204332ab52337a95e22eba9ebde172e3385d69d   2912832 12k_FE/B021_1.mat
09d10a867b780b4d214453a31c6c85963b7a5c67eb51a70e382902f37b202123   2917248 12k_FE/B021_2.mat
9133e6cdc952670aca0a1a5576c24b1075c7701c956f43083bc38a3505af0271   2899632 12k_FE/B021_3.mat
1ad584953158dcdf4eb1ceba71dee781e5596163aad37a2619b0649213f9e3dd   2937304 12k_FE/IR007_0.mat
6bfa8b958280248fbec06b0d543f532b3571e03550f6ac466de59cc215264595   2912832 12k_FE/IR007_1.mat
9ba0712567e9bc2a43ccb8d37e8f1c594cf671babcee7313150ae145a15c365d   2912832 12k_FE/IR007_2.mat
0f1a41d62797039139cf27c6f8b823fe87de44dfb4b2ef03fc6e0ef4d3734992   2917248 12k_FE/IR007_3.mat
f39ea799aeffceb012dbfb7b58fbe52c80df4cdab64da9ad96eed03e5118e9a6   2912832 12k_FE/IR014_0.mat
6677df8434d4dc6f5130bdd4c07e25be562b5b93a49ff867a724f424fb11c577   2912832 12k_FE/IR014_1.mat
d1558eb6bd464e2a9e515bb4b2251814d53d61ab9c1f67ba25fbffe8dad47b5d   2912832 12k_FE/IR014_2.mat
6abdf2d5dc823f50d95814c488735ca2083def087233608e2f2cd718782985a6   2928496 12k_FE/IR014_3.mat
fd7c20f53af7ccaf7ab6b08b885fbe4bf27ce44d9739af2725dc94c8130af953   2908440 12k_FE/IR021_0.mat
2362b0f50519001004b6167b6344deae2c1387121c532366855ce0df51c1a872   2908440 12k_FE/IR021_1.mat
7b9b455d79d696d1fc5762ef058a6363cb153dabdf404100cb4247af767acbd1   2904024 12k_FE/IR021_2.mat
990bd16b90bf70650f102962331b066242792f285612d5081c2ba80053b2e637   2908440 12k_FE/IR021_3.mat
c82d3ac43ed7d4e5dc41d6e0498e43754f7326f1c80d983afbfec2a8dfc3299e   2908440 12k_FE/OR007@12_0.mat
1e31694e7b03e57f45bcd49dddbfb1a36b6e7237c32505c9333a3f2bb3ef10ed   2904024 12k_FE/OR007@12_1.mat
66ff410ca987b3561a121cb67d154a85057760bc6a72f30bafda8ee163712fd4   2921664 12k_FE/OR007@12_2.mat
8e5a47da86128668332fa6d17736515fcb1101c4e5a1e890cdb11e662a0573ca   2908440 12k_FE/OR007@12_3.mat
a954b389feafb8c60e3ba1d04226d0511a340aad8fce082ab920c564b2012423   2904024 12k_FE/OR007@3_0.mat
503fc5bd97d151ee053eb89562a4e2f2b24095b15c798600b66e17c87a48a29e   2908440 12k_FE/OR007@3_1.mat
0b4ac23bbd279760fe3b8873ea257eab562718b5de44c4c617d309fb792550a1   2926056 12k_FE/OR007@3_2.mat
c709cd9f9ddf4a074850bce3384b14fad7f210b188da32d23cc6e6ab68f7a616   2921664 12k_FE/OR007@3_3.mat
6b774ffb83a046a6a4402221c2bc02c84c8e4494ea8457452e366ccc048c7d5e   2908440 12k_FE/OR007@6_0.mat
13f7052f2422f19858f4136aa645dcfefc28f474c6b7e54b6ffcc4abedee8e26   2917248 12k_FE/OR007@6_1.mat
00785405cb36ab8c96a63b43d77e5016477e276154f7bd0a5f74f13825030150   2908440 12k_FE/OR007@6_2.mat
858c409a74f0dcbd31af28f79175daf5e494fe194269909c18c579851aaf3c1d   2926056 12k_FE/OR007@6_3.mat
af7f88db380cc666a06d14c465f7e2bb9b6c5db53daf2fbcfc966654f01577ce   2908440 12k_FE/OR014@3_0.mat
09e94ad346b84bbeb4cd172d5d66aacd08857369b23547a540cd266f71a18c17   2917248 12k_FE/OR014@3_1.mat
8b5f2efba1c9d45cc88b9ced3bb02a2963ecbcc4ed15034f91e1295bf19db4fb   2904024 12k_FE/OR014@3_2.mat
e4f22d6012d316f62f9a46add474af6f956a8365a3eb2115904be0a9abc29f7f   2904024 12k_FE/OR014@3_3.mat
74adda10ce37f133a16d1caf62f2a2c17434a56c18db5af2612eaf127897bc1f   2904024 12k_FE/OR014@6_0.mat
4b0730d494cdf33b8aea1ab2195be5fcd408f37c0fe12d0a2644c88bc59657ff   2895216 12k_FE/OR021@3_1.mat
ed46ca719883b337f75cffcf5d0024386f26c1591dd4163892b48f02d25b40e0   2895216 12k_FE/OR021@3_2.mat
307d56daeffb9e45a0aee649031e83b4165adb8a32cefabb925e540ca51aad8e   2912832 12k_FE/OR021@3_3.mat
e1f6acfe79b622a24bf2ed3d092b83342c9a280a0e443df480c7220a49fff392   2895216 12k_FE/OR021@6_0.mat
16bf48babcf1c7ac224bc1a81cd9eafdb27e42d5cf559761907e067e8eeadf3c   3903344 Normal/Normal_0.mat
"""


def _cwru() -> tuple[ExampleFile, ...]:
    rows = (line.split() for line in _CWRU_FILES.strip().splitlines())
    return tuple(
        ExampleFile(f"cwru_fan_end/{path}", int(size), sha, _raw(*_CWRU, quote(f"Data/{path}")))
        for sha, size, path in rows
    )


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
            name="cwru_fan_end",
            title="CWRU bearing vibration: fan-end faults at 12 kHz (45 recordings, one normal)",
            licence="none stated; CWRU Bearing Data Center, research use",
            source="Case Western Reserve University Bearing Data Center, via XiongMeijing/CWRU-1 "
            "(Data/12k_FE and Data/Normal/Normal_0.mat); see Smith & Randall, MSSP 64-65 (2015)",
            files=_cwru(),
            notes=[
                "MATLAB v5 files: X###_DE_time, X###_FE_time, X###_BA_time (no BA in Normal_0) and "
                "X###RPM; sampled at 12,000 Hz, a rate the files do not state",
                "OR014@3_0.mat holds CWRU file 309 (1 hp, 1774 rpm) and OR014@3_1.mat file 310 "
                "(0 hp, 1796 rpm): their contents look swapped relative to their names",
                "only the 0 hp normal baseline (Normal_0); the repository's Normal_1 to Normal_3 are "
                "not in this set",
            ],
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
