from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from shopfloor.errors import InvalidInput
from shopfloor.hub import service

LABELS = ["engine", "bucket", "hydraulic system", "radiator"]


def _loc(raised: pytest.ExceptionInfo[InvalidInput]) -> list[list[Any]]:
    return [e["loc"] for e in raised.value.errors]


def test_embed_response_shape(hub_cache: Path) -> None:
    out = service.embed(["pump leaking", "engine will not start"], variant="int8", hub_dir=None,
                        cache_dir=hub_cache)
    assert out["model"] == "all-MiniLM-L6-v2" and out["variant"] == "int8" and out["dimension"] == 384
    vectors = np.asarray(out["embeddings"])
    assert vectors.shape == (2, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert out["warnings"] == []


def test_long_text_is_truncated_with_a_warning(hub_cache: Path) -> None:
    out = service.embed(["ok", "hydraulic " * 300], variant="onnx", hub_dir=None, cache_dir=hub_cache)
    assert len(out["embeddings"]) == 2
    assert [(w["code"], w["loc"]) for w in out["warnings"]] == [("text-truncated", ["body", "texts", 1])]


@pytest.mark.parametrize(("texts", "loc"), [
    ([], ["body", "texts"]),
    (["fine", "   "], ["body", "texts", 1]),
    (["", "fine"], ["body", "texts", 0]),
    (["x"] * 257, ["body", "texts"]),
])
def test_bad_texts_are_refused_with_their_location(texts: list[str], loc: list[Any], hub_cache: Path) -> None:
    with pytest.raises(InvalidInput) as raised:
        service.embed(texts, hub_dir=None, cache_dir=hub_cache)
    assert _loc(raised) == [loc]


def test_unknown_variant_is_refused(hub_cache: Path) -> None:
    with pytest.raises(InvalidInput) as raised:
        service.embed(["pump"], variant="bf16", hub_dir=None, cache_dir=hub_cache)
    assert _loc(raised) == [["body", "variant"]]


@pytest.mark.parametrize(("labels", "loc"), [
    (["engine"], ["body", "labels"]),
    ([], ["body", "labels"]),
    (["engine", "bucket", "Engine"], ["body", "labels", 2]),
    (["engine", " "], ["body", "labels", 1]),
    ([f"label {i}" for i in range(101)], ["body", "labels"]),
    (["engine", "x" * 201], ["body", "labels", 1]),
])
def test_bad_labels_are_refused(labels: list[str], loc: list[Any], hub_cache: Path) -> None:
    with pytest.raises(InvalidInput) as raised:
        service.zero_shot(["pump leaking"], labels, hub_dir=None, cache_dir=hub_cache)
    assert _loc(raised) == [loc]


@pytest.mark.parametrize(("template", "temperature", "loc"), [
    ("no placeholder", 0.05, ["body", "template"]),
    ("{label} of {part}", 0.05, ["body", "template"]),
    ("{label} {label:x>30000000}", 0.05, ["body", "template"]),
    ("{label!r}", 0.05, ["body", "template"]),
    ("{label.upper}", 0.05, ["body", "template"]),
    ("{label} {{braces}}", 0.05, ["body", "template"]),
    ("{label} }", 0.05, ["body", "template"]),
    ("{label}", 0.0, ["body", "temperature"]),
])
def test_bad_template_or_temperature_is_refused(template: str, temperature: float, loc: list[Any],
                                                hub_cache: Path) -> None:
    with pytest.raises(InvalidInput) as raised:
        service.zero_shot(["pump"], LABELS, hub_dir=None, cache_dir=hub_cache, template=template,
                          temperature=temperature)
    assert _loc(raised) == [loc]


def test_zero_shot_ranks_the_obvious_label_first(hub_cache: Path) -> None:
    texts = ["engine will not start, cranks but no fire", "bucket tooth broken off, replace teeth",
             "hydraulic oil leak at main control valve", "radiator core blocked, coolant overheating"]
    out = service.zero_shot(texts, LABELS, variant="int8", hub_dir=None, cache_dir=hub_cache)
    assert [r["ranking"][0]["label"] for r in out["results"]] == LABELS
    for result in out["results"]:
        ranking = result["ranking"]
        assert sum(r["score"] for r in ranking) == pytest.approx(1.0, abs=1e-6)
        cosines = [r["cosine"] for r in ranking]
        assert cosines == sorted(cosines, reverse=True) and -1 <= min(cosines) <= max(cosines) <= 1
        assert sorted(r["label"] for r in ranking) == sorted(LABELS)


def test_zero_shot_on_a_local_model(tiny_hub: Path, hub_cache: Path) -> None:
    out = service.zero_shot(["pump leak"], ["pump", "bucket"], model="tiny-st", hub_dir=tiny_hub,
                            cache_dir=hub_cache)
    assert out["model"] == "tiny-st" and len(out["results"][0]["ranking"]) == 2


def test_template_is_filled_literally() -> None:
    from shopfloor.hub.checks import fill

    assert fill("a {label} fault ({label})", "{0} pump") == "a {0} pump fault ({0} pump)"
