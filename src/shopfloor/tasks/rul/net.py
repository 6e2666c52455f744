"""The sequence model of the RUL family: a small 1D CNN over the last ``window`` rows, CPU only.

Kept apart from the estimator (which splits, selects and calibrates) so that the network,
its training loop and its attributions can be read and tested on their own. The network
predicts RUL divided by ``scale`` (the target cap), which keeps the output near [0, 1].

Design notes, measured on C-MAPSS FD001: wide convolutions with a flattened head memorise
the training assets within a few epochs (sensor offsets identify an engine), so the
network is narrow, ends in a 4-channel convolution and uses tanh, dropout and weight
decay; fixed causal moving averages of the inputs are fed beside the raw values because
the sensors are noisy; a cosine learning-rate schedule makes the validation curve smooth
enough for early stopping on a handful of validation assets.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from shopfloor.threads import job_threads

#: Threads for training and inference: these small convolutions gain little beyond two cores.
MAX_THREADS = 2


@dataclass(frozen=True)
class NetConfig:
    """Architecture and optimisation settings (stored with the weights)."""

    n_inputs: int
    window: int
    smoothing: tuple[int, ...] = (5, 10)
    channels: int = 24
    kernel: int = 9
    layers: int = 3
    squeeze: int = 4
    hidden: int = 64
    dropout: float = 0.5
    lr: float = 1e-3
    weight_decay: float = 1e-4
    batch: int = 512
    patience: int = 8

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "smoothing": list(self.smoothing)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> NetConfig:
        return cls(**{**data, "smoothing": tuple(data["smoothing"])})


def moving_average(x: torch.Tensor, k: int) -> torch.Tensor:
    """Causal mean of the last ``k`` steps at each step of ``x`` (batch, time, inputs), partial at first."""
    total = torch.cumsum(x, dim=1)
    if x.shape[1] > k:
        head = torch.zeros_like(total[:, :k])
        total = total - torch.cat([head, total[:, :-k]], dim=1)
    count = torch.clamp(torch.arange(1, x.shape[1] + 1, dtype=x.dtype), max=k)
    return total / count[None, :, None]


class RulCnn(nn.Module):
    """Raw and smoothed inputs -> ``layers`` same-padded convolutions -> dense head on the flattened maps."""

    def __init__(self, config: NetConfig) -> None:
        super().__init__()
        self.smoothing = config.smoothing
        c_in = config.n_inputs * (1 + len(config.smoothing))
        mods: list[nn.Module] = []
        for _ in range(config.layers):
            mods += [nn.Conv1d(c_in, config.channels, config.kernel, padding="same"), nn.Tanh()]
            c_in = config.channels
        mods += [nn.Conv1d(c_in, config.squeeze, 3, padding="same"), nn.Tanh()]
        self.convs = nn.Sequential(*mods)
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(config.dropout),
            nn.Linear(config.squeeze * config.window, config.hidden),
            nn.Tanh(),
            nn.Linear(config.hidden, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: (batch, window, inputs) -> (batch,)."""
        x = torch.cat([x, *(moving_average(x, k) for k in self.smoothing)], dim=-1)
        return self.head(self.convs(x.transpose(1, 2))).squeeze(-1)


@contextmanager
def limited_threads() -> Iterator[None]:
    """Run torch on at most :data:`MAX_THREADS` threads (fewer if a job may use fewer), restoring the
    previous setting after."""
    before = torch.get_num_threads()
    torch.set_num_threads(min(before, MAX_THREADS, job_threads()))
    try:
        yield
    finally:
        torch.set_num_threads(before)


@dataclass
class TrainResult:
    model: RulCnn
    best_epoch: int
    epochs_run: int
    best_rmse: float
    stopped: str  # "early stopping", "max epochs" or "time budget"


#: ``on_epoch(epoch, max_epochs, validation_rmse)``; may raise to cancel.
EpochFn = Callable[[int, int, float], None]


def train_net(
    config: NetConfig,
    x_fit: np.ndarray,
    y_fit: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    *,
    scale: float,
    seed: int,
    max_epochs: int,
    deadline: float,
    on_epoch: EpochFn,
) -> TrainResult:
    """Adam on MSE with a cosine schedule and early stopping on the validation windows.

    Returns the weights of the epoch with the lowest validation RMSE (target units). Stops
    after ``config.patience`` epochs without improvement, after ``max_epochs``, or once
    ``time.monotonic()`` passes ``deadline`` (always after at least one epoch).
    """
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = RulCnn(config)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max_epochs)
    xf, yf = torch.from_numpy(x_fit), torch.from_numpy((y_fit / scale).astype(np.float32))
    best_rmse, best_epoch, best_state = math.inf, 0, _copy_state(model)
    stopped, epoch = "max epochs", 0
    for epoch in range(1, max_epochs + 1):
        model.train()
        for idx in torch.randperm(len(xf), generator=gen).split(config.batch):
            opt.zero_grad()
            nn.functional.mse_loss(model(xf[idx]), yf[idx]).backward()
            opt.step()
        schedule.step()
        rmse = float(np.sqrt(np.mean((predict_net(model, x_val, scale) - y_val) ** 2)))
        if rmse < best_rmse:
            best_rmse, best_epoch, best_state = rmse, epoch, _copy_state(model)
        on_epoch(epoch, max_epochs, rmse)
        if epoch - best_epoch >= config.patience:
            stopped = "early stopping"
            break
        if time.monotonic() > deadline and epoch < max_epochs:
            stopped = "time budget"
            break
    model.load_state_dict(best_state)
    model.eval()
    return TrainResult(model, best_epoch, epoch, best_rmse, stopped)


