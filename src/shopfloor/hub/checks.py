"""Request checks for the embed and zero-shot services: every problem reported with its location."""

from __future__ import annotations

from typing import Any

from shopfloor.errors import InvalidInput

MAX_TEXTS = 256
#: Zero-shot embeds every label once per request: the labels and their lengths bound that work.
MAX_LABELS = 100
MAX_LABEL_CHARS = 200
PLACEHOLDER = "{label}"


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
    if len(labels) > MAX_LABELS:
        raise _invalid(f"at most {MAX_LABELS} labels per request, got {len(labels)}", ["body", "labels"],
                       f"more than {MAX_LABELS} labels")
    errors: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for j, label in enumerate(labels):
        if not isinstance(label, str) or not label.strip():
            errors.append({"loc": ["body", "labels", j], "msg": "label is empty or only whitespace"})
            continue
        if len(label) > MAX_LABEL_CHARS:
            errors.append({"loc": ["body", "labels", j], "msg": f"longer than {MAX_LABEL_CHARS} characters"})
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


def check_template(template: Any) -> str:
    """A phrase with the bare ``{label}`` placeholder, once or more, and no other braces.

    The template is never given to ``str.format`` (a format spec such as ``{label:x>30000000}``
    would build a 30 MB string per label): :func:`fill` replaces the placeholder literally, so
    anything else in braces (fields, specs, conversions, indexing, literal braces) is refused.
    """
    if not isinstance(template, str) or PLACEHOLDER not in template:
        raise _invalid("template must contain the {label} placeholder", ["body", "template"],
                       "needs the {label} placeholder")
    rest = template.replace(PLACEHOLDER, "")
    if "{" in rest or "}" in rest:
        raise _invalid("template may hold only the bare {label} placeholder: no other fields, format specs "
                       "or braces", ["body", "template"], "only {label} may appear in braces")
    return template


def fill(template: str, label: str) -> str:
    """The template with each ``{label}`` replaced by ``label`` (a literal replacement, no formatting)."""
    return template.replace(PLACEHOLDER, label)


def _invalid(detail: str, loc: list[Any], msg: str) -> InvalidInput:
    return InvalidInput(detail, errors=[{"loc": loc, "msg": msg}])
