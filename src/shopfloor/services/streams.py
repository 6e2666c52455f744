"""Streaming scoring: the newest points of an asset, scored against the window the server kept.

The per-asset state (the last points a model's window needs and any open event) lives in the
registry, encrypted with the tenant's key, so every API process and server sharing the registry
continues the same stream. Reading, scoring and writing the state is one registry transaction.
"""

from __future__ import annotations

import json
import time
from typing import Any

from shopfloor import metrics
from shopfloor.context import Platform
from shopfloor.errors import ArtifactCorrupted, InvalidInput
from shopfloor.security import crypto
from shopfloor.services import challenger
from shopfloor.serving.cache import LoadedModel
from shopfloor.tasks import catalog
from shopfloor.tasks.base import ONE_STREAM
from shopfloor.telemetry.logcontext import current_request_id

#: The registry keys states by asset name; longer names are refused.
MAX_ASSET_CHARS = 200


def _path(model: str, version: int, asset: str) -> str:
    """What a state blob is bound to (authenticated data): it cannot be replayed for another stream."""
    return f"stream/{model}/{version}/{asset}"


def _assets(records: list[Any], column: str) -> list[str]:
    seen: dict[str, None] = {}
    for i, record in enumerate(records):
        name = str(record.get(column))
        if len(name) > MAX_ASSET_CHARS:
            raise InvalidInput(
                f"record {i}: the asset name in {column!r} is longer than {MAX_ASSET_CHARS} characters",
                errors=[{"loc": ["body", "records", i, column], "msg": "asset name too long"}],
            )
        seen.setdefault(name, None)
    return list(seen)


def score(
    platform: Platform,
    tenant: str,
    name: str,
    version: int | str | None,
    records: Any,
    key: str | None = None,
) -> dict[str, Any]:
    """Score ``records`` (the newest points of one or more assets) and keep each asset's window.

    While the model's challenger runs, the trial's side answers (``key`` picks a canary's side) and the
    other side scores the same points off the request path, continuing its own windows (states are kept
    per version)."""
    trial = platform.challengers.trial(tenant, name, version, key)
    loaded = platform.models.get(tenant, name, version if trial is None else trial.answering)
    mv = loaded.version
    results, latency = _scored(platform, tenant, name, loaded, records)
    metrics.RECORDER.predicted(tenant, name, mv.version, len(records))
    if trial is not None:

        def other_side(other: LoadedModel) -> tuple[list[dict[str, Any]], float]:
            return _scored(platform, tenant, name, other, records)

        challenger.serve_trial(platform, tenant, name, trial, loaded, records, results, latency, other_side)
        return {"model": name, "version": mv.version, "results": results}
    platform.prediction_log.add(
        tenant,
        name,
        mv.version,
        "score",
        schema=mv.input_schema,
        records=records,
        answers=results,
        latency_s=latency,
        request_id=current_request_id(),
    )
    return {"model": name, "version": mv.version, "results": results}


def _scored(
    platform: Platform, tenant: str, name: str, loaded: LoadedModel, records: Any
) -> tuple[list[dict[str, Any]], float]:
    """The version's answers to ``records``, its windows continued in one registry transaction; and
    the seconds it took."""
    mv = loaded.version
    if not catalog.capabilities(mv.task).stream:
        which = catalog.join_names(catalog.tasks_where(lambda c: c.stream), "or")
        raise InvalidInput(
            f"model {name!r} is a {mv.task} model; streaming scoring is for {which} models "
            "(use POST /v1/models/{name}/predict)",
            errors=[{"loc": ["path", "name"], "msg": "not a streaming model"}],
        )
    loaded.validate(records, platform.settings.max_records_per_request)
    # sensor histories name their asset column in "series"; window-scoring families in "stream";
    # a single series has none: one stream
    column = (mv.report.get("series") or mv.report.get("stream") or {}).get("asset")
    assets = _assets(records, column) if column else [ONE_STREAM]
    key = platform.sealed.tenant_key(tenant)
    stream = loaded.estimator.score_stream
    started = time.perf_counter()

    def step(blobs: dict[str, bytes]) -> tuple[list[dict[str, Any]], dict[str, bytes]]:
        states = {}
        for asset, blob in blobs.items():
            try:
                states[asset] = json.loads(crypto.decrypt(key, _path(name, mv.version, asset), blob))
            except ArtifactCorrupted:
                # A state that does not decrypt is not trusted: the stream restarts for that asset.
                continue
        results, new = stream(records, states)
        return results, {
            asset: crypto.encrypt(key, _path(name, mv.version, asset), json.dumps(state).encode())
            for asset, state in new.items()
        }

    results = platform.store.update_stream_states(
        tenant, name, mv.version, assets, step, keep=platform.settings.stream_assets_per_model
    )
    return results, time.perf_counter() - started


def reset(platform: Platform, tenant: str, name: str, asset: str | None) -> dict[str, Any]:
    """Forget the kept window of one asset (or of every asset) of every version of ``name``."""
    platform.store.get_model(tenant, name)  # 404 for an unknown (or another tenant's) model
    return {"model": name, "asset": asset, "dropped": platform.store.drop_stream_states(tenant, name, asset)}
