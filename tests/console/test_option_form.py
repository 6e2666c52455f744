"""Option forms come from each family's option model: every field has a control, and what a
form sends back is what the model accepts (defaults, numbers, choices), or a 422 at the option."""

from __future__ import annotations

import pytest

from shopfloor.console.option_form import PREFIX, fields, parse
from shopfloor.errors import InvalidInput
from shopfloor.tasks import catalog

TRAINABLE = catalog.tasks_where(lambda c: c.trainable)
KINDS = {"number", "integer", "boolean", "choice", "choices", "list", "text", "string", "json"}


@pytest.mark.parametrize("task", TRAINABLE)
def test_every_option_has_a_control_and_its_default_round_trips(task: str) -> None:
    model = catalog.option_model(task)
    assert model is not None
    found = fields(model)
    assert [f.name for f in found] == list(model.model_fields)
    for f in found:
        assert f.kind in KINDS and f.title and f.help, f
    # the form as first shown: every field left empty, so every default applies
    assert parse(model, {}) == {}
    # every default typed back in is accepted by the model
    typed = {}
    for f in found:
        if f.kind == "choices":
            typed[f.input_name] = list(f.default or [])
        elif f.default is not None:
            typed[f.input_name] = [f.default_text]
    options = parse(model, typed)
    model(**options)


def test_values_are_typed_and_bad_ones_refused_at_their_option() -> None:
    model = catalog.option_model("rul")
    options = parse(
        model,
        {
            PREFIX + "window": ["20"],
            PREFIX + "cap": ["none"],
            PREFIX + "candidates": ["lightgbm", "cnn"],
        },
    )
    assert options == {"window": 20, "cap": None, "candidates": ["lightgbm", "cnn"]}
    model(**options)
    with pytest.raises(InvalidInput) as caught:
        parse(model, {PREFIX + "window": ["twenty"]})
    assert caught.value.errors[0]["loc"] == ["body", "options", "window"]
