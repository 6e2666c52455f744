"""Training the image classification network on CPU, and exporting it for serving.

:func:`train_network` runs one training: AdamW with a linear warm-up then cosine learning rate
(fitted to the time budget after the first epoch, so a run cut short still anneals), label
smoothing, inspection augmentations (:mod:`.augment`), BatchNorm momentum suited
to the data size, early stopping on the validation rows; a pretrained backbone's layers learn at
:data:`PRETRAINED_LR_SCALE` of the new head's rate. :func:`export_onnx` writes the network with a
softmax on top as ONNX for ONNX Runtime.
"""

from __future__ import annotations

import io
import math
import os
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from shopfloor.evaluation import metrics as M
from shopfloor.tasks.base import ProgressFn
from shopfloor.tasks.image_classification.labelled import note, splits
from shopfloor.threads import job_threads

THREADS = 2
LEARNING_RATE, WEIGHT_DECAY, LABEL_SMOOTHING, WARMUP = 3e-3, 5e-4, 0.1, 0.1
#: Pretrained layers learn at this share of the head's rate.
PRETRAINED_LR_SCALE = 0.1


@dataclass(frozen=True)
class RunSettings:
    """The schedule of a training run and the pretrained weights it starts from (if any)."""

    max_epochs: int
    patience: int
    batch_size: int
    backbone: dict[str, np.ndarray] | None = None
    backbone_name: str | None = None


