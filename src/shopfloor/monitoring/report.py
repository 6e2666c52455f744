"""One drift report: a window of recent rows compared with a model version's training profile.

:func:`drift_report` runs one test per profiled input, per model output and on the inputs
together, adjusts the p-values for the number of tests (Holm), decides per variable whether it
drifted (adjusted p below ``alpha`` *and* an effect of at least ``min_distance``), words each
finding and ranks them: drifted ones first, then by how far they moved (``distance``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from shopfloor.monitoring import compare
from shopfloor.monitoring.compare import Finding
from shopfloor.monitoring.profile import Profile
from shopfloor.monitoring.thresholds import Thresholds, holm
from shopfloor.monitoring.words import sentence

#: At most this many names in the report's one-line summary.
SUMMARY_NAMES = 3


@dataclass(frozen=True)
class Window:
    """A window of rows to compare: the input columns, the model's outputs for (some of) its
    rows, the family's embeddings of its text or image columns, and notes on what was left out."""

    frame: Any
    outputs: Any = None
    embeddings: Mapping[str, np.ndarray] = field(default_factory=dict)
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class DriftReport:
    """The result of one drift check (see :meth:`to_dict` for its public shape)."""

    rows: int
    drifted: bool
    summary: str
    inputs: list[Finding]
    outputs: list[Finding]
    together: list[Finding]
    thresholds: Thresholds
    tests: int
    warnings: list[str]
    profile: dict[str, Any]

    def findings(self) -> list[Finding]:
        return [*self.inputs, *self.outputs, *self.together]

    def movers(self) -> list[Finding]:
        """Every finding, drifted first, then by distance (what the charts show first)."""
        return ranked(self.findings())

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "drifted": self.drifted,
            "summary": self.summary,
            "inputs": [f.to_dict() for f in self.inputs],
            "outputs": [f.to_dict() for f in self.outputs],
            "together": [f.to_dict() for f in self.together],
            "thresholds": {**self.thresholds.as_dict(), "tests": self.tests},
            "warnings": self.warnings,
            "profile": self.profile,
        }


def ranked(findings: list[Finding]) -> list[Finding]:
    """Drifted findings first, then by distance (largest first); untested ones last."""
    def key(f: Finding) -> tuple[bool, float]:
        return (not f.drifted, -(f.distance if math.isfinite(f.distance) else -1.0))

    return sorted(findings, key=key)


def drift_report(
    profile: Profile, window: Window, thresholds: Thresholds | None = None, seed: int = 0
) -> DriftReport:
    """Compare ``window`` with ``profile``; see the module docstring."""
    thresholds = thresholds or Thresholds()
    frame = window.frame
    inputs: list[Finding] = []
    for feature in profile.inputs():
        if feature.kind == "embedding":
            what = "images" if feature.summary.get("of") == "images" else "texts"
            inputs.append(compare.embedding(feature, window.embeddings.get(feature.column), what, seed))
        elif feature.kind == "numeric":
            values = compare.window_values(feature, frame, profile.vocabularies)
            inputs.append(compare.numeric(feature, values))
        else:
            inputs.append(compare.categorical(feature, frame[feature.column]))
    outputs: list[Finding] = []
    warnings = list(window.notes)
    if profile.outputs() and window.outputs is None and not window.notes:
        warnings.append("the model's outputs were not compared (the window could not be scored)")
    for feature in profile.outputs() if window.outputs is not None else []:
        if feature.name not in window.outputs.columns:
            warnings.append(f"model output {feature.name!r} is not in the model's answers")
        elif feature.kind == "numeric":
            outputs.append(compare.numeric(feature, window.outputs[feature.name]))
        else:
            outputs.append(compare.categorical(feature, window.outputs[feature.name]))
    together = compare.together(profile.multivariate, frame, seed) if profile.multivariate else []
    tests = decide([*inputs, *outputs, *together], thresholds)
    inputs, outputs = ranked(inputs), ranked(outputs)
    return DriftReport(
        rows=len(frame),
        drifted=any(f.drifted for f in [*inputs, *outputs, *together]),
        summary=summarise(inputs, outputs, together, len(frame), thresholds),
        inputs=inputs,
        outputs=outputs,
        together=together,
        thresholds=thresholds,
        tests=tests,
        warnings=warnings,
        profile={"source": profile.source, "created_at": profile.created_at, "rows": profile.rows},
    )


def decide(findings: list[Finding], thresholds: Thresholds) -> int:
    """Adjust the p-values together (Holm), decide and word each finding; returns the number of tests."""
    adjusted = holm([f.p_value for f in findings])
    for f, p in zip(findings, adjusted, strict=True):
        f.p_adjusted = p
        f.drifted = bool(
            math.isfinite(p) and p < thresholds.alpha
            and math.isfinite(f.distance) and f.distance >= thresholds.min_distance
        )
        f.sentence = sentence(f)
    return sum(math.isfinite(p) for p in adjusted)


def _names(findings: list[Finding]) -> str:
    names = [f.name for f in findings]
    shown = ", ".join(names[:SUMMARY_NAMES])
    return shown + (f" and {len(names) - SUMMARY_NAMES} more" if len(names) > SUMMARY_NAMES else "")


def summarise(
    inputs: list[Finding], outputs: list[Finding], together: list[Finding], rows: int, thresholds: Thresholds
) -> str:
    """One line: which inputs and outputs moved, or that nothing did."""
    moved_in = [f for f in inputs if f.drifted]
    moved_out = [f for f in outputs if f.drifted]
    moved_all = [f for f in together if f.drifted]
    if not (moved_in or moved_out or moved_all):
        return (
            f"No drift: {rows} rows compared with the training profile; nothing moved beyond the "
            f"thresholds (family-wise alpha {thresholds.alpha:g}, distance {thresholds.min_distance:g})."
        )
    parts = []
    if moved_in:
        parts.append(f"{len(moved_in)} of {len(inputs)} inputs moved: {_names(moved_in)}")
    if moved_out:
        parts.append(f"model outputs moved: {_names(moved_out)}")
    if moved_all:
        parts.append("the inputs together differ from training")
    return "Drift: " + "; ".join(parts) + "."
