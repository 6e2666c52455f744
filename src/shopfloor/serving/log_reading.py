"""Reading the prediction log back: the sealed entries of logged predictions and the outcomes fed
back for them (each batch opened once with the tenant's key), page by page, and the inputs of a set
of logged predictions as a table.

Below the services so that the retraining gate's source of labelled live records (run in a job
process) reads the log the same way the API does.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Protocol

import pandas as pd

from shopfloor.errors import ArtifactCorrupted
from shopfloor.registry.log_entities import LoggedPrediction
from shopfloor.registry.store import PredictionLogStore
from shopfloor.serving.log_entries import blob_path, feedback_path, open_blob, open_outcome
from shopfloor.storage.sealed import SealedArtifacts

log = logging.getLogger(__name__)

#: Logged predictions read per registry query.
PAGE = 20_000
Keyed = dict[tuple[str, int], Any]
#: A page of the log: ``(after, n)`` -> at most ``n`` predictions after the ``(at, blob id, slot)``
#: of the previous page's last (None: from the start).
Pager = Callable[[tuple[datetime, str, int] | None, int], Sequence[LoggedPrediction]]


class ReadPlatform(Protocol):
    """What reading the log needs of the process's platform."""

    @property
    def store(self) -> PredictionLogStore: ...

    @property
    def sealed(self) -> SealedArtifacts: ...


def entries_of(platform: ReadPlatform, tenant: str, refs: Sequence[LoggedPrediction]) -> Keyed:
    """The sealed entries of ``refs``, by (blob id, slot): each batch read and opened once. A batch
    that does not authenticate is left out and logged (its predictions are reported as missing)."""
    key = platform.sealed.tenant_key(tenant)
    out: Keyed = {}
    blobs = platform.store.get_log_blobs(tenant, sorted({r.blob_id for r in refs}))
    for blob in blobs.values():
        try:
            entries = open_blob(key, blob_path(tenant, blob.model, blob.version, blob.id), blob.payload)
        except ArtifactCorrupted as exc:
            log.warning("logged predictions of %s %s left out: %s", blob.model, blob.version, exc.detail)
            continue
        out.update(((blob.id, slot), entry) for slot, entry in enumerate(entries))
    return out


def outcomes_of(platform: ReadPlatform, tenant: str, refs: Sequence[LoggedPrediction]) -> Keyed:
    """The outcomes fed back for ``refs`` that have one, by (blob id, slot)."""
    key = platform.sealed.tenant_key(tenant)
    found = platform.store.get_feedback(tenant, [r.key for r in refs])
    out = {}
    for ref in refs:
        fb = found.get(ref.key)
        if fb is not None:
            out[ref.key] = open_outcome(key, feedback_path(tenant, fb.model, ref.record_id), fb.outcome)
    return out


def read_pages(page: Pager, wanted: int, size: int = PAGE) -> list[LoggedPrediction]:
    """Up to ``wanted`` logged predictions, ``size`` per query, in the pager's order."""
    out: list[LoggedPrediction] = []
    after = None
    while len(out) < wanted:
        n = min(size, wanted - len(out))
        found = page(after, n)
        out.extend(found)
        if len(found) < n:
            break
        after = (found[-1].at, found[-1].blob_id, found[-1].slot)
    return out


def inputs_frame(refs: Sequence[LoggedPrediction], entries: Keyed) -> pd.DataFrame:
    """The logged inputs of ``refs`` as a table, in their order: one row per prediction; a model
    that answers per asset or stream logs the request's records with each answer, which give their
    rows once per call. Entries that cannot be read are left out."""
    rows: list[Any] = []
    calls: set[tuple[str | None, datetime]] = set()
    for ref in refs:
        inputs = (entries.get(ref.key) or {}).get("inputs")
        if isinstance(inputs, dict) and "omitted" not in inputs:
            rows.append(inputs)
        elif isinstance(inputs, list) and (ref.request_id, ref.at) not in calls:
            calls.add((ref.request_id, ref.at))
            rows.extend(r for r in inputs if isinstance(r, dict))
    return pd.DataFrame.from_records(rows)
