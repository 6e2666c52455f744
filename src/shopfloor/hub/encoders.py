"""Text encoders for the catalog's models: sentence-transformers on torch, or ONNX Runtime (fp32 / int8).

Every variant tokenises with the model's own fast tokenizer, truncates at ``MAX_TOKENS`` and returns
float32, L2-normalised rows. Loaded encoders are kept for the life of the process, one per
(model, variant, folders), because loading and the first ONNX export cost seconds.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

import numpy as np

from shopfloor.errors import InvalidInput
from shopfloor.hub.catalog import ALL_VARIANTS, ModelEntry, find_model, fingerprint

# set before transformers is first imported, so a missing file fails fast instead of downloading
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

MAX_TOKENS = 256
ORT_THREADS = 2


class Encoder(ABC):
    """Turns texts into unit-length float32 vectors; subclasses supply ``_embed_all``."""

    def __init__(self, entry: ModelEntry, variant: str) -> None:
        from transformers import AutoTokenizer

        self.name, self.variant, self.dimension = entry.name, variant, entry.dimension
        self.fingerprint = fingerprint(entry.path)
        self.max_tokens = min(MAX_TOKENS, _max_positions(entry.path))
        self._tokenizer = AutoTokenizer.from_pretrained(str(entry.path), use_fast=True)
        # the Rust tokenizer's truncation settings are shared state: one caller at a time
        self._tokenizer_lock = threading.Lock()

    def embed(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        """Shape (len(texts), dimension) float32, each row of unit length."""
        return self.embed_checked(texts, batch_size)[0]

    def embed_checked(self, texts: list[str], batch_size: int = 64) -> tuple[np.ndarray, list[int]]:
        """The embeddings and the indices of texts cut at ``max_tokens`` tokens."""
        vectors, truncated, _ = self.embed_counted(texts, batch_size)
        return vectors, truncated

    def embed_counted(
        self, texts: list[str], batch_size: int = 64
    ) -> tuple[np.ndarray, list[int], list[int]]:
        """As :meth:`embed_checked`, with the number of tokens the model read of each text (after
        the cut, the tokenizer's special tokens included)."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32), [], []
        with self._tokenizer_lock:
            encoded = self._tokenizer(texts, truncation=True, max_length=self.max_tokens)
        encodings = encoded.encodings
        truncated = [i for i, enc in enumerate(encodings) if enc.overflowing]
        tokens = [len(enc.ids) for enc in encodings]
        vectors = self._embed_all(texts, encodings, max(1, batch_size))
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return (vectors / np.maximum(norms, 1e-12)).astype(np.float32), truncated, tokens

    @abstractmethod
    def _embed_all(self, texts: list[str], encodings: list[Any], batch_size: int) -> np.ndarray:
        """Raw (possibly unnormalised) vectors for all ``texts`` in input order."""


class TorchEncoder(Encoder):
    """The reference: the sentence-transformers pipeline exactly as the model was saved."""

    def __init__(self, entry: ModelEntry, variant: str) -> None:
        super().__init__(entry, variant)
        from sentence_transformers import SentenceTransformer

        self._model = SentenceTransformer(str(entry.path), device="cpu")
        self._model.max_seq_length = self.max_tokens

    def _embed_all(self, texts: list[str], encodings: list[Any], batch_size: int) -> np.ndarray:
        out = self._model.encode(texts, batch_size=batch_size, convert_to_numpy=True,
                                 normalize_embeddings=True, show_progress_bar=False)
        return np.asarray(out, dtype=np.float32)


class OnnxEncoder(Encoder):
    """The exported graph on ONNX Runtime; batches group texts of similar length to limit padding."""

    def __init__(self, entry: ModelEntry, variant: str, cache_dir: Path) -> None:
        super().__init__(entry, variant)
        import onnxruntime as ort

        from shopfloor.hub.export import onnx_path

        options = ort.SessionOptions()
        options.intra_op_num_threads = ORT_THREADS
        options.inter_op_num_threads = 1
        path = onnx_path(entry.path, entry.name, cache_dir, variant)
        self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self._inputs = [i.name for i in self._session.get_inputs()]
        self._pad = int(self._tokenizer.pad_token_id or 0)

    def _embed_all(self, texts: list[str], encodings: list[Any], batch_size: int) -> np.ndarray:
        order = np.argsort([len(enc.ids) for enc in encodings], kind="stable")
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            rows = order[start:start + batch_size]
            out[rows] = self._session.run(None, self._feed([encodings[i] for i in rows]))[0]
        return out

    def _feed(self, batch: list[Any]) -> dict[str, np.ndarray]:
        width = max(len(enc.ids) for enc in batch)
        ids = np.full((len(batch), width), self._pad, dtype=np.int64)
        mask = np.zeros((len(batch), width), dtype=np.int64)
        types = np.zeros((len(batch), width), dtype=np.int64)
        for row, enc in enumerate(batch):
            n = len(enc.ids)
            ids[row, :n], mask[row, :n], types[row, :n] = enc.ids, enc.attention_mask, enc.type_ids
        arrays = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        return {name: arrays[name] for name in self._inputs}


# Where models trained on embeddings find their encoder when they are loaded outside a request
# (a model artifact names its encoder, not a folder); the platform sets this from its settings.
_LOCATIONS: dict[str, Path | None] = {
    "hub_dir": None,
    "cache_dir": Path(tempfile.gettempdir()) / f"shopfloor-hub-cache-{os.getuid()}",
}


def configure(hub_dir: Path | None, cache_dir: Path) -> None:
    """Set the hub folder and ONNX cache that :func:`default_encoder` uses in this process."""
    _LOCATIONS["hub_dir"], _LOCATIONS["cache_dir"] = hub_dir, cache_dir


def default_encoder(name: str, variant: str) -> Encoder:
    """:func:`get_encoder` with the process's configured folders (see :func:`configure`)."""
    cache_dir = _LOCATIONS["cache_dir"]
    assert cache_dir is not None
    return get_encoder(name, variant, _LOCATIONS["hub_dir"], cache_dir)


def default_entry(name: str) -> ModelEntry:
    """The catalog entry of ``name`` in the process's configured hub folder (``NotFound`` if none)."""
    return find_model(name, _LOCATIONS["hub_dir"])


_CACHE: dict[tuple[str, str, str, str], Encoder] = {}
_LOCKS: dict[tuple[str, str, str, str], threading.Lock] = {}
_GUARD = threading.Lock()


def get_encoder(name: str, variant: str, hub_dir: Path | None, cache_dir: Path) -> Encoder:
    """The process-wide encoder for ``name`` / ``variant``, loaded (and exported) on first use.

    Raises ``NotFound`` for an unknown model and ``InvalidInput`` for a variant the model does not offer.
    Concurrent first calls for the same key load once; different keys load in parallel.
    """
    if variant not in ALL_VARIANTS:
        raise InvalidInput(f"unknown variant {variant!r}; choose one of {', '.join(ALL_VARIANTS)}",
                           errors=[{"loc": ["body", "variant"], "msg": f"unknown variant {variant!r}"}])
    key = (name, variant, str(hub_dir), str(cache_dir))
    with _GUARD:
        found = _CACHE.get(key)
        if found is not None:
            return found
        lock = _LOCKS.setdefault(key, threading.Lock())
    with lock:
        found = _CACHE.get(key)
        if found is None:
            found = _load(find_model(name, hub_dir), variant, cache_dir)
            with _GUARD:
                _CACHE[key] = found
    return found


def _load(entry: ModelEntry, variant: str, cache_dir: Path) -> Encoder:
    if variant not in entry.variants:
        offered = ", ".join(entry.variants)
        raise InvalidInput(f"model {entry.name!r} offers variants {offered}, not {variant!r}",
                           errors=[{"loc": ["body", "variant"], "msg": f"not offered by {entry.name!r}"}])
    if variant == "torch":
        return TorchEncoder(entry, variant)
    return OnnxEncoder(entry, variant, cache_dir)


def _max_positions(model_dir: Path) -> int:
    try:
        config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return MAX_TOKENS
    return int(config.get("max_position_embeddings") or MAX_TOKENS)