def threads() -> int:
    """Torch threads for training: THREADS, or one when the machine is already busy. OpenMP threads
    wait for each other by spinning, so on cores that other processes hold, a step with two threads
    runs several times slower than with one."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return 1 if os.getloadavg()[0] > max(1.0, cores - 0.5) else min(THREADS, job_threads())


def torch_module(n_threads: int | None = None) -> Any:
    import torch

    if n_threads is not None:
        torch.set_num_threads(n_threads)
    elif torch.get_num_threads() > THREADS:
        torch.set_num_threads(THREADS)
    return torch


def train_network(
    x: np.ndarray,
    y: np.ndarray,
    tr: np.ndarray,
    va: np.ndarray,
    *,
    arch: dict[str, Any],
    run: RunSettings,
    seed: int,
    deadline: float,
    metric: str,
    progress: ProgressFn,
    span: tuple[float, float],
) -> dict[str, Any]:
    """One training run on rows ``tr`` (8-bit pixels ``x``, class codes ``y``), epochs picked on
    rows ``va``: the best epoch's network, its learning curve and how it stopped."""
    torch = torch_module()
    from shopfloor.tasks.image_classification.augment import Augment

    started = time.perf_counter()
    torch.manual_seed(seed)
    net, backbone, opt = _build_network(arch, run)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=LABEL_SMOOTHING)
    augment, generator = Augment(), torch.Generator().manual_seed(seed)
    batch = int(min(run.batch_size, len(tr)))
    steps_per_epoch = max(1, len(tr) // batch)  # the short tail batch is dropped (BatchNorm)
    _settle_batch_norm(net, steps_per_epoch)
    planned, step = int(run.max_epochs), 0
    notes: list[dict[str, Any]] = []
    greater = M.greater_is_better(metric)
    best: tuple[float, float] | None = None
    best_state, best_epoch, since, stopped = None, 0, 0, "max-epochs"
    curve: list[dict[str, float]] = []
    epoch = 0
    while epoch < planned:
        epoch += 1
        epoch_started = time.perf_counter()
        total, step = _train_epoch(
            net, opt, loss_fn, augment, generator, xt, yt, tr, batch, steps_per_epoch, step, planned
        )
        val_loss, val, val_acc = _validate(net, x, y, va, metric)
        curve.append(_curve_point(epoch, total / (steps_per_epoch * batch), val_loss, val_acc, metric, val))
        key = (val if greater else -val, -val_loss)
        if best is None or key > best:
            best, best_epoch, since = key, epoch, 0
            best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
        else:
            since += 1
        lo, hi = span
        progress(
            lo + (hi - lo) * epoch / planned,
            "training",
            f"seed {seed}, epoch {epoch}/{planned}: loss {curve[-1]['loss']:.4f}, val acc {val_acc:.4f}",
        )
        left = deadline - time.perf_counter()
        if epoch == 1 and planned > 1:
            planned = _fit_schedule(planned, left, time.perf_counter() - epoch_started, run, notes)
        reason = _stop_reason(since >= run.patience, left, epoch, planned, notes)
        if reason is not None:
            stopped = reason
            break
    if stopped == "max-epochs" and planned < run.max_epochs:
        stopped = "time-budget"
    assert best_state is not None
    net.load_state_dict(best_state)
    net.eval()
    return {
        "net": net,
        "curve": curve,
        "best_epoch": best_epoch,
        "stopped": stopped,
        "notes": notes,
        "backbone": backbone,
        "seconds": time.perf_counter() - started,
    }


def _build_network(arch: dict[str, Any], run: RunSettings) -> tuple[Any, dict[str, Any] | None, Any]:
    """The network (with the pretrained weights loaded when the run has them), what was loaded, and
    its optimiser: pretrained layers move slower than the new head, or the first steps undo them."""
    from shopfloor.tasks.image_classification.net import build_net, load_pretrained

    net = build_net(arch)
    backbone, groups = None, [{"params": list(net.parameters()), "scale": 1.0}]
    if run.backbone is not None:
        loaded = load_pretrained(net, run.backbone)
        backbone = {"name": run.backbone_name, "tensors_loaded": loaded, "layout": arch}
        head = {id(p) for p in net.head.parameters()}  # type: ignore[union-attr]
        groups = [
            {"params": [p for p in net.parameters() if id(p) not in head], "scale": PRETRAINED_LR_SCALE},
            {"params": list(net.head.parameters()), "scale": 1.0},  # type: ignore[union-attr]
        ]
    opt = torch_module().optim.AdamW(groups, lr=LEARNING_RATE, weight_decay=WEIGHT_DECAY)
    return net, backbone, opt


def _settle_batch_norm(net: Any, steps_per_epoch: int) -> None:
    """BatchNorm's running statistics must settle within an epoch, or a small data set is
    validated with statistics of its first random weights."""
    torch = torch_module()
    for module in net.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.momentum = max(0.1, min(0.5, 2 / steps_per_epoch))


def _train_epoch(
    net: Any,
    opt: Any,
    loss_fn: Any,
    augment: Any,
    generator: Any,
    xt: Any,
    yt: Any,
    tr: np.ndarray,
    batch: int,
    steps_per_epoch: int,
    step: int,
    planned: int,
) -> tuple[float, int]:
    """One pass over the shuffled training rows: the summed loss and the step count after it."""
    torch = torch_module()
    net.train()
    order = tr[torch.randperm(len(tr), generator=generator).numpy()]
    total = 0.0
    for i in range(steps_per_epoch):
        rows = order[i * batch : (i + 1) * batch]
        lr = learning_rate(step / (planned * steps_per_epoch))
        for group in opt.param_groups:
            group["lr"] = lr * group["scale"]
        loss = loss_fn(net(augment(as_float(xt[rows]), generator)), yt[rows])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        total += float(loss.detach()) * len(rows)
    return total, step


def _validate(
    net: Any, x: np.ndarray, y: np.ndarray, va: np.ndarray, metric: str
) -> tuple[float, float, float]:
    """Validation log loss, metric and accuracy of the network on rows ``va``."""
    proba = torch_proba(net, x[va])
    val_loss = float(M.score("log_loss", y[va], proba))
    val = float(M.score(metric, y[va], proba))
    val_acc = float(np.mean(proba.argmax(1) == y[va]))
    return val_loss, val, val_acc


def _curve_point(
    epoch: int, loss: float, val_loss: float, val_acc: float, metric: str, val: float
) -> dict[str, float]:
    """One epoch on the learning curve: training loss, validation loss, accuracy and metric."""
    return {
        "epoch": epoch,
        "loss": loss,
        "val_loss": val_loss,
        "val_accuracy": val_acc,
        f"val_{metric}": val,
    }


def _stop_reason(patience_spent: bool, left: float, epoch: int, planned: int, notes: list) -> str | None:
    """Why training stops before the planned epochs (early stopping, time budget), or None."""
    if patience_spent and epoch < planned:
        return "early-stopping"
    if left <= 0 and epoch < planned:
        notes.append(note("time-budget", f"training stopped by the time budget after {epoch} epochs"))
        return "time-budget"
    return None


def _fit_schedule(planned: int, left: float, epoch_seconds: float, run: RunSettings, notes: list) -> int:
    """After the first epoch: the epochs the time budget holds, with a note when fewer than planned."""
    fits = int(left // max(epoch_seconds, 1e-6)) + 1
    if fits < planned:
        planned = max(1, fits)
        notes.append(
            note(
                "epochs-cut",
                f"the time budget holds about {planned} of "
                f"{run.max_epochs} epochs; the schedule was shortened",
            )
        )
    return planned


def stability_runs(
    x: np.ndarray,
    y: np.ndarray,
    n_classes: int,
    main: dict[str, Any],
    holdout: dict[str, Any],
    arch: dict[str, Any],
    plan: RunSettings,
    seed: int,
    runs: int,
    deadline: float,
    metric: str,
    progress: ProgressFn,
    notes: list[dict[str, Any]],
) -> dict[str, list]:
    """Training repeated on ``runs - 1`` more seeded stratified splits while the time budget lasts.

    ``main`` is the first run (seed ``seed``) and ``holdout`` its hold-out report. Returns the
    seeds, seconds, hold-out accuracies and F1 of every run, the first included; runs skipped for
    the time budget are noted in ``notes``.
    """
    share = 0.9 / runs
    accuracies, f1s = [holdout["accuracy"]], [holdout["f1"]]
    seeds, seconds = [seed], [main["seconds"]]
    for k in range(1, runs):
        left = deadline - time.perf_counter()
        if left < 1.2 * main["seconds"]:
            notes.append(
                note(
                    "stability-skipped",
                    f"{runs - k} of {runs - 1} stability runs skipped: each takes about "
                    f"{main['seconds']:.0f} s, {max(left, 0):.0f} s of the time budget left",
                )
            )
            break
        run_seed = seed + k
        a, b, c = splits(y, run_seed, n_classes)
        lo = 0.05 + share * k
        run = train_network(
            x,
            y,
            a,
            b,
            arch=arch,
            run=plan,
            seed=run_seed,
            deadline=deadline,
            metric=metric,
            progress=progress,
            span=(lo, lo + share),
        )
        proba = torch_proba(run["net"], x[c])
        accuracies.append(M.score("accuracy", y[c], proba))
        f1s.append(M.score("f1", y[c], proba))
        seeds.append(run_seed)
        seconds.append(run["seconds"])
    return {"seeds": seeds, "seconds": seconds, "accuracy": accuracies, "f1": f1s}


def learning_rate(fraction: float) -> float:
    """Linear warm-up over the first WARMUP of training, then cosine down to nearly zero."""
    if fraction < WARMUP:
        return LEARNING_RATE * max(fraction / WARMUP, 0.02)
    done = min((fraction - WARMUP) / (1 - WARMUP), 1.0)
    return LEARNING_RATE * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * done)))


def torch_proba(net: Any, x: np.ndarray, batch: int = 256) -> np.ndarray:
    torch = torch_module()
    net.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(x), batch):
            out.append(torch.softmax(net(as_float(torch.from_numpy(x[i : i + batch]))), 1).numpy())
    return np.concatenate(out) if out else np.zeros((0, net.head[-1].out_features), dtype=np.float32)


def as_float(batch: Any) -> Any:
    """A torch batch of 8-bit pixels -> float32 in [0, 1], exactly as ``to_array`` computes them."""
    return batch if batch.is_floating_point() else batch.float() / 255.0


def export_onnx(net: Any, channels: int, size: int) -> bytes:
    """The network with a softmax on top as ONNX (opset 17, any batch size): input ``image``."""
    torch = torch_module()
    from shopfloor.tasks.image_classification.net import Probabilities

    buffer = io.BytesIO()
    net.eval()
    torch.onnx.export(
        Probabilities(net),
        (torch.zeros(1, channels, size, size),),
        buffer,
        dynamo=False,
        opset_version=17,
        input_names=["image"],
        output_names=["probabilities"],
        dynamic_axes={"image": {0: "batch"}, "probabilities": {0: "batch"}},
    )
    return buffer.getvalue()
