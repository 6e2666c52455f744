"""Fine-tuning a hub encoder with a classification head, on CPU with PyTorch.

The encoder (mean pooling, as the sentence-transformers model is used) and a linear head are
trained together for a few epochs with AdamW: a small learning rate for the pretrained
weights, a larger one for the head, class-balanced cross-entropy (binary cross-entropy per label
when multi-label). It costs minutes where the frozen candidates cost seconds, so
:func:`estimate_seconds` times a few real steps first and the estimator runs it only when the
data is large enough and the estimate fits the time budget.

Weights are stored as one safetensors file (float16, about 45 MB for MiniLM); the tokenizer and the
architecture come from the hub model, whose fingerprint the artifact records.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from shopfloor.errors import ArtifactCorrupted

WEIGHTS_FILE = "finetuned.safetensors"
EPOCHS = 3
BATCH = 32
MAX_TOKENS = 64
ENCODER_LR, HEAD_LR = 3e-5, 3e-3
#: Fewer training texts than this and fine-tuning is not tried (the frozen heads do as well).
MIN_ROWS = 1000


class FineTuned:
    """An encoder plus a linear head; ``fit`` trains both, ``predict_proba`` gives ``(n, n_classes)``."""

    def __init__(self, model_dir: Path, n_classes: int, multi_label: bool, seed: int = 0) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer

        self.n_classes, self.multi_label, self.seed = n_classes, multi_label, seed
        torch.manual_seed(seed)
        self.tokenizer = AutoTokenizer.from_pretrained(str(model_dir), use_fast=True)
        self.encoder = AutoModel.from_pretrained(str(model_dir))
        self.head = torch.nn.Linear(int(self.encoder.config.hidden_size), n_classes)

    def _embed(self, texts: list[str]) -> Any:

        batch = self.tokenizer(
            texts, padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt"
        )
        hidden = self.encoder(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)

    def _loss(self, y: np.ndarray) -> Callable[[Any, Any], Any]:
        import torch

        if self.multi_label:
            positive = y.sum(axis=0).clip(1, None)
            weight = torch.tensor((len(y) - positive) / positive, dtype=torch.float32).clamp(max=50)
            return torch.nn.BCEWithLogitsLoss(pos_weight=weight)
        counts = np.bincount(y, minlength=self.n_classes).clip(1, None)
        weight = torch.tensor(len(y) / (self.n_classes * counts), dtype=torch.float32)
        return torch.nn.CrossEntropyLoss(weight=weight)

    def fit(
        self,
        texts: list[str],
        embeddings: Any,
        y: np.ndarray,
        on_step: Callable[[int, int], None] | None = None,
        max_steps: int | None = None,
    ) -> FineTuned:
        """Train on ``texts`` (``y``: codes, or a 0/1 matrix when multi-label); ``on_step(done, total)``.
        ``embeddings`` is unused (the encoder itself learns); it keeps the candidates' signature."""
        import torch

        loss_fn = self._loss(y)
        optimizer = torch.optim.AdamW(
            [
                {"params": self.encoder.parameters(), "lr": ENCODER_LR},
                {"params": self.head.parameters(), "lr": HEAD_LR},
            ]
        )
        rng = np.random.default_rng(self.seed)
        per_epoch = (len(texts) + BATCH - 1) // BATCH
        total = min(per_epoch * EPOCHS, max_steps or per_epoch * EPOCHS)
        self.encoder.train()
        done = 0
        while done < total:
            order = rng.permutation(len(texts))
            for start in range(0, len(order), BATCH):
                rows = order[start : start + BATCH]
                logits = self.head(self._embed([texts[i] for i in rows]))
                target = torch.tensor(y[rows], dtype=torch.float32 if self.multi_label else torch.long)
                loss = loss_fn(logits, target)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                done += 1
                if on_step is not None:
                    on_step(done, total)
                if done >= total:
                    break
        self.encoder.eval()
        return self

    def predict_proba(self, texts: list[str], embeddings: Any = None) -> np.ndarray:
        import torch

        out = []
        with torch.inference_mode():
            for start in range(0, len(texts), 64):
                logits = self.head(self._embed(texts[start : start + 64]))
                out.append(torch.sigmoid(logits) if self.multi_label else torch.softmax(logits, dim=1))
        if not out:
            return np.zeros((0, self.n_classes))
        proba = torch.cat(out).double().numpy()
        # float32 softmax rows miss 1 by ~1e-7, more than scikit-learn's metrics accept
        return proba if self.multi_label else proba / proba.sum(axis=1, keepdims=True)

    def files(self) -> dict[str, bytes]:
        from safetensors.torch import save

        state = {f"encoder.{k}": v.detach().half().contiguous() for k, v in self.encoder.state_dict().items()}
        state.update({f"head.{k}": v.detach().contiguous() for k, v in self.head.state_dict().items()})
        return {WEIGHTS_FILE: save(state)}

    @classmethod
    def from_files(
        cls, files: Mapping[str, bytes], model_dir: Path, n_classes: int, multi_label: bool
    ) -> FineTuned:
        from safetensors.torch import load

        out = cls(model_dir, n_classes, multi_label)
        try:
            state = load(files[WEIGHTS_FILE])
            encoder = {k[len("encoder.") :]: v.float() for k, v in state.items() if k.startswith("encoder.")}
            head = {k[len("head.") :]: v for k, v in state.items() if k.startswith("head.")}
            out.encoder.load_state_dict(encoder, strict=True)
            out.head.load_state_dict(head, strict=True)
        except Exception as exc:  # safetensors and torch raise their own types for bad weights
            raise ArtifactCorrupted(f"fine-tuned text model cannot be read: {exc}") from exc
        out.encoder.eval()
        return out


def estimate_seconds(
    model_dir: Path, texts: list[str], n_fits: int, n_classes: int, multi_label: bool
) -> float:
    """Seconds to fine-tune ``n_fits`` times on ``texts``, from two timed steps after a warm-up."""
    probe = FineTuned(model_dir, n_classes, multi_label)
    sample = texts[: BATCH * 3]
    y = np.zeros((len(sample), n_classes), dtype=int) if multi_label else np.arange(len(sample)) % n_classes
    probe.fit(sample, None, y, max_steps=1)
    started = time.perf_counter()
    probe.fit(sample, None, y, max_steps=2)
    per_step = (time.perf_counter() - started) / 2
    steps = ((len(texts) + BATCH - 1) // BATCH) * EPOCHS
    return per_step * steps * n_fits
