"""Label-free anomaly detection on part images, trained on good parts only (task ``image_anomaly``).

:class:`ImageAnomalyDetector` implements :class:`~shopfloor.tasks.base.Estimator` the PatchCore way:
every good training image becomes a grid of patch features (:mod:`shopfloor.tasks.image_anomaly.patches`;
texture statistics by default, no pretrained weights), a coreset of those patches is the memory of
what normal looks like, a patch's anomaly is its distance to the nearest remembered patch, and an
image's score is the highest of its (lightly smoothed) patch map.

A seeded 20 % of the good images never enter the memory: their scores set the threshold at the
chosen false-alarm rate (their ``1 - false_alarm_rate`` quantile), so the rate holds for new good
parts. Labelled defect images (rows whose label is not ``good_label``) are used only to report
AUROC and the recall at that threshold. Explanations are anomaly maps
(:mod:`shopfloor.tasks.image_anomaly.anomaly_map`): a grid scaled so that 0.5 is the threshold, a PNG overlay
and the most anomalous regions as pixel boxes. Artifact: ``estimator.json`` and
``model.safetensors`` (memory bank and any backbone weights); nothing is pickled.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd

from shopfloor.data.images import ImageInfo, image_bytes, read_image, readable_pixels
from shopfloor.errors import ArtifactCorrupted, InvalidInput, NotFitted
from shopfloor.tasks.backbones import backbone_folder, without_backbone_dir
from shopfloor.tasks.base import BaseEstimator, Capabilities, ProgressFn, no_progress
from shopfloor.tasks.compare import Compared, NewData
from shopfloor.tasks.image_anomaly import IMAGE_ANOMALY, anomaly_map
from shopfloor.tasks.image_anomaly import report as R
from shopfloor.tasks.image_anomaly.compare import compare_images, separation
from shopfloor.tasks.image_anomaly.patches import STRIDE, PatchExtractor, PatchMemory, read_backbone
from shopfloor.tasks.options import check_time_budget, is_whole, option_error

ESTIMATOR_FILE = "estimator.json"
WEIGHTS_FILE = "model.safetensors"
FORMAT_VERSION = 1
MIN_GOOD = 10
HOLDOUT = 0.2
EXPLAIN_METHODS = IMAGE_ANOMALY.explain  # an anomaly map, also under the protocol's default name "shap"
#: Images decoded and featurised at once (bounds memory: 32 x 3 x 512 x 512 float32 is 100 MB).
BATCH = 32
#: Scale of the explanation grid, stated in every report.
MAP_SCALE = (
    "0 = median patch score of held-out good images, 0.5 = the image threshold, "
    "1 = twice the threshold's distance above that median or more"
)


def _note(code: str, message: str) -> dict[str, str]:
    return {"code": code, "message": message}


class ImageAnomalyDetector(BaseEstimator):
    """Flags part images unlike the good ones it was trained on; no defect examples needed.

    ``image_column``: the column of image bytes; ``label_column`` and ``good_label``: when both are
    given, rows labelled ``good_label`` are the good parts to learn from and other labelled rows
    are defects (evaluation only); without them every row is taken as good. ``false_alarm_rate``:
    share of good parts allowed above the threshold, in (0, 0.5]. ``size``: images are resized to
    ``size`` x ``size`` pixels (a multiple of 8, 32-512); the map has one cell per 8x8 pixels.
    ``memory_size``: patches kept in memory (greedy coreset). Features are texture statistics
    unless ``backbone`` names a pretrained ResNet the operator allowed (basic blocks, torchvision
    names; jobs resolve the name to its folder with :meth:`use_backbone`). ``metric``: None or
    "auroc" (reported, not chosen by). ``fit``'s ``target`` is ignored: labels come from ``label_column``.
    """

    declared: ClassVar[Mapping[str, Capabilities]] = {"image_anomaly": IMAGE_ANOMALY}

    task: ClassVar[str] = "image_anomaly"
    _backbone_folder: Path | None = None  # where the named backbone lives, set by use_backbone

    def __init__(
        self,
        image_column: str = "image",
        label_column: str | None = None,
        good_label: Any = None,
        false_alarm_rate: float = 0.01,
        size: int = 128,
        memory_size: int = 4000,
        backbone: str | None = None,
        seed: int = 0,
        time_budget_s: float = 600.0,
        metric: str | None = None,
        column_types: dict[str, str] | None = None,
    ) -> None:
        self.image_column = image_column
        self.label_column = label_column
        self.good_label = good_label
        self.false_alarm_rate = false_alarm_rate
        self.size = size
        self.memory_size = memory_size
        self.backbone = backbone
        self.seed = seed
        self.time_budget_s = time_budget_s
        self.metric = metric
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

    def _settled_options(self) -> PatchExtractor:
        """Refuse impossible options (422 at ``["body", "options", name]``); returns the extractor."""
        if not isinstance(self.image_column, str) or not self.image_column:
            raise option_error("image_column", "name the column that holds the images")
        if self.label_column is not None and (
            not isinstance(self.label_column, str) or not self.label_column
        ):
            raise option_error("label_column", "must be a column name")
        if self.good_label is not None and self.label_column is None:
            raise option_error("good_label", "needs 'label_column', the column that holds the labels")
        if self.label_column is not None and self.good_label is None:
            raise option_error("good_label", "name the label of good parts in 'label_column'")
        if self.good_label is not None and not isinstance(self.good_label, str | int):
            raise option_error("good_label", "must be a label (text or a whole number)")
        far = self.false_alarm_rate
        if isinstance(far, bool) or not isinstance(far, int | float) or not 0 < far <= 0.5:
            raise option_error("false_alarm_rate", f"must be a number in (0, 0.5], not {far!r}")
        if not is_whole(self.size, 32, 512) or self.size % STRIDE:
            raise option_error("size", f"must be a multiple of {STRIDE} from 32 to 512, not {self.size!r}")
        if not is_whole(self.memory_size, 100, 1_000_000):
            raise option_error(
                "memory_size", f"must be a whole number from 100 to 1000000, not {self.memory_size!r}"
            )
        if self.metric not in (None, "auroc"):
            raise option_error("metric", "image anomaly models report 'auroc'; no other metric applies")
        check_time_budget(self.time_budget_s)
        if not is_whole(self.seed, 0, 2**32 - 1):
            raise option_error("seed", "must be a whole number >= 0")
        if self.backbone is None:
            return PatchExtractor("texture", int(self.size))
        folder = backbone_folder(self.backbone, self._backbone_folder)
        weights = read_backbone(folder, ["body", "options", "backbone"], self.backbone)
        return PatchExtractor("backbone", int(self.size), weights)

    # ------------------------------------------------------------------ fit
    def fit(self, frame: pd.DataFrame, target: str | None = None, progress: ProgressFn = no_progress) -> Self:
        """Learn normal patches from the good images, set the threshold on held-out good images,
        and report separation from the labelled defects when there are any."""
        t0 = time.perf_counter()
        deadline = t0 + float(self.time_budget_s)
        extractor = self._settled_options()
        progress(0.0, "preparing", "choosing good images")
        good, defects, labels, notes = self._split_rows(frame)
        rng = np.random.default_rng(self.seed)
        good = rng.permutation(good)
        n_hold = max(2, int(round(HOLDOUT * len(good))))
        held, train = good[:n_hold], good[n_hold:]
        values = frame[self.image_column].to_numpy(dtype=object)

        infos, kept, n_patches, how = self._learn_memory(
            extractor, values, train, n_hold, t0, progress, notes
        )
        held_scores, held_rows = self._set_threshold(values, held, progress, notes)
        defect_scores, defect_labels, defect_rows = self._score_defects(
            values, defects, labels, deadline, progress, notes
        )
        # the images the model never learnt from, scored: a retraining gate compares on them (not saved)
        self.evaluated_ = {
            "rows": np.r_[held_rows, defect_rows].astype(int),
            "scores": np.r_[held_scores, defect_scores],
            "defect": np.r_[np.zeros(len(held_rows), bool), np.ones(len(defect_rows), bool)],
        }

        self.train_images_ = R.image_stats(infos)
        self.input_schema_ = [{"name": self.image_column, "type": "image"}]
        self.report_ = self._report(held_scores, defect_scores, defect_labels, notes)
        self.report_.update(
            {
                "n_train": len(kept),
                "n_holdout": int(len(held_scores)),
                "n_defect": int(len(defect_scores)),
                "memory": {
                    "patches": int(self.memory_.bank.shape[0]),
                    "from_patches": n_patches,
                    "subsampling": how,
                },
                "features": extractor.config(),
                "image": {"size": int(self.size), "grid": extractor.grid, "training": self.train_images_},
                "fit_seconds": round(time.perf_counter() - t0, 3),
            }
        )
        metrics = self.report_["metrics"]
        summary = f"AUROC {metrics['auroc']:.4f}" if "auroc" in metrics else "no defects to evaluate"
        progress(1.0, "done", f"threshold {self.threshold_:.4f}; {summary}")
        return self

    def _learn_memory(
        self,
        extractor: PatchExtractor,
        values: np.ndarray,
        train: np.ndarray,
        n_hold: int,
        t0: float,
        progress: ProgressFn,
        notes: list[dict],
    ) -> tuple[list[Any], Any, int, str]:
        """Read the good training images and keep a memory of their patches (``extractor_``,
        ``memory_``). Returns the images' facts, the rows kept, the patch count and the subsampling."""
        progress(0.02, "features", f"reading {len(train)} good training images")
        feats, infos, kept = self._featurise(
            extractor,
            values,
            train,
            ("features", 0.02, 0.55),
            progress,
            notes,
            deadline=t0 + 0.5 * float(self.time_budget_s),
            minimum=MIN_GOOD - n_hold,
        )
        progress(
            0.55, "memory", f"choosing {self.memory_size} of {feats.shape[0] * extractor.grid**2} patches"
        )
        memory, how = PatchMemory.fit(
            feats,
            extractor.kind,
            int(self.memory_size),
            int(self.seed),
            deadline=t0 + 0.7 * float(self.time_budget_s),
        )
        self.extractor_, self.memory_ = extractor, memory
        n_patches = int(feats.shape[0] * extractor.grid**2)
        return infos, kept, n_patches, how

    def _set_threshold(
        self, values: np.ndarray, held: np.ndarray, progress: ProgressFn, notes: list[dict]
    ) -> tuple[np.ndarray, list[int]]:
        """Score the held-out good images and set ``threshold_`` at the false-alarm rate: their
        scores and rows."""
        progress(0.65, "threshold", f"scoring {len(held)} held-out good images")
        held_maps, ok = self._score_rows(values, held, notes, progress, ("threshold", 0.65, 0.75), None)
        held_scores = held_maps.reshape(len(held_maps), -1).max(axis=1)
        self.threshold_ = float(np.quantile(held_scores, 1.0 - float(self.false_alarm_rate), method="higher"))
        self.typical_ = float(np.median(held_maps))
        if len(held_scores) * float(self.false_alarm_rate) < 1:
            notes.append(
                _note(
                    "few-held-out",
                    f"{len(held_scores)} held-out good images: the threshold is "
                    f"set on too few to resolve a false-alarm rate of "
                    f"{self.false_alarm_rate}",
                )
            )
        return held_scores, ok

    def _score_defects(
        self,
        values: np.ndarray,
        defects: np.ndarray,
        labels: list[Any],
        deadline: float,
        progress: ProgressFn,
        notes: list[dict],
    ) -> tuple[np.ndarray, list[Any], list[int]]:
        """Score the labelled defect images while the time budget lasts: their scores, labels and rows."""
        defect_scores, defect_labels = np.empty(0), []
        ok: list[int] = []
        if len(defects) and time.perf_counter() < deadline:
            progress(0.75, "evaluation", f"scoring {len(defects)} defect images")
            stage = ("evaluation", 0.75, 0.98)
            maps, ok = self._score_rows(values, defects, notes, progress, stage, deadline)
            defect_scores = maps.reshape(len(maps), -1).max(axis=1)
            defect_labels = [labels[i] for i in ok]
        elif len(defects):
            notes.append(_note("time-budget", "time budget spent: no defect image was scored"))
        return defect_scores, defect_labels, ok

    def _split_rows(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, list[Any], list[dict]]:
        """Row numbers of good images and of defects, each row's label, and notes."""
        if self.image_column not in frame.columns:
            raise option_error("image_column", f"no column {self.image_column!r} in the dataset")
        notes: list[dict] = []
        rows = np.arange(len(frame))
        labels: list[str | None] = [None] * len(frame)
        if self.label_column is None:
            good, defects = rows, rows[:0]
        else:
            if self.label_column not in frame.columns:
                raise option_error("label_column", f"no column {self.label_column!r} in the dataset")
            raw = frame[self.label_column].to_numpy(dtype=object)
            labelled = np.array([v is not None and not (isinstance(v, float) and np.isnan(v)) for v in raw])
            labels = [str(v) if k else None for v, k in zip(raw, labelled, strict=True)]
            is_good = np.array([lab == str(self.good_label) for lab in labels])
            good, defects = rows[is_good], rows[labelled & ~is_good]
            if (~labelled).any():
                notes.append(_note("unlabelled", f"{int((~labelled).sum())} unlabelled images were not used"))
        if len(good) < MIN_GOOD:
            which = "good images" if self.label_column is None else f"images labelled {self.good_label!r}"
            msg = f"{len(good)} {which}; at least {MIN_GOOD} are needed"
            raise InvalidInput(msg, errors=[{"loc": ["body", "dataset_id"], "msg": msg}])
        return good, defects, labels, notes

    def _featurise(
        self,
        extractor: PatchExtractor,
        values: np.ndarray,
        rows: np.ndarray,
        stage: tuple[str, float, float],
        progress: ProgressFn,
        notes: list[dict],
        deadline: float | None = None,
        minimum: int = 1,
    ) -> tuple[np.ndarray, list[ImageInfo], list[int]]:
        """Feature maps of the readable images among ``rows`` and which rows they are; unreadable
        images are skipped and, once ``deadline`` passes, the rest (keeping at least ``minimum``),
        each with a note."""
        name, start, end = stage
        parts, infos, visited = [], [], 0
        kept: list[int] = []
        for b in range(0, len(rows), BATCH):
            if deadline is not None and len(kept) >= minimum and time.perf_counter() > deadline:
                break
            visited = min(b + BATCH, len(rows))
            arrays = []
            for i in rows[b : b + BATCH]:
                try:
                    data, info, array = self._decode(values[i], ["body", "dataset_id", int(i)])
                except InvalidInput:
                    continue
                arrays.append(array)
                infos.append(info)
                kept.append(int(i))
            if arrays:
                parts.append(extractor(np.stack(arrays)))
            progress(
                start + (end - start) * min(1.0, (b + BATCH) / len(rows)),
                name,
                f"{min(b + BATCH, len(rows))} of {len(rows)} images",
            )
        if len(kept) < minimum:
            msg = f"only {len(kept)} of {len(rows)} images could be read; {minimum} are needed"
            raise InvalidInput(msg, errors=[{"loc": ["body", "dataset_id"], "msg": msg}])
        if len(kept) < visited:
            notes.append(_note("unreadable", f"{name}: {visited - len(kept)} unreadable images skipped"))
        if visited < len(rows):
            notes.append(
                _note(
                    "time-budget",
                    f"{name}: time budget spent after {visited} of {len(rows)} "
                    "images; the rest were not used",
                )
            )
        return np.concatenate(parts), infos, kept

    def _score_rows(
        self,
        values: np.ndarray,
        rows: np.ndarray,
        notes: list[dict],
        progress: ProgressFn,
        stage: tuple[str, float, float],
        deadline: float | None,
    ) -> tuple[np.ndarray, list[int]]:
        """Smoothed patch maps of the readable images among ``rows`` and which rows they are."""
        feats, _, kept = self._featurise(self.extractor_, values, rows, stage, progress, notes, deadline)
        return self._maps(feats), kept

    def _maps(self, feats: np.ndarray) -> np.ndarray:
        from scipy.ndimage import gaussian_filter

        raw = self.memory_.distances(feats)
        # one cell of smoothing: a single noisy patch should not decide an image
        return np.stack([gaussian_filter(m, 1.0, mode="nearest") for m in raw]).astype(np.float32)

    def _decode(self, value: Any, loc: list[Any]) -> tuple[bytes, ImageInfo, np.ndarray]:
        data = image_bytes(value, loc)
        info, pixels = read_image(data, int(self.size), False, loc)
        return data, info, pixels

    def _report(
        self, held: np.ndarray, defect: np.ndarray, defect_labels: list[Any], notes: list[dict]
    ) -> dict[str, Any]:
        from sklearn.metrics import roc_auc_score

        t = self.threshold_
        metrics: dict[str, Any] = {"threshold": t, "false_alarm_rate_holdout": float(np.mean(held > t))}
        per_label = []
        if len(defect):
            y = np.r_[np.zeros(len(held)), np.ones(len(defect))]
            metrics["auroc"] = float(roc_auc_score(y, np.r_[held, defect]))
            metrics["recall_at_threshold"] = float(np.mean(defect > t))
            names = np.array(defect_labels, dtype=object)
            for name in sorted(set(defect_labels)):
                mine = defect[names == name]
                y = np.r_[np.zeros(len(held)), np.ones(len(mine))]
                per_label.append(
                    {
                        "label": name,
                        "n": int(len(mine)),
                        "recall": float(np.mean(mine > t)),
                        "auroc": float(roc_auc_score(y, np.r_[held, mine])),
                    }
                )
        return {
            "task": self.task,
            "image_column": self.image_column,
            "label_column": self.label_column,
            "good_label": self.good_label,
            "metric": "auroc",
            "metrics": metrics,
            "threshold": t,
            "false_alarm_rate": float(self.false_alarm_rate),
            "scores": R.distributions(held, defect),
            "per_label": per_label,
            "map_scale": MAP_SCALE,
            "warnings": notes,
        }

    # ------------------------------------------------------------------ comparing two models
    def outcome_column(self, target: str) -> str | None:
        """The label column (its ``good_label`` marks good parts), when the model was given one."""
        return self.label_column

    def row_scorer(self, frame: pd.DataFrame, target: str) -> Callable[[np.ndarray], dict[str, float]]:
        """AUROC of the image scores, good parts (``good_label``) against the rest, with the recall
        of defects and the false alarms at the threshold, on any selection of labelled images."""
        if target not in frame.columns:
            raise InvalidInput(f"no column {target!r} among the images to score")
        scores = self.image_scores(frame)
        defect = np.array([str(v) != str(self.good_label) for v in frame[target]], dtype=bool)
        return partial(separation, scores, defect, self.threshold_)

    def image_scores(self, frame: pd.DataFrame) -> np.ndarray:
        """The score of each image of a table (every one must be readable)."""
        self._check_fitted()
        if self.image_column not in frame.columns:
            raise InvalidInput(f"no column {self.image_column!r} among the images to score")
        maps, _, _ = self._score_records(frame[[self.image_column]].to_dict("records"))
        return maps.reshape(len(maps), -1).max(axis=1)

    def compare_with(self, champion: Any, data: NewData) -> Compared:
        """On the held-out good images and the labelled defects of the new data (see
        :mod:`shopfloor.tasks.image_anomaly.compare`)."""
        return compare_images(self, champion, data)

    # ------------------------------------------------------------------ predict
    def _check_fitted(self) -> None:
        if not hasattr(self, "memory_"):
            raise NotFitted("this ImageAnomalyDetector is not fitted yet; call fit() or load()")

    def _score_records(self, records: Sequence[Mapping[str, Any]]) -> tuple[np.ndarray, list, list]:
        """Smoothed patch maps, (bytes, info) and warnings per record; unreadable images refused."""
        column, loaded, arrays, errors = self.image_column, [], [], []
        for i, record in enumerate(records):
            loc = ["body", "records", i, column]
            try:
                value = record.get(column) if isinstance(record, Mapping) else None
                data, info, array = self._decode(value, loc)
            except InvalidInput as exc:
                errors.extend(exc.errors or [{"loc": loc, "msg": exc.detail}])
                continue
            loaded.append((data, info))
            arrays.append(array)
        if errors:
            raise InvalidInput(
                f"{len(errors)} record(s) have no readable image in {column!r}", errors=errors[:50]
            )
        maps = np.concatenate(
            [
                self._maps(self.extractor_(np.stack(arrays[b : b + BATCH])))
                for b in range(0, len(arrays), BATCH)
            ]
        )
        return maps, loaded, [R.image_warnings(info, self.train_images_) for _, info in loaded]

    def predict(self, records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Per record: ``{"score", "threshold", "anomaly", "warnings"}``; anomaly means score > threshold."""
        self._check_fitted()
        if not records:
            return []
        maps, _, warns = self._score_records(records)
        scores = maps.reshape(len(maps), -1).max(axis=1)
        t = self.threshold_
        return [
            {"score": float(s), "threshold": t, "anomaly": bool(s > t), "warnings": w}
            for s, w in zip(scores, warns, strict=True)
        ]

    def drift_outputs(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The anomaly score and decision per image (the threshold is the model's, always the same)."""
        answers = self.predict(frame.to_dict("records"))
        return pd.DataFrame(
            {"score": [a["score"] for a in answers], "anomaly": [a["anomaly"] for a in answers]}
        )

    def drift_embeddings(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        """The backbone's patch features of each readable image, averaged over the image: what the
        detector compares with its memory of good parts. Unreadable images are left out."""
        self._check_fitted()
        if self.image_column not in frame.columns:
            return {}
        arrays = readable_pixels(
            frame[self.image_column], lambda value, loc: self._decode(value, loc)[2], self.image_column
        )
        if not arrays:
            return {}
        pooled = [
            self.extractor_(np.stack(arrays[b : b + BATCH])).mean(axis=(2, 3))
            for b in range(0, len(arrays), BATCH)
        ]
        return {self.image_column: np.concatenate(pooled).astype(np.float32)}

    def predict_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Batch scoring: ``score``, ``threshold``, ``anomaly`` and ``warning`` per row, in order; a
        row whose image cannot be read gets empty cells and the reason in ``warning``."""
        self._check_fitted()
        if self.image_column not in frame.columns:
            raise InvalidInput(f"the file has no column {self.image_column!r}")
        scores: list[float] = []
        flags: list[bool | None] = []
        warnings: list[str | None] = []
        for value in frame[self.image_column].to_numpy(dtype=object):
            try:
                answer = self.predict([{self.image_column: value}])[0]
            except InvalidInput as exc:
                scores.append(np.nan)
                flags.append(None)
                warnings.append(exc.detail)
                continue
            scores.append(answer["score"])
            flags.append(answer["anomaly"])
            warnings.append("; ".join(answer["warnings"]) or None)
        return pd.DataFrame(
            {
                "score": np.array(scores, dtype=float),
                "threshold": self.threshold_,
                "anomaly": pd.Series(flags, dtype=object, index=frame.index),
                "warning": pd.Series(warnings, dtype=object, index=frame.index),
            },
            index=frame.index,
        )

    # ------------------------------------------------------------------ explain
    def explain(
        self, records: Sequence[Mapping[str, Any]], method: str = "anomaly_map"
    ) -> list[dict[str, Any]]:
        """Per record: score, threshold, anomaly, ``map`` (grid of the scale :data:`MAP_SCALE`, one
        cell per 8x8 pixels of the resized image), ``map_png`` (base64 overlay) and
        ``contributions``: the top regions as pixel boxes of the original image."""
        self._check_fitted()
        if method not in EXPLAIN_METHODS:
            raise InvalidInput(
                f"unknown explanation method {method!r}; image anomaly models explain by 'anomaly_map'",
                errors=[{"loc": ["query", "method"], "msg": "unknown method"}],
            )
        if not records:
            return []
        maps, loaded, _ = self._score_records(records)
        out = []
        for raw, (data, info) in zip(maps, loaded, strict=True):
            grid = anomaly_map.normalise(raw, self.typical_, self.threshold_)
            score = float(raw.max())
            out.append(
                {
                    "method": "anomaly_map",
                    "score": score,
                    "threshold": self.threshold_,
                    "anomaly": bool(score > self.threshold_),
                    "map": np.round(grid, 4).tolist(),
                    "map_scale": MAP_SCALE,
                    "map_png": anomaly_map.overlay_png(data, grid),
                    "contributions": anomaly_map.regions(grid, info.width, info.height),
                }
            )
        return out

    # ------------------------------------------------------------------ persistence
    def save(self) -> dict[str, bytes]:
        from safetensors.numpy import save

        self._check_fitted()
        state = {
            "format": FORMAT_VERSION,
            "params": {**self.get_params(), "column_types": None},
            "extractor": self.extractor_.config(),
            "threshold": self.threshold_,
            "typical": self.typical_,
            "train_images": self.train_images_,
            "input_schema": self.input_schema_,
            "report": self.report_,
        }
        arrays = {
            **self.memory_.arrays(),
            **{f"extractor.{k}": v for k, v in self.extractor_.weights.items()},
        }
        return {ESTIMATOR_FILE: json.dumps(state).encode(), WEIGHTS_FILE: save(arrays)}

    @classmethod
    def load(cls, files: Mapping[str, bytes]) -> Self:
        from safetensors import SafetensorError
        from safetensors.numpy import load

        try:
            state = json.loads(files[ESTIMATOR_FILE])
            if not isinstance(state, dict) or state.get("format") != FORMAT_VERSION:
                raise ArtifactCorrupted("image anomaly artifact: estimator.json is not a supported state")
            arrays = load(files[WEIGHTS_FILE])
            est = cls(**without_backbone_dir(state["params"]))
            config = state["extractor"]
            weights = {
                k.removeprefix("extractor."): v for k, v in arrays.items() if k.startswith("extractor.")
            }
            est.extractor_ = PatchExtractor(config["kind"], int(config["size"]), weights or None)
            est.memory_ = PatchMemory.from_arrays(arrays)
            if est.extractor_.channels != est.memory_.bank.shape[1] or est.extractor_.size != est.size:
                raise ArtifactCorrupted("image anomaly artifact: the memory does not fit the extractor")
            est.threshold_, est.typical_ = float(state["threshold"]), float(state["typical"])
            est.train_images_, est.input_schema_, est.report_ = (
                dict(state["train_images"]),
                list(state["input_schema"]),
                dict(state["report"]),
            )
        except ArtifactCorrupted:
            raise
        except (KeyError, ValueError, TypeError, AttributeError, SafetensorError) as exc:
            raise ArtifactCorrupted(f"image anomaly artifact cannot be read: {exc}") from exc
        return est


# ---------------------------------------------------------------------- helpers
