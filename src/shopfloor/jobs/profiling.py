"""A fitted estimator's drift view of a table: its training profile, and a window to compare with it.

What to compare comes from the family's hooks (``drift_inputs``, ``drift_outputs``,
``drift_embeddings`` of :class:`~shopfloor.tasks.base.BaseEstimator`); the statistics are
:mod:`shopfloor.monitoring`'s. Outputs and embeddings cost model calls, so they are computed on a
sample of rows (smaller for families that answer record by record, without batch scoring): whole
assets for a family that reads histories (the report's ``series`` layout names the asset column),
a contiguous block for one that scores a table as one stream (``Capabilities.whole_batch``), a
random sample otherwise.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from shopfloor.errors import JobCancelled, ShopfloorError
from shopfloor.monitoring.profile import Profile, build_profile
from shopfloor.monitoring.report import Window
from shopfloor.monitoring.thresholds import EMBEDDING_ROWS, OUTPUT_ROWS

log = logging.getLogger(__name__)


def scoring_rows(
    estimator: Any, frame: pd.DataFrame, limit: int = OUTPUT_ROWS, seed: int = 0
) -> pd.DataFrame:
    """At most about ``limit`` rows of ``frame`` the model can score as they are (see the module
    docstring), in their original order."""
    if len(frame) <= limit:
        return frame
    asset = (getattr(estimator, "report_", {}).get("series") or {}).get("asset")
    if asset and asset in frame.columns:
        ids = frame[asset].drop_duplicates().to_numpy()
        order = np.random.default_rng(seed).permutation(len(ids))
        sizes = frame.groupby(asset, sort=False).size()
        picked, rows = [], 0
        for i in order:
            picked.append(ids[i])
            rows += int(sizes[ids[i]])
            if rows >= limit:
                break
        return frame[frame[asset].isin(picked)]
    if estimator.capabilities.whole_batch:
        return frame.iloc[-limit:]
    keep = np.sort(np.random.default_rng(seed).choice(len(frame), limit, replace=False))
    return frame.iloc[keep]


Notes = list[dict[str, str]]  # what was left out and why: {"name", "why"}


def _outputs(estimator: Any, frame: pd.DataFrame, notes: Notes, seed: int) -> pd.DataFrame | None:
    needed = [c["name"] for c in estimator.input_schema_ if c["name"] not in frame.columns]
    if needed:
        why = f"the rows lack the column(s) the model needs to score them: {', '.join(needed)}"
        notes.append({"name": "model outputs", "why": why})
        return None
    # a family without batch scoring answers record by record (images through a network): fewer rows
    limit = OUTPUT_ROWS if estimator.capabilities.batch else EMBEDDING_ROWS
    try:
        outputs = estimator.drift_outputs(scoring_rows(estimator, frame, limit, seed))
    except JobCancelled:
        raise
    except ShopfloorError as exc:
        notes.append({"name": "model outputs", "why": f"scoring the rows failed: {exc.detail}"})
        return None
    return outputs if len(outputs.columns) else None


def _embeddings(estimator: Any, frame: pd.DataFrame, notes: Notes, seed: int) -> dict[str, np.ndarray]:
    rows = scoring_rows(estimator, frame, EMBEDDING_ROWS, seed) if len(frame) > EMBEDDING_ROWS else frame
    try:
        found: dict[str, np.ndarray] = estimator.drift_embeddings(rows)
    except JobCancelled:
        raise
    except ShopfloorError as exc:
        notes.append({"name": "embeddings", "why": f"computing them failed: {exc.detail}"})
        return {}
    return found


def profile_of(estimator: Any, frame: pd.DataFrame, *, source: str = "training", seed: int = 0) -> Profile:
    """The drift profile of ``frame`` (the training table) as ``estimator`` sees it."""
    notes: Notes = []
    profile = build_profile(
        frame,
        estimator.drift_inputs(),
        outputs=_outputs(estimator, estimator.drift_reference(frame), notes, seed),
        embeddings=_embeddings(estimator, frame, notes, seed),
        source=source,
        seed=seed,
    )
    return replace(profile, skipped=profile.skipped + tuple(notes))


def training_files(estimator: Any, frame: pd.DataFrame, seed: int = 0) -> tuple[dict[str, bytes], str | None]:
    """The profile files to store with a newly trained version, or none and why. A profile that
    cannot be made does not fail the training: the version is served without drift checks (the
    report's warnings say so) rather than lost."""
    try:
        return profile_of(estimator, frame, seed=seed).to_files(), None
    except JobCancelled:
        raise
    except Exception as exc:  # the trained model is worth more than its profile
        log.exception("no drift profile for the trained model")
        why = f"no drift profile was made ({type(exc).__name__}: {exc}); drift checks will not be available"
        return {}, why


def window_of(estimator: Any, frame: pd.DataFrame, seed: int = 0) -> Window:
    """A window of new rows with the model's outputs and the family's embeddings of them."""
    notes: Notes = []
    outputs = _outputs(estimator, frame, notes, seed)
    embeddings = _embeddings(estimator, frame, notes, seed)
    return Window(frame, outputs, embeddings, tuple(f"{n['name']} not compared: {n['why']}" for n in notes))
