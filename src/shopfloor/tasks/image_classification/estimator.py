"""Defect classification of part images (``task: "image_classification"``).

:class:`ImageClassifier` implements :class:`~shopfloor.tasks.base.Estimator` on the stored image
table (one row per image: ``image`` bytes, a label column, ...). Every image is decoded once,
resized to ``size`` x ``size`` (grey when the images are grey in content, even if stored as
3-channel JPEGs). A stratified 20 % test split is held out; on the rest a compact residual network
(:mod:`.net`) is trained from scratch, or a pretrained ResNet from the local
backbone folder is fine-tuned (:mod:`.training`); a stratified validation split
stops it early and picks the best epoch. Rows are prepared by :mod:`.labelled`.

Stability: the whole training is repeated with other seeds on other stratified splits
(``stability_seeds`` runs in all, when the budget holds them). Serving runs the ONNX export with
ONNX Runtime; Grad-CAM explanations use the PyTorch network, kept beside it as safetensors.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd

from shopfloor.data.images import image_bytes, inspect_image, read_image, readable_pixels, to_array
from shopfloor.errors import ArtifactCorrupted, InvalidInput, NotFitted
from shopfloor.evaluation import metrics as M
from shopfloor.evaluation.calibration import fit_platt
from shopfloor.evaluation.stability import summarize
from shopfloor.tasks.backbones import backbone_folder, without_backbone_dir
from shopfloor.tasks.base import BaseEstimator, Capabilities, ProgressFn, no_progress
from shopfloor.tasks.compare import Compared, NewData, compare_rows
from shopfloor.tasks.image_classification import IMAGE_CLASSIFICATION
from shopfloor.tasks.image_classification import labelled as L
from shopfloor.tasks.image_classification import training as T
from shopfloor.tasks.options import check_time_budget, is_whole, option_error

logger = logging.getLogger(__name__)

ESTIMATOR_FILE, ONNX_FILE, WEIGHTS_FILE = "estimator.json", "model.onnx", "net.safetensors"
FORMAT_VERSION = 1
EXPLAIN_METHODS = IMAGE_CLASSIFICATION.explain  # Grad-CAM, also under the protocol's default name "shap"
HEATMAP_CELLS = 16


class ImageClassifier(BaseEstimator):
    """Part image -> defect class.

    ``image_column``: the column holding image bytes; ``size``: input side in pixels (a multiple of
    16); ``max_epochs`` / ``patience``: the most epochs, and epochs without a better validation
    score before stopping; ``metric``: the validation score that picks the epoch (default accuracy);
    ``time_budget_s``: for the whole fit, stability runs included; ``stability_seeds``: training runs
    on different seeded splits to report the spread of accuracy (1 = the main run only);
    ``backbone``: the name of a pretrained basic-block ResNet the operator allowed (see
    :mod:`shopfloor.tasks.backbones`) to fine-tune instead of training the compact network from
    scratch; jobs resolve the name to its folder (:meth:`use_backbone`) and fill in ``default``
    when the ``vision_backbone_dir`` setting holds weights and the option is not given.
    """

    declared: ClassVar[Mapping[str, Capabilities]] = {"image_classification": IMAGE_CLASSIFICATION}

    task: ClassVar[str] = "image_classification"
    _session: Any = None  # the ONNX Runtime session, opened on first use
    _backbone: dict[str, np.ndarray] | None = None  # pretrained weights read by check_options
    _backbone_folder: Path | None = None  # where the named backbone lives, set by use_backbone

    def __init__(
        self,
        image_column: str = "image",
        size: int = 96,
        max_epochs: int = 30,
        patience: int = 10,
        batch_size: int = 64,
        seed: int = 0,
        metric: str | None = None,
        time_budget_s: float = 1800,
        stability_seeds: int = 3,
        backbone: str | None = None,
        column_types: dict[str, str] | None = None,
    ) -> None:
        self.image_column = image_column
        self.size = size
        self.max_epochs = max_epochs
        self.patience = patience
        self.batch_size = batch_size
        self.seed = seed
        self.metric = metric
        self.time_budget_s = time_budget_s
        self.stability_seeds = stability_seeds
        self.backbone = backbone
        self.column_types = column_types

    def backbone_name(self) -> str | None:
        return self.backbone

    def use_backbone(self, folder: Path) -> Self:
        """Read the weights of the backbone named ``backbone`` from ``folder`` (the server's choice)."""
        self._backbone_folder = folder
        return self

    # ------------------------------------------------------------------ options
    def check_options(self) -> None:
        """Refuse impossible option values before any work (a 422 at ``["body", "options", name]``)."""
        self._settled_options()

    def _settled_options(self) -> str:
        """Refuse impossible options before any work; returns the validation metric."""
        ints = {
            "size": (self.size, 16, 512),
            "max_epochs": (self.max_epochs, 1, 1000),
            "patience": (self.patience, 1, 1000),
            "batch_size": (self.batch_size, 2, 1024),
            "stability_seeds": (self.stability_seeds, 0, 10),
        }
        for name, (value, low, high) in ints.items():
            if not is_whole(value, low, high):
                raise option_error(name, f"must be a whole number from {low} to {high}")
        if self.size % 16:
            raise option_error("size", "must be a multiple of 16")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool):
            raise option_error("seed", "must be a whole number")
        check_time_budget(self.time_budget_s)
        if not isinstance(self.image_column, str) or not self.image_column:
            raise option_error("image_column", "must name the column of images")
        if self.backbone is not None:
            from shopfloor.tasks.backbones import read_resnet

            folder = backbone_folder(self.backbone, self._backbone_folder)
            self._backbone = read_resnet(folder, ["body", "options", "backbone"], self.backbone)
        if self.metric is not None and self.metric not in M.CLASSIFICATION_METRICS:
            raise option_error("metric", f"choose one of {', '.join(M.CLASSIFICATION_METRICS)}")
        return self.metric or "accuracy"

    # ------------------------------------------------------------------ fit
    def fit(self, frame: pd.DataFrame, target: str, progress: ProgressFn = no_progress) -> Self:
        """Decode the images, train, report on the hold-out split and export for serving."""
        t0 = time.perf_counter()
        metric = self._settled_options()
        deadline = t0 + float(self.time_budget_s)
        self._check_columns(frame, target)
        n_threads = T.threads()  # chosen once: our own training would make the machine look busy
        progress(0.0, "preparing", f"decoding images from {self.image_column!r}")
        x, y, classes, grey, shapes, notes = self._decode_training(frame, target, progress)
        self._set_architecture(classes, grey, shapes)
        runs = max(1, int(self.stability_seeds))
        share = 0.9 / runs
        tr, va, te = L.splits(y, self.seed, len(classes))
        self.holdout_rows_ = self.rows_[te]  # a retraining gate compares on them
        plan = T.RunSettings(
            int(self.max_epochs), int(self.patience), int(self.batch_size), self._backbone, self.backbone
        )
        T.torch_module(n_threads)
        main = T.train_network(
            x,
            y,
            tr,
            va,
            arch=self.arch_,
            run=plan,
            seed=self.seed,
            deadline=deadline,
            metric=metric,
            progress=progress,
            span=(0.05, 0.05 + share),
        )
        net = main["net"]
        proba_te = T.torch_proba(net, x[te])
        holdout = L.single_report(y[te], proba_te, classes)
        stability = T.stability_runs(
            x,
            y,
            len(classes),
            main,
            holdout,
            self.arch_,
            plan,
            self.seed,
            runs,
            deadline,
            metric,
            progress,
            notes,
        )
        notes += main["notes"]

        progress(0.96, "exporting", "exporting the network to ONNX")
        self.net_ = net
        self.onnx_ = T.export_onnx(net, self.arch_["in_channels"], self.size)
        self._session = None
        self.input_schema_ = [{"name": self.image_column, "type": "image"}]
        self.report_ = self._fit_report(target, metric, holdout, main, stability, (tr, va, te), notes, t0)
        self.report_["threads"] = n_threads
        self.report_["calibration"] = fit_platt(y[te], proba_te)  # the probabilities against held-out classes
        progress(1.0, "done", f"hold-out accuracy = {holdout['accuracy']:.4f}")
        return self

    def _check_columns(self, frame: pd.DataFrame, target: str) -> None:
        """The image column and the target (a label column other than the images) are in the table."""
        if self.image_column not in frame.columns:
            raise option_error("image_column", f"no column {self.image_column!r} in the table")
        if target not in frame.columns or target == self.image_column:
            raise InvalidInput(
                f"target column {target!r} is not a label column of the table",
                errors=[{"loc": ["body", "target"], "msg": "unknown column"}],
            )

    def _decode_training(
        self, frame: pd.DataFrame, target: str, progress: ProgressFn
    ) -> tuple[np.ndarray, np.ndarray, list[Any], bool, np.ndarray, list[dict]]:
        """The usable labelled images as 8-bit pixel arrays: pixels, class codes, classes, whether
        they are grey, their original shapes, and notes on rows left out."""
        data, labels, shapes, notes, rows = L.usable_rows(frame[self.image_column], frame[target])
        y, classes, more = L.encode(labels, target)
        notes += more
        keep = y >= 0
        data, y, shapes = [d for d, k in zip(data, keep, strict=True) if k], y[keep], shapes[keep]
        self.rows_ = rows[keep]  # each image's row in the table given to fit
        grey = L.grey_content(data, self.size)
        # kept as bytes (lossless: the decoder's pixels are 8-bit) to hold large sets in memory
        x = np.stack([L.to_uint8(to_array(d, self.size, grey, ["rows", i])) for i, d in enumerate(data)])
        progress(
            0.05, "preparing", f"{len(data)} images in {len(classes)} classes, {'grey' if grey else 'colour'}"
        )
        return x, y, classes, grey, shapes, notes

    def _set_architecture(self, classes: list[Any], grey: bool, shapes: np.ndarray) -> None:
        """The network's layout (own network or the pretrained backbone's), classes and aspect ratio."""
        from shopfloor.tasks.backbones import resnet_architecture
        from shopfloor.tasks.image_classification.net import architecture

        channels = 1 if grey else 3
        if self._backbone is None:
            self.arch_ = architecture(channels, len(classes), self.size)
        else:
            self.arch_ = resnet_architecture(self._backbone, channels, len(classes))
        self.classes_, self.grey_ = classes, grey
        self.aspect_ = float(np.median(shapes[:, 0] / shapes[:, 1]))

    def _fit_report(
        self,
        target: str,
        metric: str,
        holdout: dict[str, Any],
        main: dict[str, Any],
        stability: dict[str, list],
        split: tuple[np.ndarray, np.ndarray, np.ndarray],
        notes: list[dict],
        t0: float,
    ) -> dict[str, Any]:
        """The fit report: hold-out metrics, the learning curve, stability over seeds, the network."""
        tr, va, te = split
        seeds = stability["seeds"]
        return {
            "task": self.task,
            "kind": "classification",
            "target": target,
            "image_column": self.image_column,
            "classes": self.classes_,
            "metric": metric,
            "metrics": holdout,
            "training": {
                "curve": main["curve"],
                "epochs_run": len(main["curve"]),
                "best_epoch": main["best_epoch"],
                "stopped": main["stopped"],
                "seconds": round(main["seconds"], 2),
            },
            "stability": {
                "method": f"training repeated on {len(seeds)} seeded stratified splits",
                "n": len(seeds),
                "seeds": seeds,
                "seconds": [round(s, 2) for s in stability["seconds"]],
                "metrics": summarize({"accuracy": stability["accuracy"], "f1": stability["f1"]}),
            },
            "input": {"size": self.size, "grey": self.grey_, "channels": self.arch_["in_channels"]},
            "network": {**self.arch_, "parameters": int(sum(p.numel() for p in self.net_.parameters()))},
            "backbone": main["backbone"],
            "warnings": notes,
            "n_train": int(len(tr)),
            "n_validation": int(len(va)),
            "n_test": int(len(te)),
            "fit_seconds": round(time.perf_counter() - t0, 3),
        }

    # ------------------------------------------------------------------ predict
    def _check_fitted(self) -> None:
        if not hasattr(self, "net_"):
            raise NotFitted("this ImageClassifier is not fitted yet; call fit() or load()")

    def _decode(
        self, records: Sequence[Mapping[str, Any]]
    ) -> tuple[list[bytes], np.ndarray, list[list[str]]]:
        """Each record's image bytes, its input array and warnings; bad images refused together."""
        column, datas, arrays, warns, errors = self.image_column, [], [], [], []
        for i, record in enumerate(records):
            loc = ["body", "records", i, column]
            try:
                value = record.get(column) if isinstance(record, Mapping) else None
                if value is None:
                    raise InvalidInput("missing image", errors=[{"loc": loc, "msg": "image is missing"}])
                data = image_bytes(value, loc)
                info, array = read_image(data, self.size, self.grey_, loc)
                arrays.append(array)
            except InvalidInput as exc:
                errors += exc.errors or [{"loc": loc, "msg": exc.detail}]
                continue
            datas.append(data)
            warns.append(self._warnings(info.width, info.height, info.channels))
        if errors:
            raise InvalidInput(
                f"{len(errors)} record(s) have no readable image in {column!r}", errors=errors[:50]
            )
        return datas, np.stack(arrays) if arrays else np.zeros((0,)), warns

    def _warnings(self, width: int, height: int, channels: int) -> list[str]:
        out = []
        aspect = width / height
        if abs(math.log(aspect / self.aspect_)) > math.log(1.25):
            out.append(
                f"image is {width}x{height}; the training images' width/height was about "
                f"{self.aspect_:.2f}, so this one is stretched more"
            )
        if channels == 3 and self.grey_:
            out.append("colour image read as grey: the model was trained on grey images")
        return out

    def _proba(self, x: np.ndarray) -> np.ndarray:
        if self._session is None:
            import onnxruntime as ort

            options = ort.SessionOptions()
            options.intra_op_num_threads, options.inter_op_num_threads = T.THREADS, 1
            # a server holds many models: idle threads sleep rather than spin on shared cores
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            self._session = ort.InferenceSession(self.onnx_, options, providers=["CPUExecutionProvider"])
        return np.asarray(self._session.run(None, {"image": x.astype(np.float32)})[0])

    def predict(self, records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """One result per record: ``{"label", "probabilities", "warnings"}``."""
        self._check_fitted()
        if not records:
            return []
        _, x, warns = self._decode(records)
        names = [str(c) for c in self.classes_]
        return [
            {
                "label": self.classes_[int(row.argmax())],
                "probabilities": dict(zip(names, (float(p) for p in row), strict=True)),
                "warnings": w,
            }
            for row, w in zip(self._proba(x), warns, strict=True)
        ]

    # ------------------------------------------------------------------ comparing two models
    def holdout_rows(self) -> np.ndarray | None:
        """Row numbers, in the table given to ``fit``, of the test split (None once loaded)."""
        return getattr(self, "holdout_rows_", None)

    def compare_with(self, champion: Any, data: NewData) -> Compared:
        """On the test split's images (see :func:`shopfloor.tasks.compare.compare_rows`)."""
        return compare_rows(self, champion, data, unit="images")

    def row_scorer(self, frame: pd.DataFrame, target: str) -> Callable[[np.ndarray], dict[str, float]]:
        """The hold-out report's scalar metrics on any selection of the labelled images (every one
        must be readable); a label the model never learnt counts against it."""
        self._check_fitted()
        for column in (target, self.image_column):
            if column not in frame.columns:
                raise InvalidInput(f"no column {column!r} among the images to score")
        _, x, _ = self._decode(frame[[self.image_column]].to_dict("records"))
        proba, labels, classes = self._proba(x), frame[target].to_numpy(dtype=object), self.classes_

        def scores(take: np.ndarray) -> dict[str, float]:
            report = M.report_on_labels("classification", list(labels[take]), proba[take], classes, None)
            return M.scalar_metrics(report)

        return scores

    def drift_embeddings(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        """The network's pooled features of the readable images (the input of its last layer):
        what the classifier itself sees of a part. Unreadable images are left out."""
        self._check_fitted()
        if self.image_column not in frame.columns:
            return {}
        def decode(value: Any, loc: list[Any]) -> np.ndarray:
            return read_image(image_bytes(value, loc), self.size, self.grey_, loc)[1]

        arrays = readable_pixels(frame[self.image_column], decode, self.image_column)
        if not arrays:
            return {}
        torch = T.torch_module()
        captured: list[Any] = []
        last = self.net_.head[-1]
        hook = last.register_forward_pre_hook(lambda module, args: captured.append(args[0].detach()))
        try:
            with torch.no_grad():
                for b in range(0, len(arrays), 64):
                    self.net_(torch.from_numpy(np.stack(arrays[b : b + 64]).astype(np.float32)))
        finally:
            hook.remove()
        return {self.image_column: torch.cat(captured).numpy().astype(np.float32)}

    # ------------------------------------------------------------------ explain
    def explain(self, records: Sequence[Mapping[str, Any]], method: str = "gradcam") -> list[dict[str, Any]]:
        """Per record: the predicted class and its probability (``output``), a Grad-CAM grid
        (``heatmap``, HEATMAP_CELLS x HEATMAP_CELLS in [0, 1]), the overlay as base64 PNG
        (``heatmap_png``) and the strongest cells as pixel boxes of the image (``contributions``)."""
        self._check_fitted()
        if method not in EXPLAIN_METHODS:
            raise InvalidInput(
                f"unknown explanation method {method!r}; image models explain by 'gradcam'",
                errors=[{"loc": ["query", "method"], "msg": "unknown method"}],
            )
        if not records:
            return []
        from shopfloor.tasks.image_classification.heatmap import overlay_png, top_regions, upsample
        from shopfloor.tasks.image_classification.net import grad_cam

        torch = T.torch_module()
        datas, x, _ = self._decode(records)
        maps, proba = grad_cam(self.net_, torch.from_numpy(x))
        out = []
        for data, cam, row in zip(datas, maps, proba, strict=True):
            info = inspect_image(data, [])
            peak = float(cam.max())
            grid = upsample(cam, HEATMAP_CELLS, HEATMAP_CELLS)
            grid = grid / grid.max() if peak > 0 and grid.max() > 0 else np.zeros_like(grid)
            k = int(row.argmax())
            out.append(
                {
                    "method": "gradcam",
                    "class": self.classes_[k],
                    "output": float(row[k]),
                    "output_space": "probability",
                    "heatmap": [[round(float(v), 4) for v in line] for line in grid],
                    "heatmap_png": overlay_png(data, grid),
                    "contributions": top_regions(grid, info.width, info.height, k=5),
                }
            )
        return out

    # ------------------------------------------------------------------ persistence
    def save(self) -> dict[str, bytes]:
        self._check_fitted()
        from safetensors.torch import save

        state = {
            "format": FORMAT_VERSION,
            "params": {**self.get_params(), "column_types": None},
            "classes": self.classes_,
            "grey": self.grey_,
            "size": self.size,
            "aspect": self.aspect_,
            "arch": self.arch_,
            "input_schema": self.input_schema_,
            "report": self.report_,
        }
        weights = {k: v.contiguous() for k, v in self.net_.state_dict().items()}
        return {
            ESTIMATOR_FILE: json.dumps(state).encode(),
            ONNX_FILE: self.onnx_,
            WEIGHTS_FILE: save(weights),
        }

    @classmethod
    def load(cls, files: Mapping[str, bytes]) -> Self:
        try:
            state = json.loads(files[ESTIMATOR_FILE])
            if not isinstance(state, dict) or state.get("format") != FORMAT_VERSION:
                raise ArtifactCorrupted("image artifact: estimator.json is not a supported image model state")
            est = cls(**without_backbone_dir(state["params"]))
            est.classes_, est.grey_ = list(state["classes"]), bool(state["grey"])
            est.aspect_, est.arch_ = float(state["aspect"]), dict(state["arch"])
            est.input_schema_, est.report_ = state["input_schema"], state["report"]
            if int(state["size"]) != est.size or len(est.classes_) != int(est.arch_["n_classes"]):
                raise ArtifactCorrupted("image artifact: estimator.json contradicts itself")
            onnx_bytes, weights = files[ONNX_FILE], files[WEIGHTS_FILE]
        except (KeyError, ValueError, TypeError) as exc:
            raise ArtifactCorrupted(f"image artifact cannot be read: {exc}") from exc
        T.torch_module()
        from safetensors.torch import load

        from shopfloor.tasks.image_classification.net import build_net

        try:
            net = build_net(est.arch_)
            net.load_state_dict(load(bytes(weights)), strict=True)
        except Exception as exc:  # safetensors and torch raise several types for damaged weights
            raise ArtifactCorrupted(f"image artifact: {WEIGHTS_FILE} cannot be read: {exc}") from exc
        net.eval()
        est.net_, est.onnx_, est._session = net, bytes(onnx_bytes), None
        try:
            est._proba(np.zeros((1, est.arch_["in_channels"], est.size, est.size), dtype=np.float32))
        except Exception as exc:  # onnxruntime raises its own types for damaged graphs
            raise ArtifactCorrupted(f"image artifact: {ONNX_FILE} cannot be read: {exc}") from exc
        return est


# ---------------------------------------------------------------------- helpers
