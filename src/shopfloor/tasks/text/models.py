"""Candidate text classifiers: TF-IDF n-grams, frozen sentence embeddings, and both, each with a
linear head; stored as JSON (vocabularies) and safetensors (weights), never pickle.

Features:
- ``tfidf``: word uni- and bigrams plus character 2-5-grams within words (robust to the
  abbreviations and misspellings of work orders: "CYL", "cylinder", "cyl.").
- ``embedding``: the unit-length sentence embedding of a pretrained encoder (frozen).
- ``combined``: both side by side, the embedding scaled by :data:`EMBEDDING_WEIGHT`.

The head is a class-balanced logistic regression: multinomial for one label per text, one binary
model per label for multi-label targets. Heads output probabilities ``(n, n_classes)``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np
import scipy.sparse as sp

from shopfloor.errors import ArtifactCorrupted

CANDIDATES = ("tfidf", "embedding", "combined")
#: Scale of the embedding block next to TF-IDF rows (both unit length): measured on the excavator
#: work orders, 2.0 gave the best cross-validated macro-F1 of 0.5, 1 and 2 (docs/benchmarks.md).
EMBEDDING_WEIGHT = 2.0
HEAD_C = 10.0
_WORD = {"analyzer": "word", "ngram_range": (1, 2), "sublinear_tf": True, "lowercase": True, "min_df": 1}
_CHAR = {"analyzer": "char_wb", "ngram_range": (2, 5), "sublinear_tf": True, "lowercase": True, "min_df": 1}
FILES = {"state": "features.json", "weights": "weights.safetensors"}


def uses_tfidf(candidate: str) -> bool:
    return candidate in ("tfidf", "combined")


def uses_embedding(candidate: str) -> bool:
    return candidate in ("embedding", "combined")


class NgramFeatures:
    """Word and character TF-IDF fitted on training texts; rows are L2-normalised per block."""

    def __init__(self) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.word = TfidfVectorizer(**_WORD)  # type: ignore[arg-type]
        self.char = TfidfVectorizer(**_CHAR)  # type: ignore[arg-type]

    def fit(self, texts: list[str]) -> NgramFeatures:
        self.word.fit(texts)
        self.char.fit(texts)
        return self

    def transform(self, texts: list[str]) -> sp.csr_matrix:
        # each block is unit length; dividing by sqrt(2) keeps the whole row unit length
        both = sp.hstack([self.word.transform(texts), self.char.transform(texts)]) / np.sqrt(2.0)
        return sp.csr_matrix(both, dtype=np.float32)

    @property
    def n_features(self) -> int:
        return len(self.word.vocabulary_) + len(self.char.vocabulary_)

    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """Vocabularies (terms in column order) for JSON, IDF weights for safetensors."""
        meta = {name: _terms(v.vocabulary_) for name, v in (("word", self.word), ("char", self.char))}
        arrays = {
            "idf_word": self.word.idf_.astype(np.float64),
            "idf_char": self.char.idf_.astype(np.float64),
        }
        return meta, arrays

    @classmethod
    def from_state(cls, meta: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> NgramFeatures:
        from sklearn.feature_extraction.text import TfidfVectorizer

        out = cls.__new__(cls)
        for name, options in (("word", _WORD), ("char", _CHAR)):
            terms = list(meta[name])
            idf = np.asarray(arrays[f"idf_{name}"], dtype=np.float64)
            if len(terms) != len(idf):
                raise ArtifactCorrupted(f"text model: {name} vocabulary and weights differ in length")
            vectorizer = TfidfVectorizer(**options, vocabulary={t: i for i, t in enumerate(terms)})  # type: ignore[arg-type]
            vectorizer.idf_ = idf
            setattr(out, name, vectorizer)
        return out


def _terms(vocabulary: Mapping[str, int]) -> list[str]:
    terms = [""] * len(vocabulary)
    for term, index in vocabulary.items():
        terms[index] = term
    return terms


class LinearHead:
    """Class-balanced logistic regression on a feature matrix; ``multi_label`` = one model per label."""

    def __init__(self, n_classes: int, multi_label: bool, seed: int = 0) -> None:
        self.n_classes, self.multi_label, self.seed = n_classes, multi_label, seed

    def fit(self, X: Any, y: np.ndarray) -> LinearHead:
        """``y``: class codes ``(n,)``, or a 0/1 indicator matrix ``(n, n_classes)`` when multi-label."""
        if self.multi_label:
            rows = [self._fit_one(X, y[:, k]) for k in range(self.n_classes)]
            self.coef_ = np.vstack([r[0] for r in rows])
            self.intercept_ = np.concatenate([r[1] for r in rows])
            return self
        model = self._model().fit(X, y)
        coef, intercept = np.asarray(model.coef_), np.asarray(model.intercept_)
        if self.n_classes == 2:  # scikit-learn keeps one row for two classes: make it symmetric
            coef = np.vstack([-coef / 2, coef / 2])
            intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
        self.coef_, self.intercept_ = coef.astype(np.float32), intercept.astype(np.float64)
        return self

    def _model(self) -> Any:
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(C=HEAD_C, class_weight="balanced", max_iter=3000, random_state=self.seed)

    def _fit_one(self, X: Any, column: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if column.min() == column.max():  # a label always (or never) present in this split
            logit = 6.0 if column[0] else -6.0
            return np.zeros((1, X.shape[1]), dtype=np.float32), np.array([logit])
        model = self._model().fit(X, column)
        return np.asarray(model.coef_, dtype=np.float32), np.asarray(model.intercept_, dtype=np.float64)

    def logits(self, X: Any) -> np.ndarray:
        return np.asarray(X @ self.coef_.T, dtype=np.float64) + self.intercept_

    def predict_proba(self, X: Any) -> np.ndarray:
        z = self.logits(X)
        if self.multi_label:
            return np.asarray(1.0 / (1.0 + np.exp(-z)))
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return np.asarray(e / e.sum(axis=1, keepdims=True))


def design(
    candidate: str, ngrams: NgramFeatures | None, texts: list[str], embeddings: np.ndarray | None
) -> Any:
    """The feature matrix of ``candidate`` for ``texts`` (``embeddings`` row-aligned with them)."""
    if candidate == "tfidf":
        assert ngrams is not None
        return ngrams.transform(texts)
    assert embeddings is not None
    if candidate == "embedding":
        return embeddings
    assert ngrams is not None
    block = sp.csr_matrix(embeddings * EMBEDDING_WEIGHT, dtype=np.float32)
    return sp.csr_matrix(sp.hstack([ngrams.transform(texts), block]))


class FrozenModel:
    """A frozen-feature candidate: its n-gram vocabulary (if any) and linear head, fitted together."""

    def __init__(self, candidate: str, n_classes: int, multi_label: bool, seed: int = 0) -> None:
        self.candidate, self.n_classes, self.multi_label, self.seed = candidate, n_classes, multi_label, seed

    def fit(self, texts: list[str], embeddings: np.ndarray | None, y: np.ndarray) -> FrozenModel:
        self.ngrams_ = NgramFeatures().fit(texts) if uses_tfidf(self.candidate) else None
        X = design(self.candidate, self.ngrams_, texts, embeddings)
        self.head_ = LinearHead(self.n_classes, self.multi_label, self.seed).fit(X, y)
        return self

    def predict_proba(self, texts: list[str], embeddings: np.ndarray | None) -> np.ndarray:
        return self.head_.predict_proba(design(self.candidate, self.ngrams_, texts, embeddings))

    def files(self) -> dict[str, bytes]:
        from safetensors.numpy import save

        head = self.head_
        arrays: dict[str, np.ndarray] = {"coef": head.coef_, "intercept": head.intercept_}
        meta: dict[str, Any] = {
            "candidate": self.candidate,
            "n_classes": head.n_classes,
            "multi_label": head.multi_label,
        }
        if self.ngrams_ is not None:
            vocab, idf = self.ngrams_.state()
            meta["vocabulary"] = vocab
            arrays.update(idf)
        # safetensors writes the raw buffer: scikit-learn's coefficients may be Fortran-ordered
        contiguous = {name: np.ascontiguousarray(array) for name, array in arrays.items()}
        return {FILES["state"]: json.dumps(meta).encode(), FILES["weights"]: save(contiguous)}

    @classmethod
    def from_files(cls, files: Mapping[str, bytes]) -> FrozenModel:
        from safetensors import SafetensorError
        from safetensors.numpy import load

        try:
            meta = json.loads(files[FILES["state"]])
            arrays = load(files[FILES["weights"]])
            candidate = meta["candidate"]
            if candidate not in CANDIDATES:
                raise ArtifactCorrupted(f"text model: unknown candidate {candidate!r}")
            out = cls(candidate, int(meta["n_classes"]), bool(meta["multi_label"]))
            out.ngrams_ = (
                NgramFeatures.from_state(meta["vocabulary"], arrays) if uses_tfidf(candidate) else None
            )
            out.head_ = LinearHead(out.n_classes, out.multi_label)
            out.head_.coef_, out.head_.intercept_ = arrays["coef"], arrays["intercept"]
        except (KeyError, ValueError, TypeError, SafetensorError) as exc:
            raise ArtifactCorrupted(f"text model artifact cannot be read: {exc}") from exc
        coef = out.head_.coef_
        if coef.ndim != 2 or coef.shape[0] != out.n_classes or out.head_.intercept_.shape != (out.n_classes,):
            raise ArtifactCorrupted("text model artifact: weights do not match the number of classes")
        n_ngrams = out.ngrams_.n_features if out.ngrams_ is not None else 0
        if (candidate == "tfidf" and coef.shape[1] != n_ngrams) or (
            candidate == "combined" and coef.shape[1] <= n_ngrams
        ):
            raise ArtifactCorrupted("text model artifact: weights do not match the vocabulary")
        return out
