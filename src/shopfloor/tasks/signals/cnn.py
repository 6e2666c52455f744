"""A small 1D convolutional network on the log spectra of windows, trained on CPU within a deadline;
weights saved as safetensors."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

BINS = 256


def _torch() -> Any:
    import torch

    torch.set_num_threads(1)  # the server shares its cores; one model trains on one
    return torch


def build(channels: int, n_classes: int) -> Any:
    torch = _torch()
    nn = torch.nn
    return nn.Sequential(
        nn.Conv1d(channels, 16, 7, stride=2, padding=3),
        nn.BatchNorm1d(16),
        nn.ReLU(),
        nn.Conv1d(16, 32, 5, stride=2, padding=2),
        nn.BatchNorm1d(32),
        nn.ReLU(),
        nn.Conv1d(32, 32, 5, stride=2, padding=2),
        nn.BatchNorm1d(32),
        nn.ReLU(),
        nn.AdaptiveAvgPool1d(1),
        nn.Flatten(),
        nn.Dropout(0.2),
        nn.Linear(32, n_classes),
    )


class SpectrumNet:
    """``fit(x, y, deadline)`` on (windows, channels, BINS) log spectra; ``proba(x)``."""

    def __init__(self, n_classes: int, max_epochs: int, seed: int = 0) -> None:
        self.n_classes, self.max_epochs, self.seed = n_classes, max_epochs, seed

    def fit(self, x: np.ndarray, y: np.ndarray, deadline: float) -> SpectrumNet:
        torch = _torch()
        torch.manual_seed(self.seed)
        self.mean_ = x.mean(axis=0, keepdims=True)
        self.scale_ = x.std(axis=0, keepdims=True) + 1e-6
        self.net_ = build(x.shape[1], self.n_classes)
        xs = torch.from_numpy(((x - self.mean_) / self.scale_).astype(np.float32))
        ys = torch.from_numpy(y.astype(np.int64))
        opt = torch.optim.Adam(self.net_.parameters(), lr=3e-3, weight_decay=1e-4)
        loss_fn = torch.nn.CrossEntropyLoss()
        rng = np.random.default_rng(self.seed)
        self.epochs_ = 0
        for _ in range(self.max_epochs):
            if time.perf_counter() > deadline and self.epochs_:
                break
            self.net_.train()
            for batch in np.array_split(rng.permutation(len(xs)), max(1, len(xs) // 64)):
                opt.zero_grad()
                loss = loss_fn(self.net_(xs[batch]), ys[batch])
                loss.backward()
                opt.step()
            self.epochs_ += 1
        self.net_.eval()
        return self

    def proba(self, x: np.ndarray) -> np.ndarray:
        torch = _torch()
        with torch.no_grad():
            xs = torch.from_numpy(((x - self.mean_) / self.scale_).astype(np.float32))
            return torch.softmax(self.net_(xs), dim=1).numpy().astype(np.float64)

    def save(self) -> tuple[bytes, dict[str, Any]]:
        from safetensors.torch import save

        torch = _torch()
        state = {k: v.contiguous() for k, v in self.net_.state_dict().items()}
        state["_mean"] = torch.from_numpy(self.mean_.astype(np.float32))
        state["_scale"] = torch.from_numpy(self.scale_.astype(np.float32))
        return save(state), {
            "n_classes": self.n_classes,
            "channels": int(self.mean_.shape[1]),
            "epochs": self.epochs_,
        }

    @classmethod
    def load(cls, data: bytes, meta: dict[str, Any]) -> SpectrumNet:
        from safetensors.torch import load

        _torch()
        state = load(bytes(data))
        net = cls(int(meta["n_classes"]), 0)
        net.mean_, net.scale_ = state.pop("_mean").numpy(), state.pop("_scale").numpy()
        net.net_ = build(int(meta["channels"]), net.n_classes)
        net.net_.load_state_dict(state, strict=True)
        net.net_.eval()
        net.epochs_ = int(meta.get("epochs", 0))
        return net