def _copy_state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def predict_net(model: RulCnn, x: np.ndarray, scale: float, batch: int = 4096) -> np.ndarray:
    """Predictions in target units for windows ``x`` (rows, window, inputs)."""
    model.eval()
    out = []
    with torch.no_grad():
        for start in range(0, len(x), batch):
            out.append(model(torch.from_numpy(np.ascontiguousarray(x[start : start + batch]))).numpy())
    return np.concatenate(out).astype(float) * scale if out else np.empty(0)


def integrated_gradients(
    model: RulCnn, x: np.ndarray, scale: float, steps: int = 64
) -> tuple[np.ndarray, float, np.ndarray]:
    """Integrated gradients against the all-zero window (the training mean, once scaled).

    Returns ``(attributions (rows, window, inputs), baseline output, outputs)`` in target
    units; the attributions add up to ``output - baseline`` up to the midpoint-rule error.
    """
    model.eval()
    inputs = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    grads = torch.zeros_like(inputs)
    for a in (torch.arange(steps, dtype=torch.float32) + 0.5) / steps:
        point = (a * inputs).requires_grad_(True)
        (grad,) = torch.autograd.grad(model(point).sum(), point)
        grads += grad
    with torch.no_grad():
        base = float(model(torch.zeros((1, *inputs.shape[1:]))).item()) * scale
        out = model(inputs).numpy().astype(float) * scale
    return (inputs * grads / steps).numpy().astype(float) * scale, base, out


def train_bag(
    config: NetConfig,
    x_fit: np.ndarray,
    y_fit: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    *,
    scale: float,
    seeds: list[int],
    max_epochs: int,
    deadline: float,
    on_epoch: Callable[[int, int, int, float], None],
) -> tuple[list[RulCnn], list[dict[str, Any]]]:
    """One network per seed (initialisation and batch order), sharing the time left until ``deadline``.

    The first network always trains; a later one starts only while time is left. Returns the
    networks and per network its best epoch, epochs run, stop reason and validation RMSE.
    ``on_epoch(network_index, epoch, max_epochs, validation_rmse)``.
    """
    models, runs = [], []
    with limited_threads():
        for j, seed in enumerate(seeds):
            if j and time.monotonic() > deadline:
                break
            own_end = time.monotonic() + max(0.0, deadline - time.monotonic()) / (len(seeds) - j)

            def epoch_done(epoch: int, n: int, rmse: float, j: int = j) -> None:
                on_epoch(j, epoch, n, rmse)

            res = train_net(config, x_fit, y_fit, x_val, y_val, scale=scale, seed=seed, max_epochs=max_epochs,
                            deadline=own_end, on_epoch=epoch_done)
            models.append(res.model)
            runs.append({"best_epoch": res.best_epoch, "epochs_run": res.epochs_run, "stopped": res.stopped,
                         "validation_rmse": round(res.best_rmse, 4)})
    return models, runs


def bag_predict(models: list[RulCnn], x: np.ndarray, scale: float) -> np.ndarray:
    """The networks' mean prediction (target units) for windows ``x``."""
    with limited_threads():
        return np.mean([predict_net(m, x, scale) for m in models], axis=0)


def bag_attributions(models: list[RulCnn], x: np.ndarray, scale: float) -> tuple[np.ndarray, ...]:
    """Mean integrated gradients per input, summed over the window: ``(base (n,), per input (n, inputs),
    output (n,))`` with ``base + per input summed ~= output``."""
    with limited_threads():
        runs = [integrated_gradients(m, x, scale) for m in models]
    base = np.full(len(x), np.mean([r[1] for r in runs]))
    return base, np.mean([r[0].sum(axis=1) for r in runs], axis=0), np.mean([r[2] for r in runs], axis=0)


def bag_bytes(models: list[RulCnn]) -> bytes:
    """The networks' weights as one safetensors file (keys prefixed ``m{i}.``)."""
    from safetensors.torch import save

    tensors = {f"m{i}.{k}": v.contiguous() for i, m in enumerate(models) for k, v in m.state_dict().items()}
    return save(tensors)


def bag_from_bytes(config: NetConfig, data: bytes, count: int) -> list[RulCnn]:
    """The networks saved by :func:`bag_bytes`; raises ``ValueError`` for damaged or mismatched weights."""
    from safetensors.torch import load

    try:
        tensors = load(data)
        models = []
        for i in range(count):
            prefix = f"m{i}."
            model = RulCnn(config)
            model.load_state_dict({k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)})
            model.eval()
            models.append(model)
    except Exception as exc:  # safetensors and torch raise their own error types for bad weights
        raise ValueError(f"the network weights cannot be read: {exc}") from exc
    return models
