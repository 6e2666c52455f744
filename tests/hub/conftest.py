"""Fixtures for the pretrained-model hub: one ONNX cache per run and a tiny model built from scratch."""

from __future__ import annotations

from pathlib import Path

import pytest

WORDS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "pump", "leak", "engine", "oil", "bucket", "hose",
         "replace", "filter", "tooth", "broken", "the", "on"]


@pytest.fixture(scope="session")
def hub_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Shared across the run so each ONNX graph is exported once."""
    return tmp_path_factory.mktemp("hub-cache")


@pytest.fixture(scope="session")
def tiny_hub(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A hub folder with a saved sentence-transformers model (``tiny-st``, MIT card), a plain transformers
    checkpoint (``tiny-plain``, no card) and a folder without a config that must be ignored."""
    import torch
    from sentence_transformers import SentenceTransformer, models
    from transformers import BertConfig, BertModel, BertTokenizer

    root = tmp_path_factory.mktemp("tiny")
    vocab = root / "vocab.txt"
    vocab.write_text("\n".join(WORDS) + "\n")
    hub = root / "hub"
    plain = hub / "tiny-plain"
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(WORDS), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64)
    BertModel(config).save_pretrained(plain)
    BertTokenizer(vocab_file=str(vocab)).save_pretrained(plain)
    modules = [models.Transformer(str(plain)), models.Pooling(32, "mean")]
    st = SentenceTransformer(modules=modules, device="cpu")
    st.save(str(hub / "tiny-st"))
    (hub / "tiny-st" / "README.md").write_text("---\nlanguage: en\nlicense: mit\n---\n# tiny\n")
    (hub / "notes").mkdir()
    (hub / "notes" / "README.md").write_text("not a model\n")
    return hub
