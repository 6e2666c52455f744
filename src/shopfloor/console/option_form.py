"""A family's option model as form fields, and a submitted form back to options.

Everything comes from the pydantic model's JSON schema (title, help, default, bounds, choices), so
a new family's options appear in the console with no change here. An empty field means "the
default"; the job service then validates the options exactly as it does for the API.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from shopfloor.errors import InvalidInput

#: Form field name prefix of the options.
PREFIX = "option."


@dataclass(frozen=True)
class OptionField:
    """One option as a form control: ``kind`` is number, integer, boolean, choice, choices, list,
    text or json."""

    name: str
    title: str
    help: str
    kind: str
    default: Any
    nullable: bool
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    attrs: dict[str, Any] = field(default_factory=dict)

    @property
    def input_name(self) -> str:
        return PREFIX + self.name

    @property
    def default_text(self) -> str:
        if self.default is None:
            return "none" if self.nullable else ""
        if isinstance(self.default, list | dict):
            return json.dumps(self.default)
        return str(self.default).lower() if isinstance(self.default, bool) else str(self.default)


def _branch(prop: Mapping[str, Any]) -> tuple[Mapping[str, Any], bool]:
    """The non-null branch of a property and whether null is allowed."""
    options = prop.get("anyOf")
    if not options:
        return prop, prop.get("type") == "null"
    kept = [o for o in options if o.get("type") != "null"]
    return (kept[0] if len(kept) == 1 else {"type": "json"}), len(kept) < len(options)


def _kind(branch: Mapping[str, Any]) -> tuple[str, tuple[str, ...]]:
    kind = branch.get("type")
    if "enum" in branch:
        return "choice", tuple(str(v) for v in branch["enum"])
    if kind == "array":
        items = branch.get("items") or {}
        if "enum" in items:
            return "choices", tuple(str(v) for v in items["enum"])
        return ("list", ()) if items.get("type") in ("string", "number", "integer") else ("json", ())
    if kind in ("number", "integer", "boolean", "string"):
        return str(kind), ()
    return "json", ()


def fields(model: type[BaseModel] | None) -> list[OptionField]:
    """The form fields of ``model``'s options, in declaration order."""
    if model is None:
        return []
    schema = model.model_json_schema()
    out = []
    for name, prop in (schema.get("properties") or {}).items():
        branch, nullable = _branch(prop)
        kind, choices = _kind(branch)
        low = branch.get("minimum", branch.get("exclusiveMinimum"))
        high = branch.get("maximum", branch.get("exclusiveMaximum"))
        out.append(
            OptionField(
                name=name,
                title=str(prop.get("title") or name),
                help=str(prop.get("description") or ""),
                kind=kind,
                default=prop.get("default"),
                nullable=nullable,
                choices=choices,
                minimum=low,
                maximum=high,
            )
        )
    return out


def _bad(name: str, msg: str) -> InvalidInput:
    return InvalidInput(f"option {name!r}: {msg}", errors=[{"loc": ["body", "options", name], "msg": msg}])


def _scalar(f: OptionField, text: str, kind: str) -> Any:
    try:
        if kind == "integer":
            return int(text)
        if kind == "number":
            return float(text)
    except ValueError:
        raise _bad(f.name, f"{text!r} is not a {'whole ' if kind == 'integer' else ''}number") from None
    return text


def _value(f: OptionField, raw: list[str]) -> Any:
    texts = [r.strip() for r in raw if r.strip()]
    if f.kind == "choices":
        return texts or None
    if not texts:
        return None
    text = texts[0]
    if f.nullable and text.lower() == "none":
        return "none"
    if f.kind == "boolean":
        if text not in ("true", "false"):
            raise _bad(f.name, "choose yes or no")
        return text == "true"
    if f.kind in ("integer", "number"):
        return _scalar(f, text, f.kind)
    if f.kind == "list":
        return [t.strip() for t in text.split(",") if t.strip()]
    if f.kind == "json":
        try:
            return json.loads(text)
        except ValueError as exc:
            raise _bad(f.name, f"not valid JSON: {exc}") from None
    return text


def parse(model: type[BaseModel] | None, form: Mapping[str, list[str]]) -> dict[str, Any]:
    """The options a submitted form sets (``form``: field name -> its values); fields left empty
    are left out, so the family's defaults apply. ``none`` sets a nullable option to null."""
    options: dict[str, Any] = {}
    for f in fields(model):
        value = _value(f, form.get(f.input_name, []))
        if value is None:
            continue
        options[f.name] = None if value == "none" and f.nullable else value
    return options
