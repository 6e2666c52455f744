"""Text classification of work orders, maintenance logs and complaints (``task: "text_classification"``).

:class:`TextClassifier` implements :class:`~shopfloor.tasks.base.Estimator`. It holds out a
stratified 20 % test split and, on the other 80 %, compares by cross-validated macro-F1 (or the
chosen metric) a linear head on TF-IDF word and character n-grams, one on frozen sentence
embeddings from a hub encoder (all-MiniLM-L6-v2 by default) and one on both (see
:mod:`shopfloor.tasks.text.models`). The winner is refit on the 80 % and reported on the 20 %,
so the report describes exactly the served model; the spread of its fold scores is its stability.

A label column with ``label_separator`` set is multi-label ("hydraulics|engine"): one binary
head per label, a label predicted when its probability reaches 0.5.
Explanations are word occlusions with character offsets (:mod:`shopfloor.tasks.text.explain`).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd

from shopfloor.errors import ArtifactCorrupted, Conflict, InvalidInput, NotFitted, NotFound
from shopfloor.evaluation import metrics as M
from shopfloor.evaluation.calibration import fit_platt
from shopfloor.evaluation.stability import summarize
from shopfloor.hub.catalog import ALL_VARIANTS, BUILTIN_NAME
from shopfloor.tasks.base import BaseEstimator, Capabilities, ProgressFn, no_progress
from shopfloor.tasks.options import option_error
from shopfloor.tasks.text import TEXT_CLASSIFICATION
from shopfloor.tasks.text.explain import occlusion
from shopfloor.tasks.text.models import CANDIDATES, FrozenModel, uses_embedding

logger = logging.getLogger(__name__)

ESTIMATOR_FILE = "estimator.json"
FORMAT_VERSION = 1
#: Texts are cut to this many characters (with a warning); work orders are far shorter.
MAX_CHARS = 2000
MIN_CLASS_ROWS = 5
CV_FOLDS = 5
MULTI_LABEL_METRICS = ("f1",)
FINE_TUNED = "fine_tuned"
#: Every candidate; "fine_tuned" runs only when the data is large enough and its timed estimate fits.
ALL_CANDIDATES = (*CANDIDATES, FINE_TUNED)
EXPLAIN_METHODS = TEXT_CLASSIFICATION.explain  # occlusion, also under the protocol's default name "shap"


class TextClassifier(BaseEstimator):
    """One text column -> one label (or several, with ``label_separator``).

    ``text_column``: default, the one column the dataset profile types as text;
    ``candidates``: which of "tfidf", "embedding", "combined", "fine_tuned" to compare (default all;
    fine-tuning the encoder is tried when the training split has at least
    :data:`~shopfloor.tasks.text.finetune.MIN_ROWS` texts, or when named explicitly, and only if a timed
    estimate of its cross-validation fits what is left of ``time_budget_s``);
    ``encoder`` / ``encoder_variant``: the hub model and runtime (torch, onnx, int8) for embeddings.
    """

    declared: ClassVar[Mapping[str, Capabilities]] = {"text_classification": TEXT_CLASSIFICATION}

    task: ClassVar[str] = "text_classification"

    def __init__(
        self,
        text_column: str | None = None,
        label_separator: str | None = None,
        candidates: Sequence[str] | None = None,
        encoder: str = BUILTIN_NAME,
        encoder_variant: str = "int8",
        metric: str | None = None,
        time_budget_s: float = 300,
        seed: int = 0,
        column_types: dict[str, str] | None = None,
    ) -> None:
        self.text_column = text_column
        self.label_separator = label_separator
        self.candidates = candidates
        self.encoder = encoder
        self.encoder_variant = encoder_variant
        self.metric = metric
        self.time_budget_s = time_budget_s
        self.seed = seed
        self.column_types = column_types

    # ------------------------------------------------------------------ options
    def check_options(self) -> None:
        """Refuse impossible option values before any work (a 422 at ``["body", "options", name]``)."""
        self._settled_options()

    def _settled_options(self) -> list[str]:
        """Refuse impossible options before any work; returns the candidates to compare."""
        chosen = list(self.candidates) if self.candidates is not None else list(ALL_CANDIDATES)
        unknown = [c for c in chosen if c not in ALL_CANDIDATES]
        if not chosen or unknown or len(set(chosen)) != len(chosen):
            raise option_error("candidates", f"choose among {', '.join(ALL_CANDIDATES)}; got {chosen}")
        if self.label_separator is not None and (
            not isinstance(self.label_separator, str) or not self.label_separator.strip()
        ):
            raise option_error("label_separator", "must be a non-blank string such as '|' or ';'")
        if self.encoder_variant not in ALL_VARIANTS:
            raise option_error("encoder_variant", f"choose one of {', '.join(ALL_VARIANTS)}")
        if any(uses_embedding(c) or c == FINE_TUNED for c in chosen):
            from shopfloor.hub.encoders import default_encoder

            try:
                default_encoder(self.encoder, self.encoder_variant)
            except NotFound as exc:
                raise option_error("encoder", exc.detail) from None
            except InvalidInput as exc:
                raise option_error("encoder_variant", exc.detail) from None
        return chosen

    def settle_text_column(self, types: Mapping[str, str], target: str) -> str:
        """The column to read texts from: ``text_column``, or the one column of ``types`` (column ->
        profile type, target excluded) typed text. Raises ``InvalidInput`` at ``options.text_column``."""
        if self.text_column is not None:
            if self.text_column not in types:
                raise option_error("text_column", f"no column {self.text_column!r} in the table")
            if self.text_column == target:
                raise option_error("text_column", "the text column cannot also be the target")
            return self.text_column
        texts = [c for c, kind in types.items() if c != target and kind == "text"]
        if len(texts) != 1:
            found = ", ".join(texts) if texts else "none"
            raise option_error("text_column", f"name the text column; columns typed text: {found}")
        return str(texts[0])

    def settle_options(
        self,
        options: dict[str, Any],
        columns: Sequence[Mapping[str, Any]],
        request: Mapping[str, Any],
        dataset: str,
    ) -> dict[str, Any]:
        """The options with ``text_column`` settled from the profile (excluded columns left out)."""
        excluded = set(request.get("exclude") or [])
        types = {c["name"]: c["type"] for c in columns if c["name"] not in excluded}
        options["text_column"] = self.settle_text_column(types, request["target"])
        return options

    def _text_column(self, frame: pd.DataFrame, target: str) -> str:
        types = {c: t for c, t in (self.column_types or {}).items() if c in frame.columns}
        if not types:
            from shopfloor.data.profile import column_types, profile_frame

            types = column_types(profile_frame(frame))
        return self.settle_text_column(types, target)

    # ------------------------------------------------------------------ fit
    def fit(self, frame: pd.DataFrame, target: str, progress: ProgressFn = no_progress) -> Self:
        """Compare the candidates, refit the best and report it on the hold-out split."""
        t0 = time.perf_counter()
        # frozen candidates first: they are cheap, and the first one runs whatever the budget
        chosen_candidates = sorted(self._settled_options(), key=lambda c: c == FINE_TUNED)
        if target not in frame.columns:
            raise InvalidInput(
                f"target column {target!r} is not in the table",
                errors=[{"loc": ["params", "target"], "msg": "unknown column"}],
            )
        column = self._text_column(frame, target)
        progress(0.0, "preparing", f"reading texts from {column!r} and labels from {target!r}")
        texts, y, classes, multi, notes, positions = self._labelled_texts(frame, column, target)
        metric = self._check_metric(len(classes), multi)
        tr, te = self._holdout_split(len(texts), y, multi)
        self.holdout_rows_ = positions[te]
        embeddings = self._embed(chosen_candidates, texts, notes, progress)
        folds = self._cv_folds(tr, y, multi)
        budget_end = t0 + float(self.time_budget_s)
        results = self._compare(
            chosen_candidates,
            texts,
            embeddings,
            y,
            tr,
            folds,
            classes,
            multi,
            metric,
            budget_end,
            notes,
            progress,
        )
        lower = not M.greater_is_better(metric)
        best = (
            min(results, key=lambda r: r["cv_score"]) if lower else max(results, key=lambda r: r["cv_score"])
        )

        progress(0.85, "evaluation", f"refitting {best['name']} on the training split")
        self.model_ = self._fit_model(best["name"], texts, embeddings, tr, y, len(classes), multi)
        self.candidate_ = best["name"]
        self.classes_, self.multi_label_, self.text_column_ = classes, multi, column
        proba_te = self.model_.predict_proba(_take(texts, te), _rows(embeddings, te))
        holdout = (
            _multi_report(y[te], proba_te, classes) if multi else _single_report(y[te], proba_te, classes)
        )

        self.input_schema_ = [{"name": column, "type": "text", "max_chars": MAX_CHARS}]
        self.report_ = self._fit_report(
            target, metric, holdout, results, best, len(folds), (tr, te), notes, t0
        )
        if not multi:  # the served probabilities against the held-out classes (plain numbers)
            self.report_["calibration"] = fit_platt(y[te], proba_te)
        progress(1.0, "done", f"{best['name']}: hold-out {metric} = {holdout.get(metric, float('nan')):.4f}")
        return self

    def _labelled_texts(
        self, frame: pd.DataFrame, column: str, target: str
    ) -> tuple[list[str], np.ndarray, list[Any], bool, list[dict[str, Any]], np.ndarray]:
        """The usable texts and their encoded labels (one class, or a 0/1 row per class when
        multi-label): texts, labels, classes, whether multi-label, notes on rows left out, and the
        positions of the texts' rows in ``frame``."""
        texts, labels, notes = _clean_rows(frame[column], frame[target])
        positions = np.flatnonzero(_usable(frame[column], frame[target]))
        multi = self.label_separator is not None
        y, classes, more = (
            _encode_multi(labels, str(self.label_separator)) if multi else _encode_single(labels, target)
        )
        notes += more
        if not multi:
            keep = y >= 0
            texts, y, positions = [t for t, k in zip(texts, keep, strict=True) if k], y[keep], positions[keep]
        return texts, y, classes, multi, notes, positions

    def _holdout_split(self, n_rows: int, y: np.ndarray, multi: bool) -> tuple[np.ndarray, np.ndarray]:
        """Training and hold-out row numbers (80/20, stratified unless multi-label), each sorted."""
        from sklearn.model_selection import train_test_split

        rows = np.arange(n_rows)
        tr, te = train_test_split(rows, test_size=0.2, random_state=self.seed, stratify=None if multi else y)
        return np.sort(tr), np.sort(te)

    def _embed(
        self, candidates: list[str], texts: list[str], notes: list[dict[str, Any]], progress: ProgressFn
    ) -> np.ndarray | None:
        """The texts' embeddings when a candidate uses them (None otherwise); the encoder's
        fingerprint when a candidate needs the encoder, and a note on texts cut to its length."""
        embeddings = None
        if any(_needs_encoder(c) for c in candidates):
            from shopfloor.hub.catalog import fingerprint
            from shopfloor.hub.encoders import default_entry

            self.encoder_fingerprint_ = fingerprint(default_entry(self.encoder).path)
        if any(uses_embedding(c) for c in candidates):
            progress(0.02, "embedding", f"embedding {len(texts)} texts with {self.encoder}")
            encoder = self._encoder()
            embeddings, truncated = encoder.embed_checked(texts)
            if truncated:
                notes.append(
                    _note(
                        "text-truncated",
                        f"{len(truncated)} texts longer than "
                        f"{encoder.max_tokens} tokens were cut for the encoder",
                    )
                )
        return embeddings

    def _cv_folds(self, tr: np.ndarray, y: np.ndarray, multi: bool) -> list[tuple[np.ndarray, np.ndarray]]:
        """Cross-validation folds over the training rows (positions in ``tr``), stratified unless
        multi-label."""
        from sklearn.model_selection import KFold, StratifiedKFold

        y_tr = y[tr]
        if multi:
            return list(KFold(CV_FOLDS, shuffle=True, random_state=self.seed).split(tr))
        n_splits = int(min(CV_FOLDS, np.bincount(y_tr).min()))
        return list(StratifiedKFold(n_splits, shuffle=True, random_state=self.seed).split(tr, y_tr))

    def _compare(
        self,
        candidates: list[str],
        texts: list[str],
        embeddings: np.ndarray | None,
        y: np.ndarray,
        tr: np.ndarray,
        folds: list[tuple[np.ndarray, np.ndarray]],
        classes: list[Any],
        multi: bool,
        metric: str,
        budget_end: float,
        notes: list[dict[str, Any]],
        progress: ProgressFn,
    ) -> list[dict[str, Any]]:
        """Cross-validate the candidates in turn, skipping one the time budget cannot hold (the
        first always runs): one result per candidate run, with its fold scores."""
        results: list[dict[str, Any]] = []
        for i, candidate in enumerate(candidates):
            skip = self._skip(candidate, [texts[j] for j in tr], len(folds), len(classes), multi, budget_end)
            if skip and results:  # the first candidate always runs, so there is a model
                notes.append(_note("candidate-skipped", f"candidate {candidate!r} skipped: {skip}"))
                continue
            started = time.perf_counter()
            scores = []
            for k, (a, b) in enumerate(folds):
                progress(
                    0.1 + 0.7 * (i + k / len(folds)) / len(candidates),
                    "cross-validation",
                    f"{candidate}: fold {k + 1} of {len(folds)}",
                )
                model = self._fit_model(candidate, texts, embeddings, tr[a], y, len(classes), multi)
                proba = model.predict_proba(_take(texts, tr[b]), _rows(embeddings, tr[b]))
                scores.append(_score(metric, y[tr[b]], proba, multi))
            results.append(
                {
                    "name": candidate,
                    "cv_score": float(np.mean(scores)),
                    "cv_std": float(np.std(scores)),
                    "folds": [float(s) for s in scores],
                    "seconds": round(time.perf_counter() - started, 2),
                }
            )
        return results

    def _fit_report(
        self,
        target: str,
        metric: str,
        holdout: dict[str, Any],
        results: list[dict[str, Any]],
        best: dict[str, Any],
        n_folds: int,
        split: tuple[np.ndarray, np.ndarray],
        notes: list[dict[str, Any]],
        t0: float,
    ) -> dict[str, Any]:
        """The fit report: hold-out metrics, the chosen candidate's fold spread, every candidate."""
        return {
            "task": self.task,
            "target": target,
            "text_column": self.text_column_,
            "kind": "classification",
            "multi_label": self.multi_label_,
            "label_separator": self.label_separator,
            "classes": self.classes_,
            "metric": metric,
            "metrics": holdout,
            "stability": {
                "method": f"{n_folds}-fold cross-validation on the training split, chosen candidate",
                "metrics": summarize({metric: best["folds"]}),
            },
            "candidates": results,
            "chosen": best["name"],
            "cv_score": best["cv_score"],
            "encoder": self._encoder_report() if _needs_encoder(best["name"]) else None,
            "warnings": notes,
            "n_train": int(len(split[0])),
            "n_test": int(len(split[1])),
            "cv_folds": n_folds,
            "fit_seconds": round(time.perf_counter() - t0, 3),
        }

    def _check_metric(self, n_classes: int, multi: bool) -> str:
        if multi and self.metric not in (None, *MULTI_LABEL_METRICS):
            raise InvalidInput(
                f"multi-label models are selected by macro-F1 ('f1'), not {self.metric!r}",
                errors=[{"loc": ["params", "metric"], "msg": "not available for multi-label"}],
            )
        return M.check_metric("classification", self.metric, max(n_classes, 2))

    def _encoder(self) -> Any:
        from shopfloor.hub.encoders import default_encoder

        return default_encoder(self.encoder, self.encoder_variant)

    def _encoder_report(self) -> dict[str, Any]:
        return {
            "name": self.encoder,
            "variant": self.encoder_variant,
            "fingerprint": self.encoder_fingerprint_,
        }

    def _skip(
        self, candidate: str, texts: list[str], n_folds: int, n_classes: int, multi: bool, budget_end: float
    ) -> str | None:
        """Why ``candidate`` is not tried now (None: try it)."""
        left = budget_end - time.perf_counter()
        if candidate != FINE_TUNED:
            return "time budget spent" if left <= 0 else None
        from shopfloor.hub.encoders import default_entry
        from shopfloor.tasks.text import finetune as text_finetune

        explicit = self.candidates is not None and FINE_TUNED in self.candidates
        if not explicit and len(texts) < text_finetune.MIN_ROWS:
            return f"{len(texts)} training texts; fine-tuning is tried from {text_finetune.MIN_ROWS}"
        path = default_entry(self.encoder).path
        needed = text_finetune.estimate_seconds(path, texts, n_folds + 1, n_classes, multi)
        if needed > left:
            return f"fine-tuning needs about {needed:.0f} s, {max(left, 0):.0f} s of the time budget left"
        return None

    def _fit_model(
        self,
        candidate: str,
        texts: list[str],
        embeddings: np.ndarray | None,
        rows: np.ndarray,
        y: np.ndarray,
        n_classes: int,
        multi: bool,
    ) -> Any:
        """The candidate fitted on ``rows``: a :class:`FrozenModel` or a fine-tuned encoder."""
        if candidate == FINE_TUNED:
            from shopfloor.hub.encoders import default_entry
            from shopfloor.tasks.text.finetune import FineTuned

            model: Any = FineTuned(default_entry(self.encoder).path, n_classes, multi, self.seed)
        else:
            model = FrozenModel(candidate, n_classes, multi, self.seed)
        return model.fit(_take(texts, rows), _rows(embeddings, rows), y[rows])

    # ------------------------------------------------------------------ predict
    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise NotFitted("this TextClassifier is not fitted yet; call fit() or load()")

    def _texts(self, records: Sequence[Mapping[str, Any]]) -> tuple[list[str], list[list[str]]]:
        """The records' texts (cut to MAX_CHARS, with a warning); empty or missing ones refused."""
        column, texts, warns, errors = self.text_column_, [], [], []
        for i, record in enumerate(records):
            value = record.get(column) if isinstance(record, Mapping) else None
            if not isinstance(value, str) or not value.strip():
                what = "missing" if value is None else ("empty" if isinstance(value, str) else "not a string")
                errors.append({"loc": ["body", "records", i, column], "msg": f"text is {what}"})
                continue
            texts.append(value[:MAX_CHARS])
            warns.append(
                [f"text is longer than {MAX_CHARS} characters; the rest was ignored"]
                if len(value) > MAX_CHARS
                else []
            )
        if errors:
            raise InvalidInput(f"{len(errors)} record(s) have no text in {column!r}", errors=errors[:50])
        return texts, warns

    def _proba(self, texts: list[str]) -> tuple[np.ndarray, list[int]]:
        embeddings, truncated = None, []
        if _needs_encoder(self.candidate_):
            from shopfloor.hub.catalog import fingerprint
            from shopfloor.hub.encoders import default_entry

            found, expected = (
                fingerprint(default_entry(self.encoder).path),
                self.report_["encoder"]["fingerprint"],
            )
            if found != expected:
                raise Conflict(
                    f"the hub's {self.encoder!r} weights changed since this model was trained "
                    f"({found} != {expected}); retrain the model on the current encoder"
                )
        if uses_embedding(self.candidate_):
            embeddings, truncated = self._encoder().embed_checked(texts)
        return self.model_.predict_proba(texts, embeddings), truncated

    def _answer(self, row: np.ndarray) -> dict[str, Any]:
        names = [str(c) for c in self.classes_]
        proba = dict(zip(names, (float(p) for p in row), strict=True))
        if self.multi_label_:
            return {
                "labels": [c for c, p in zip(self.classes_, row, strict=True) if p >= 0.5],
                "probabilities": proba,
            }
        return {"label": self.classes_[int(row.argmax())], "probabilities": proba}

    def predict(self, records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """One result per record: ``{"label" (or "labels"), "probabilities", "warnings"}``."""
        self._check_fitted()
        if not records:
            return []
        texts, warns = self._texts(records)
        proba, truncated = self._proba(texts)
        for i in truncated:
            warns[i].append("text is longer than the encoder's token limit; the rest was ignored")
        return [{**self._answer(row), "warnings": w} for row, w in zip(proba, warns, strict=True)]

    def predict_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Batch scoring: ``prediction`` (labels joined by the separator when multi-label) and
        ``proba_<class>``; rows without text get empty cells and are counted in the log."""
        self._check_fitted()
        if self.text_column_ not in frame.columns:
            raise InvalidInput(f"the file has no column {self.text_column_!r}")
        values = frame[self.text_column_]
        usable = values.map(lambda v: isinstance(v, str) and bool(v.strip())).to_numpy(bool)
        if not usable.all():
            logger.warning("%d rows without text were not scored", int((~usable).sum()))
        out = pd.DataFrame(index=frame.index)
        proba = np.full((len(frame), len(self.classes_)), np.nan)
        if usable.any():
            proba[usable] = self._proba([str(v)[:MAX_CHARS] for v in values[usable]])[0]
        labels: list[Any] = [None] * len(frame)
        for i in np.flatnonzero(usable):
            answer = self._answer(proba[i])
            labels[i] = (
                str(self.label_separator).join(map(str, answer["labels"]))
                if self.multi_label_
                else answer["label"]
            )
        out["prediction"] = labels
        for k, c in enumerate(self.classes_):
            out[f"proba_{c}"] = proba[:, k]
        return out

    def drift_embeddings(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        """The texts' sentence embeddings from the model's own encoder (``encoder``, ``encoder_variant``),
        whichever candidate was chosen: a drift check reads what the texts mean, not only their words."""
        self._check_fitted()
        if self.text_column_ not in frame.columns:
            return {}
        texts = [v[:MAX_CHARS] for v in frame[self.text_column_] if isinstance(v, str) and v.strip()]
        return {self.text_column_: self._encoder().embed(texts)}

    # ------------------------------------------------------------------ explain
    def explain(
        self, records: Sequence[Mapping[str, Any]], method: str = "occlusion"
    ) -> list[dict[str, Any]]:
        """Per record: the explained class, its probability (``output``), the probability for an
        empty text (``base_value``) and each word's weight with its character offsets."""
        self._check_fitted()
        if method not in EXPLAIN_METHODS:
            raise InvalidInput(
                f"unknown explanation method {method!r}; text models explain by 'occlusion'",
                errors=[{"loc": ["query", "method"], "msg": "unknown method"}],
            )
        if not records:
            return []
        texts, _ = self._texts(records)
        full, _ = self._proba(texts)
        explained = [int(row.argmax()) for row in full]
        found = occlusion(texts, explained, lambda variants: self._proba_any(variants))
        return [
            {
                "method": "occlusion",
                "class": self.classes_[k],
                "output_space": "probability",
                "text_column": self.text_column_,
                **e,
            }
            for k, e in zip(explained, found, strict=True)
        ]

    def _proba_any(self, texts: list[str]) -> np.ndarray:
        """Probabilities for texts that may be blank (occlusion variants): blank means no words."""
        return self._proba([t if t.strip() else " " for t in texts])[0]

    # ------------------------------------------------------------------ persistence
    # ------------------------------------------------------------------ comparing two models
    def holdout_rows(self) -> np.ndarray | None:
        """Row numbers, in the table given to ``fit``, of the hold-out split (None once loaded)."""
        return getattr(self, "holdout_rows_", None)

    def row_scorer(self, frame: pd.DataFrame, target: str) -> Callable[[np.ndarray], dict[str, float]]:
        """The hold-out report's scalar metrics on any selection of the labelled rows; a label the
        model never learnt counts against it (multi-label: only the labels it knows are scored)."""
        self._check_fitted()
        for column in (target, self.text_column_):
            if column not in frame.columns:
                raise InvalidInput(f"no column {column!r} among the rows to score")
        texts, _ = self._texts(frame[[self.text_column_]].to_dict("records"))
        proba = self._proba(texts)[0]
        labels = frame[target].to_numpy(dtype=object)
        if self.multi_label_:
            separator = str(self.label_separator)
            sets = [{part.strip() for part in str(v).split(separator)} for v in labels]
            y = np.array([[c in found for c in self.classes_] for found in sets], dtype=int)

            def multi(take: np.ndarray) -> dict[str, float]:
                return M.scalar_metrics(_multi_report(y[take], proba[take], self.classes_))

            return multi

        classes = self.classes_

        def single(take: np.ndarray) -> dict[str, float]:
            report = M.report_on_labels("classification", list(labels[take]), proba[take], classes, None)
            return M.scalar_metrics(report)

        return single

    def save(self) -> dict[str, bytes]:
        self._check_fitted()
        state = {
            "format": FORMAT_VERSION,
            "params": {**self.get_params(), "column_types": None},
            "candidate": self.candidate_,
            "classes": self.classes_,
            "multi_label": self.multi_label_,
            "text_column": self.text_column_,
            "input_schema": self.input_schema_,
            "report": self.report_,
        }
        return {ESTIMATOR_FILE: json.dumps(state).encode(), **self.model_.files()}

    @classmethod
    def load(cls, files: Mapping[str, bytes]) -> Self:
        try:
            state = json.loads(files[ESTIMATOR_FILE])
            if not isinstance(state, dict) or state.get("format") != FORMAT_VERSION:
                raise ArtifactCorrupted("text artifact: estimator.json is not a supported text model state")
            est = cls(**state["params"])
            est.candidate_ = str(state["candidate"])
            est.classes_, est.multi_label_ = list(state["classes"]), bool(state["multi_label"])
            est.text_column_, est.input_schema_, est.report_ = (
                state["text_column"],
                state["input_schema"],
                state["report"],
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise ArtifactCorrupted(f"text artifact cannot be read: {exc}") from exc
        if est.candidate_ == FINE_TUNED:
            from shopfloor.hub.encoders import default_entry
            from shopfloor.tasks.text.finetune import FineTuned

            try:
                path = default_entry(est.encoder).path
            except NotFound as exc:
                raise ArtifactCorrupted(f"text model: its encoder is not in the hub: {exc.detail}") from exc
            est.model_ = FineTuned.from_files(files, path, len(est.classes_), est.multi_label_)
        else:
            est.model_ = FrozenModel.from_files(files)
            model = est.model_
            if (model.candidate, model.multi_label, model.n_classes) != (
                est.candidate_,
                est.multi_label_,
                len(est.classes_),
            ):
                raise ArtifactCorrupted("text artifact: the model files do not match estimator.json")
        return est


# ---------------------------------------------------------------------- helpers
def _needs_encoder(candidate: str) -> bool:
    return uses_embedding(candidate) or candidate == FINE_TUNED


def _take(texts: list[str], rows: np.ndarray) -> list[str]:
    return [texts[i] for i in rows]


def _rows(embeddings: np.ndarray | None, rows: np.ndarray) -> np.ndarray | None:
    return None if embeddings is None else embeddings[rows]


def _note(code: str, message: str) -> dict[str, str]:
    return {"code": code, "message": message}


def _has_text(values: np.ndarray) -> np.ndarray:
    return np.array([isinstance(v, str) and bool(v.strip()) for v in values], dtype=bool)


def _usable(texts: pd.Series, labels: pd.Series) -> np.ndarray:
    """Rows with a label and a non-blank text (those :func:`_clean_rows` keeps)."""
    return labels.notna().to_numpy() & _has_text(texts.to_numpy(dtype=object))


def _clean_rows(texts: pd.Series, labels: pd.Series) -> tuple[list[str], list[Any], list[dict[str, str]]]:
    """Rows with a label and a non-blank text; texts cut to MAX_CHARS. Notes say what was dropped."""
    notes = []
    labelled = labels.notna().to_numpy()
    if not labelled.all():
        notes.append(_note("target-missing", f"{int((~labelled).sum())} rows without a label dropped"))
    values = texts.to_numpy(dtype=object)
    has_text = _has_text(values)
    empty = labelled & ~has_text
    if empty.any():
        notes.append(_note("text-empty", f"{int(empty.sum())} rows with an empty text dropped"))
    keep = labelled & has_text
    long = sum(len(v) > MAX_CHARS for v in values[keep])
    if long:
        notes.append(_note("text-long", f"{long} texts longer than {MAX_CHARS} characters were cut"))
    return [str(v)[:MAX_CHARS] for v in values[keep]], labels.to_numpy(dtype=object)[keep].tolist(), notes


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _encode_single(labels: list[Any], target: str) -> tuple[np.ndarray, list[Any], list[dict[str, str]]]:
    """Class codes; classes with fewer than MIN_CLASS_ROWS rows are dropped with a note (code -1)."""
    counts = pd.Series(labels, dtype=object).value_counts()
    rare = counts[counts < MIN_CLASS_ROWS]
    notes = []
    if len(rare) and len(counts) - len(rare) >= 2:
        notes.append(
            _note(
                "rare-classes",
                f"{len(rare)} classes with fewer than {MIN_CLASS_ROWS} rows "
                f"({int(rare.sum())} rows) dropped: {', '.join(map(str, rare.index[:10]))}",
            )
        )
        counts = counts[counts >= MIN_CLASS_ROWS]
    if len(counts) < 2:
        raise InvalidInput(
            f"target {target!r} has {len(counts)} class(es) with at least {MIN_CLASS_ROWS} rows; "
            "classification needs two",
            errors=[{"loc": ["body", "target"], "msg": "fewer than two classes"}],
        )
    classes = sorted((_plain(c) for c in counts.index), key=lambda v: (str(type(v)), v))
    index = {c: k for k, c in enumerate(classes)}
    # rows of dropped classes get -1 and leave the data
    return np.array([index.get(_plain(v), -1) for v in labels]), classes, notes


def _encode_multi(labels: list[Any], separator: str) -> tuple[np.ndarray, list[Any], list[dict[str, str]]]:
    """A 0/1 matrix (rows x labels); labels with fewer than MIN_CLASS_ROWS rows are dropped."""
    sets = [{part.strip() for part in str(v).split(separator) if part.strip()} for v in labels]
    counts = pd.Series([lab for s in sets for lab in s], dtype=object).value_counts()
    kept = sorted(str(c) for c in counts.index if counts[c] >= MIN_CLASS_ROWS)
    notes = []
    if len(kept) < len(counts):
        notes.append(
            _note(
                "rare-labels",
                f"{len(counts) - len(kept)} labels with fewer than {MIN_CLASS_ROWS} rows dropped",
            )
        )
    if len(kept) < 2:
        raise InvalidInput(
            f"the label column has {len(kept)} label(s) with at least {MIN_CLASS_ROWS} rows; "
            "multi-label classification needs two",
            errors=[{"loc": ["body", "target"], "msg": "fewer than two labels"}],
        )
    matrix = np.array([[lab in s for lab in kept] for s in sets], dtype=int)
    return matrix, kept, notes


def _score(metric: str, y: np.ndarray, proba: np.ndarray, multi: bool) -> float:
    if multi:
        from sklearn.metrics import f1_score

        return float(f1_score(y, (proba >= 0.5).astype(int), average="macro", zero_division=0))
    return M.score(metric, y, proba)


def _single_report(y: np.ndarray, proba: np.ndarray, classes: list[Any]) -> dict[str, Any]:
    from sklearn.metrics import precision_recall_fscore_support

    report = M.classification_report(y, proba, classes)
    labels = proba.argmax(axis=1)
    p, r, f, n = precision_recall_fscore_support(y, labels, labels=list(range(len(classes))), zero_division=0)
    report["per_class"] = [
        {"class": c, "precision": float(p[k]), "recall": float(r[k]), "f1": float(f[k]), "support": int(n[k])}
        for k, c in enumerate(classes)
    ]
    return report


def _multi_report(y: np.ndarray, proba: np.ndarray, classes: list[Any]) -> dict[str, Any]:
    from sklearn.metrics import f1_score, hamming_loss, precision_recall_fscore_support

    pred = (proba >= 0.5).astype(int)
    p, r, f, n = precision_recall_fscore_support(y, pred, zero_division=0)
    return {
        "f1": float(f1_score(y, pred, average="macro", zero_division=0)),
        "f1_micro": float(f1_score(y, pred, average="micro", zero_division=0)),
        "subset_accuracy": float((pred == y).all(axis=1).mean()),
        "hamming_loss": float(hamming_loss(y, pred)),
        "per_class": [
            {
                "class": c,
                "precision": float(p[k]),
                "recall": float(r[k]),
                "f1": float(f[k]),
                "support": int(n[k]),
            }
            for k, c in enumerate(classes)
        ],
        "n": int(len(y)),
    }
