"""Request checks for the embed and zero-shot services: every problem reported with its location."""

from __future__ import annotations

from typing import Any

from shopfloor.errors import InvalidInput

MAX_TEXTS = 256


def check_texts(texts: Any) -> list[str]:
    """A non-empty list of at most ``MAX_TEXTS`` non-blank strings; ``InvalidInput`` lists each fault."""
    if not isinstance(texts, list) or not texts:
        raise _invalid("texts must be a non-empty list of strings", ["body", "texts"], "empty or not a list")
    if len(texts) > MAX_TEXTS:
        raise _invalid(f"at most {MAX_TEXTS} texts per request, got {len(texts)}", ["body", "texts"],
                       f"more than {MAX_TEXTS} texts")
    errors = [{"loc": ["body", "texts", i], "msg": "text is empty or only whitespace"}
              for i, text in enumerate(texts) if not isinstance(text, str) or not text.strip()]
    if errors:
        raise InvalidInput(f"{len(errors)} text(s) are empty, blank or not strings", errors=errors)
    return texts


def check_labels(labels: Any) -> list[str]:
    """At least two distinct, non-blank label names."""
    if not isinstance(labels, list) or len(labels) < 2:
        raise _invalid("zero-shot needs at least two labels", ["body", "labels"], "fewer than 2 labels")
    errors: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for j, label in enumerate(labels):
        if not isinstance(label, str) or not label.strip():
            errors.append({"loc": ["body", "labels", j], "msg": "label is empty or only whitespace"})
            continue
        key = label.strip().casefold()
        if key in seen:
            msg = f"duplicate of label {seen[key]} ({label!r})"
            errors.append({"loc": ["body", "labels", j], "msg": msg})
        else:
            seen[key] = j
    if errors:
        raise InvalidInput("labels must be distinct, non-blank strings", errors=errors)
    return labels


def check_temperature(temperature: float) -> float:
    if not temperature > 0:
        raise _invalid("temperature must be positive", ["body", "temperature"], "must be > 0")
    return float(temperature)


def check_template(template: str) -> str:
    """A prompt with exactly the ``{label}`` placeholder and no other fields."""
    try:
        ok = "{label}" in template and template.format(label="x") is not None
    except (KeyError, IndexError, ValueError):
        ok = False
    if not ok:
        raise _invalid("template must contain {label} and no other fields", ["body", "template"],
                       "needs exactly the {label} placeholder")
    return template


def _invalid(detail: str, loc: list[Any], msg: str) -> InvalidInput:
    return InvalidInput(detail, errors=[{"loc": loc, "msg": msg}])
