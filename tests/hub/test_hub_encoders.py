from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from shopfloor.errors import InvalidInput, NotFound
from shopfloor.hub.catalog import BUILTIN_NAME
from shopfloor.hub.encoders import get_encoder

PARTS = ["hydraulic pump", "boom cylinder", "engine oil cooler", "bucket teeth", "fuel filter",
         "track tensioner", "radiator hose", "swing motor", "air filter", "turbocharger"]
FAULTS = ["{} leaking oil", "replace worn {}", "{} making loud noise", "check and repair {}",
          "{} overheating during shift"]
SENTENCES = [fault.format(part) for part in PARTS for fault in FAULTS]


def _mean_cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(np.sum(a * b, axis=1)))


@pytest.fixture(scope="module")
def reference(hub_cache: Path) -> np.ndarray:
    return get_encoder(BUILTIN_NAME, "torch", None, hub_cache).embed(SENTENCES)


def test_builtin_embeds_unit_vectors_offline(reference: np.ndarray) -> None:
    assert reference.shape == (50, 384) and reference.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(reference, axis=1), 1.0, atol=1e-5)


def test_similar_sentences_are_closer_than_unrelated_ones(hub_cache: Path) -> None:
    texts = ["hydraulic hose is leaking oil", "oil leak from the hydraulic line",
             "operator cab door glass cracked"]
    v = get_encoder(BUILTIN_NAME, "torch", None, hub_cache).embed(texts)
    assert v[0] @ v[1] > v[0] @ v[2] + 0.2


@pytest.mark.parametrize("variant", ["onnx", "int8"])
def test_onnx_variants_agree_with_torch(variant: str, hub_cache: Path, reference: np.ndarray) -> None:
    vectors = get_encoder(BUILTIN_NAME, variant, None, hub_cache).embed(SENTENCES, batch_size=16)
    assert vectors.shape == reference.shape and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert _mean_cosine(vectors, reference) >= (0.9999 if variant == "onnx" else 0.99)


def test_exported_graphs_are_written_once_and_reused(hub_cache: Path) -> None:
    get_encoder(BUILTIN_NAME, "int8", None, hub_cache)
    graphs = sorted(p.name for p in hub_cache.rglob("*.onnx"))
    assert "model.onnx" in graphs and "model-int8.onnx" in graphs
    assert not [p for p in hub_cache.rglob(".*")], "temporary export files were left behind"


def test_truncated_texts_are_reported(hub_cache: Path) -> None:
    encoder = get_encoder(BUILTIN_NAME, "onnx", None, hub_cache)
    vectors, truncated = encoder.embed_checked(["short text", "pump " * 400, "another short one"])
    assert truncated == [1] and vectors.shape == (3, 384)


def test_batch_size_does_not_change_results(hub_cache: Path) -> None:
    encoder = get_encoder(BUILTIN_NAME, "onnx", None, hub_cache)
    np.testing.assert_allclose(encoder.embed(SENTENCES[:9], batch_size=1), encoder.embed(SENTENCES[:9]),
                               atol=1e-5)


def test_concurrent_first_use_loads_one_encoder(tiny_hub: Path, hub_cache: Path) -> None:
    found: list[object] = []
    threads = [threading.Thread(target=lambda: found.append(get_encoder("tiny-plain", "torch", tiny_hub,
                                                                        hub_cache))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(found) == 4 and all(e is found[0] for e in found)


@pytest.mark.parametrize("name", ["tiny-st", "tiny-plain"])
def test_local_tiny_model_embeds_in_every_variant(name: str, tiny_hub: Path, hub_cache: Path) -> None:
    texts = ["pump leak", "replace the oil filter", "bucket tooth broken on the engine"]
    torch_vectors = get_encoder(name, "torch", tiny_hub, hub_cache).embed(texts)
    assert torch_vectors.shape == (3, 32)
    for variant in ("onnx", "int8"):
        vectors = get_encoder(name, variant, tiny_hub, hub_cache).embed(texts)
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
        assert _mean_cosine(vectors, torch_vectors) > 0.95


def test_unknown_model_and_variant_are_refused(hub_cache: Path) -> None:
    with pytest.raises(NotFound):
        get_encoder("no-such-model", "torch", None, hub_cache)
    with pytest.raises(InvalidInput) as raised:
        get_encoder(BUILTIN_NAME, "fp16", None, hub_cache)
    assert raised.value.errors[0]["loc"] == ["body", "variant"]
