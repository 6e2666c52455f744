"""Pascal-VOC annotation files (``<annotation><object><name>..<bndbox>..``) read into box lists.

Annotation files come from uploads, so a file that declares a DOCTYPE or an ENTITY is refused
before any parser sees it: entity expansion ("billion laughs") and external entities are the
classic XML attacks, and VOC files never need either. What passes is parsed by ``defusedxml``
(a dependency), which refuses any DTD, entity or external reference itself as a second guard.
"""

from __future__ import annotations

import math
from typing import Any
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from shopfloor.data.archive import member_error

BOX_KEYS = ("xmin", "ymin", "xmax", "ymax")


def parse_voc(data: bytes, member: str) -> list[dict[str, Any]]:
    """The boxes of one VOC file: ``[{"name", "xmin", "ymin", "xmax", "ymax"}]`` (pixels).

    Coordinates stay integers when they are whole numbers. Raises :class:`InvalidDataset` at
    ``["file", "members", member]``: not UTF-8, a DOCTYPE or ENTITY declaration, malformed XML,
    a root other than ``<annotation>``, an object without name or with a missing, non-numeric or
    inverted box coordinate.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise member_error(member, "annotation files must be UTF-8 XML") from None
    upper = text.upper()
    if "<!DOCTYPE" in upper or "<!ENTITY" in upper:
        raise member_error(member, "XML with a DOCTYPE or ENTITY declaration is refused (entity expansion)")
    try:
        root: Element = fromstring(text, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:  # reached only if the check above missed a declaration
        raise member_error(member, f"XML with a DTD or entity is refused (entity expansion): {exc}") from None
    except (ParseError, ValueError) as exc:
        raise member_error(member, f"not well-formed XML: {exc}") from None
    if root.tag != "annotation":
        raise member_error(member, f"not a Pascal VOC annotation (root element <{root.tag}>)")
    boxes = []
    for number, obj in enumerate(root.findall("object"), start=1):
        label = (obj.findtext("name") or "").strip()
        box = obj.find("bndbox")
        if not label or box is None:
            raise member_error(member, f"object {number} needs a <name> and a <bndbox>")
        coords = {key: _coordinate(box.findtext(key), key, number, member) for key in BOX_KEYS}
        if coords["xmax"] < coords["xmin"] or coords["ymax"] < coords["ymin"]:
            raise member_error(member, f"object {number} ({label}): xmax/ymax below xmin/ymin")
        boxes.append({"name": label, **coords})
    return boxes


def _coordinate(raw: str | None, key: str, number: int, member: str) -> int | float:
    try:
        value = float((raw or "").strip())
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise member_error(member, f"object {number}: <{key}> is {raw!r}, not a number")
    return int(value) if value.is_integer() else value
