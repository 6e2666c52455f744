"""Pascal-VOC annotation files: XML attacks are refused, naming the member, before anything expands."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from shopfloor.data import voc
from shopfloor.errors import InvalidDataset

MEMBER = "annotations/part_7.xml"
BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
]>
<annotation><object><name>&lol2;</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>2</xmax><ymax>2</ymax>
</bndbox></object></annotation>"""
EXTERNAL = """<?xml version="1.0"?>
<!doctype annotation [<!ENTITY secret SYSTEM "file:///etc/hostname">]>
<annotation><object><name>&secret;</name></object></annotation>"""


@pytest.mark.parametrize(
    "xml", [BILLION_LAUGHS, EXTERNAL, "\ufeff" + EXTERNAL], ids=["laughs", "external", "bom"]
)
def test_entity_declarations_are_refused_naming_the_member(xml: str) -> None:
    with pytest.raises(InvalidDataset) as caught:
        voc.parse_voc(xml.encode(), MEMBER)
    assert caught.value.detail.startswith(f"{MEMBER}: ")
    assert "entity expansion" in caught.value.detail
    assert caught.value.errors[0]["loc"] == ["file", "members", MEMBER]


def test_defusedxml_is_a_declared_dependency() -> None:
    root = Path(__file__).resolve().parents[2]
    project = tomllib.loads((root / "pyproject.toml").read_text())
    assert any(d.startswith("defusedxml") for d in project["project"]["dependencies"])
    assert "defusedxml==" in (root / "requirements.lock").read_text()
    assert voc.fromstring.__module__.startswith("defusedxml")  # no fallback to the standard parser


def test_a_plain_annotation_still_reads() -> None:
    xml = (
        "<annotation><object><name>scratch</name><bndbox><xmin>1</xmin><ymin>2</ymin><xmax>3.5</xmax>"
        "<ymax>4</ymax></bndbox></object></annotation>"
    )
    assert voc.parse_voc(xml.encode(), MEMBER) == [
        {"name": "scratch", "xmin": 1, "ymin": 2, "xmax": 3.5, "ymax": 4}
    ]
