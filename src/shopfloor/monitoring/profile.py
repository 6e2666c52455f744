"""The training profile of a model version: what its inputs and outputs looked like at training.

Built once from the training table (:func:`build_profile`) and stored, sealed and signed, with
the version's artifacts as two files (:data:`FILES`): ``drift_profile.json`` (summaries, bins,
category counts, vocabularies, the input encoding) and ``drift_reference.npz`` (reference
samples: values per numeric variable, embeddings, encoded rows, PCA basis), read back with
``allow_pickle=False``. Compact: a few hundred kilobytes for a table, about 0.5 MB more per text
or image input (its embedding sample).

What is profiled, per drift input the family declares (``{"name", "type"}``):

- ``numeric``: a sample of the values, decile bins with their shares (PSI), summary, missing share;
- ``boolean`` / ``categorical``: the count of each category (the most frequent
  :data:`~shopfloor.monitoring.thresholds.MAX_CATEGORIES`);
- ``text``: words per text and the share of words unseen at training (numeric, see
  :mod:`shopfloor.monitoring.text`), and a sample of the family's embeddings of the texts;
- ``image``: a sample of the family's embeddings of the images;
- per model output column: numeric or categorical as above;
- the inputs together: an :class:`~shopfloor.monitoring.multivariate.Encoding`, encoded
  training rows (for the domain classifier) and a PCA basis with held-out reconstruction errors.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from shopfloor.errors import ArtifactCorrupted
from shopfloor.monitoring import categorical as C
from shopfloor.monitoring import numeric as N
from shopfloor.monitoring import text as T
from shopfloor.monitoring.embeddings import median_bandwidth
from shopfloor.monitoring.multivariate import Encoding, fit_pca, reconstruction_errors
from shopfloor.monitoring.thresholds import EMBEDDING_ROWS, MULTIVARIATE_ROWS, REFERENCE_ROWS

FORMAT = 1
PROFILE_FILE = "drift_profile.json"
REFERENCE_FILE = "drift_reference.npz"
#: The files a profile is stored as, beside a model version's own files.
FILES = (PROFILE_FILE, REFERENCE_FILE)
_UNIT = re.compile(r"\[([^\[\]]{1,12})\]\s*$")


def unit_of(name: str) -> str | None:
    """The unit a column name ends with in brackets (``"Process temperature [K]"`` -> ``"K"``)."""
    found = _UNIT.search(name)
    return found.group(1).strip() if found else None


@dataclass(frozen=True)
class Feature:
    """One variable the drift check compares: an input, a measure of a text input, or an output.

    ``kind`` is numeric, categorical or embedding; ``role`` input or output; ``column`` the
    table column it is read from and ``measure`` the text measure (words, unseen words) if any.
    ``sample`` (numeric values or embedding rows) is stored in the npz file, the rest in JSON.
    """

    name: str
    kind: str
    role: str
    column: str
    rows: int
    missing: int
    measure: str | None = None
    summary: dict[str, Any] = field(default_factory=dict)
    edges: tuple[float, ...] = ()
    shares: tuple[float, ...] = ()
    counts: dict[str, int] = field(default_factory=dict)
    complete: bool = True
    boolean: bool = False
    bandwidth: float = 1.0
    unit: str | None = None
    sample: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k != "sample"}
        out["edges"], out["shares"] = list(self.edges), list(self.shares)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], sample: np.ndarray) -> Feature:
        fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__ and k != "sample"}
        fields["edges"] = tuple(float(v) for v in data.get("edges") or ())
        fields["shares"] = tuple(float(v) for v in data.get("shares") or ())
        fields["counts"] = {str(k): int(v) for k, v in (data.get("counts") or {}).items()}
        return cls(**fields, sample=sample)

    def public(self) -> dict[str, Any]:
        """What the profile route shows of this variable (no samples)."""
        out: dict[str, Any] = {
            "name": self.name,
            "kind": self.kind,
            "role": self.role,
            "column": self.column,
            "rows": self.rows,
            "missing_share": self.missing / self.rows if self.rows else 0.0,
        }
        if self.kind == "numeric":
            out["summary"], out["unit"] = self.summary, self.unit
        elif self.kind == "categorical":
            total = sum(self.counts.values()) or 1
            out["shares"] = {k: n / total for k, n in self.counts.items()}
        else:
            out["dimension"] = int(self.sample.shape[1]) if self.sample.ndim == 2 else 0
        return out


@dataclass(frozen=True)
class Multivariate:
    """The inputs together: their encoding, encoded training rows, PCA basis and held-out errors."""

    encoding: Encoding
    rows: np.ndarray
    pca_mean: np.ndarray | None = None
    pca_components: np.ndarray | None = None
    errors: np.ndarray | None = None


@dataclass(frozen=True)
class Profile:
    """The training profile of one model version (see the module docstring)."""

    features: tuple[Feature, ...]
    rows: int
    source: str
    created_at: str
    multivariate: Multivariate | None = None
    vocabularies: dict[str, list[str]] = field(default_factory=dict)
    skipped: tuple[dict[str, str], ...] = ()

    def inputs(self) -> list[Feature]:
        return [f for f in self.features if f.role == "input"]

    def outputs(self) -> list[Feature]:
        return [f for f in self.features if f.role == "output"]

    def columns(self) -> list[str]:
        """The input columns a window must hold."""
        return list(dict.fromkeys(f.column for f in self.inputs()))

    def public(self) -> dict[str, Any]:
        """The profile as the API shows it: summaries only, no reference samples."""
        mv = self.multivariate
        return {
            "rows": self.rows,
            "source": self.source,
            "created_at": self.created_at,
            "inputs": [f.public() for f in self.inputs()],
            "outputs": [f.public() for f in self.outputs()],
            "together": None
            if mv is None
            else {"columns": mv.encoding.columns, "reconstruction": mv.pca_components is not None},
            "skipped": list(self.skipped),
        }

    # ------------------------------------------------------------------ files
    def to_files(self) -> dict[str, bytes]:
        """``drift_profile.json`` and ``drift_reference.npz`` (no pickled objects in either)."""
        arrays: dict[str, np.ndarray] = {f"feature{i}": f.sample for i, f in enumerate(self.features)}
        mv = self.multivariate
        state: dict[str, Any] = {
            "format": FORMAT,
            "rows": self.rows,
            "source": self.source,
            "created_at": self.created_at,
            "features": [f.to_dict() for f in self.features],
            "vocabularies": self.vocabularies,
            "skipped": list(self.skipped),
            "multivariate": None if mv is None else {"encoding": mv.encoding.to_dict()},
        }
        if mv is not None:
            arrays["mv_rows"] = mv.rows
            if mv.pca_mean is not None and mv.pca_components is not None and mv.errors is not None:
                arrays.update(pca_mean=mv.pca_mean, pca_components=mv.pca_components, pca_errors=mv.errors)
        buffer = io.BytesIO()
        np.savez_compressed(buffer, allow_pickle=False, **arrays)
        return {PROFILE_FILE: json.dumps(state).encode(), REFERENCE_FILE: buffer.getvalue()}

    @classmethod
    def from_files(cls, files: Mapping[str, bytes]) -> Profile:
        """Read a stored profile; :class:`ArtifactCorrupted` if it is not one this code wrote."""
        try:
            state = json.loads(files[PROFILE_FILE])
            if not isinstance(state, dict) or state.get("format") != FORMAT:
                raise ArtifactCorrupted(f"{PROFILE_FILE} is not a drift profile this server reads")
            with np.load(io.BytesIO(files[REFERENCE_FILE]), allow_pickle=False) as npz:
                arrays = {name: npz[name] for name in npz.files}
            features = tuple(
                Feature.from_dict(data, arrays[f"feature{i}"]) for i, data in enumerate(state["features"])
            )
            mv = None
            if state.get("multivariate"):
                mv = Multivariate(
                    Encoding.from_dict(state["multivariate"]["encoding"]),
                    arrays["mv_rows"],
                    arrays.get("pca_mean"),
                    arrays.get("pca_components"),
                    arrays.get("pca_errors"),
                )
            return cls(
                features=features,
                rows=int(state["rows"]),
                source=str(state["source"]),
                created_at=str(state["created_at"]),
                multivariate=mv,
                vocabularies={str(k): list(v) for k, v in state.get("vocabularies", {}).items()},
                skipped=tuple(state.get("skipped") or ()),
            )
        except ArtifactCorrupted:
            raise
        except (KeyError, ValueError, TypeError, OSError, zipfile.BadZipFile) as exc:
            raise ArtifactCorrupted(f"the drift profile cannot be read: {exc}") from exc


# ---------------------------------------------------------------------- building
def build_profile(
    frame: Any,
    columns: Sequence[Mapping[str, Any]],
    *,
    outputs: Any = None,
    embeddings: Mapping[str, np.ndarray] | None = None,
    source: str = "training",
    seed: int = 0,
) -> Profile:
    """The profile of a training table ``frame``.

    ``columns``: the drift inputs (``{"name", "type"}``); ``outputs``: the model's answers for
    some training rows (a table, one column per output), or None; ``embeddings``: the family's
    embeddings of its text or image columns (column -> rows x dimension).
    """
    rng = np.random.default_rng(seed)
    features: list[Feature] = []
    skipped: list[dict[str, str]] = []
    vocabularies: dict[str, list[str]] = {}
    embeddings = embeddings or {}
    for col in columns:
        name, kind = str(col["name"]), str(col["type"])
        if name not in frame.columns:
            skipped.append({"name": name, "why": "not in the training table"})
        elif kind == "numeric":
            features.append(numeric_feature(name, frame[name], "input", rng))
        elif kind in ("categorical", "boolean"):
            features.append(categorical_feature(name, frame[name], "input", boolean=kind == "boolean"))
        elif kind == "text":
            vocabulary, held = T.fit_vocabulary(list(frame[name]), seed)
            vocabularies[name] = vocabulary
            features.append(numeric_feature(T.derived_name(name, T.WORDS), T.word_counts(frame[name]),
                                            "input", rng, column=name, measure=T.WORDS))
            features.append(numeric_feature(T.derived_name(name, T.UNSEEN), held, "input", rng,
                                            column=name, measure=T.UNSEEN))
        if kind in ("text", "image") and name in frame.columns:
            if name in embeddings:
                features.append(embedding_feature(name, embeddings[name], len(frame), rng, f"{kind}s"))
            else:
                why = f"the model family computes no embeddings of its {kind}s"
                skipped.append({"name": name, "why": why})
        elif kind not in ("numeric", "categorical", "boolean", "text") and name in frame.columns:
            skipped.append({"name": name, "why": f"{kind} inputs are not compared"})
    if outputs is not None:
        features += output_features(outputs, rng)
    tabular = ("numeric", "categorical", "boolean")
    together = [c for c in columns if c["type"] in tabular and c["name"] in frame.columns]
    return Profile(
        features=tuple(features),
        rows=len(frame),
        source=source,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        multivariate=multivariate_reference(frame, together, rng),
        vocabularies=vocabularies,
        skipped=tuple(skipped),
    )


def _sample(values: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    return values if len(values) <= size else values[np.sort(rng.choice(len(values), size, replace=False))]


def numeric_feature(
    name: str,
    values: Any,
    role: str,
    rng: np.random.Generator,
    *,
    column: str | None = None,
    measure: str | None = None,
) -> Feature:
    numbers, missing, _ = N.as_numbers(values)
    rows = len(numbers) + missing
    edges = N.psi_edges(numbers)
    return Feature(
        name=name,
        kind="numeric",
        role=role,
        column=column or name,
        measure=measure,
        rows=rows,
        missing=missing,
        summary=N.summary(numbers, missing / rows if rows else 0.0),
        edges=tuple(edges),
        shares=tuple(float(s) for s in N.bin_shares(numbers, edges)),
        unit=unit_of(name) if measure is None else None,
        sample=_sample(numbers, REFERENCE_ROWS, rng).astype(np.float64),
    )


def categorical_feature(name: str, values: Any, role: str, boolean: bool = False) -> Feature:
    counts, missing = C.count(values, boolean)
    kept, complete = C.keep_top(counts)
    return Feature(
        name=name,
        kind="categorical",
        role=role,
        column=name,
        rows=sum(counts.values()) + missing,
        missing=missing,
        counts=kept,
        complete=complete,
        boolean=boolean,
    )


def embedding_feature(
    name: str, rows: np.ndarray, total: int, rng: np.random.Generator, what: str = "texts"
) -> Feature:
    """A text or image column's embedding sample (``what``: texts or images, for the report's words)."""
    sample = _sample(np.asarray(rows, dtype=np.float32), EMBEDDING_ROWS, rng)
    return Feature(
        name=name,
        kind="embedding",
        role="input",
        column=name,
        rows=total,
        missing=total - len(rows),
        summary={"of": what, "dimension": int(sample.shape[1]) if sample.ndim == 2 else 0},
        bandwidth=median_bandwidth(sample.astype(np.float64)) if len(sample) > 1 else 1.0,
        sample=sample,
    )


def _coded_labels(values: Any) -> bool:
    """Whole numbers taking a few values (a class coded 0/1, a count of windows): categories."""
    numbers = values.dropna().to_numpy(dtype=float)
    return bool(len(numbers)) and bool(np.all(numbers == np.round(numbers))) and len(np.unique(numbers)) <= 20


def output_features(outputs: Any, rng: np.random.Generator) -> list[Feature]:
    """One feature per output column: numbers as numbers, labels (and classes coded as a few whole
    numbers) as categories."""
    import pandas as pd

    found = []
    for name in outputs.columns:
        values = outputs[name]
        numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
        if not numeric or _coded_labels(values):
            found.append(categorical_feature(str(name), values, "output"))
        else:
            found.append(numeric_feature(str(name), values, "output", rng))
    return found


def multivariate_reference(
    frame: Any, columns: Sequence[Mapping[str, Any]], rng: np.random.Generator
) -> Multivariate | None:
    """The encoding of the inputs together, encoded training rows and the PCA reference; None
    with fewer than two encoded columns (nothing to relate)."""
    if len(columns) < 2:
        return None
    encoding = Encoding.fit(frame, columns)
    if encoding.width < 2:
        return None
    # shuffled: the halves (PCA fit, held-out errors) must not split the training period in two
    picked = rng.permutation(_sample(np.arange(len(frame)), 2 * MULTIVARIATE_ROWS, rng))
    rows = encoding.matrix(frame.iloc[picked])
    half = len(rows) // 2
    fitted = fit_pca(rows[:half]) if half > encoding.width else None
    kept = rows[:MULTIVARIATE_ROWS]
    if fitted is None:
        return Multivariate(encoding, kept)
    mean, components = fitted
    held_out = reconstruction_errors(rows[half:], mean, components)
    return Multivariate(encoding, kept, mean, components, held_out)
