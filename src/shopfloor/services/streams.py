"""Streaming scoring: the newest points of an asset, scored against the window the server kept.

The per-asset state (the last points a model's window needs and any open event) lives in the
registry, encrypted with the tenant's key, so every API process and server sharing the registry
continues the same stream. A call either reads, scores and writes the state in one locking
registry transaction, or, when this process wrote the asset's state last and still holds it
(:class:`~shopfloor.serving.stream_states.StreamStateCache`), scores from that and writes the new
state only if the registry row still holds exactly those bytes (a compare-and-swap); if another
process moved the stream meanwhile (or it was reset), nothing is written and the call is made
again from the registry. Either way the answer is the one the registry's state gives.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

import msgpack

from shopfloor import metrics
from shopfloor.context import Platform
from shopfloor.errors import ArtifactCorrupted, InvalidInput
from shopfloor.registry.entities import Swap
from shopfloor.security import crypto
from shopfloor.services import challenger
from shopfloor.services.failures import failures_logged, loaded_model
from shopfloor.serving.cache import LoadedModel
from shopfloor.serving.challenger import Trial, source
from shopfloor.tasks import catalog
from shopfloor.tasks.base import ONE_STREAM
from shopfloor.telemetry.logcontext import current_request_id

#: The registry keys states by asset name; longer names are refused.
MAX_ASSET_CHARS = 200


def _path(model: str, version: int, asset: str) -> str:
    """What a state blob is bound to (authenticated data): it cannot be replayed for another stream."""
    return f"stream/{model}/{version}/{asset}"


def _pack(state: Any) -> bytes:
    """A state (JSON-like: dicts with text keys, lists, text, numbers, booleans, None) as MessagePack:
    what JSON gives back, at a fraction of the cost (the JSON of a stream state cost more than scoring
    its point)."""
    return msgpack.packb(state)


def _unpack(plaintext: bytes) -> Any:
    """A state as :func:`_pack` wrote it, or as JSON (states written before; a JSON object starts with
    ``{``, which no MessagePack map does)."""
    return json.loads(plaintext) if plaintext[:1] == b"{" else msgpack.unpackb(plaintext)


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


@dataclass(frozen=True)
class _Call:
    """One scoring call: its model, records and assets, and how states are opened and sealed."""

    platform: Platform
    tenant: str
    name: str
    version: int
    loaded: LoadedModel
    records: list[Any]
    assets: list[str]
    started: float = field(default_factory=time.perf_counter)

    @classmethod
    def of(cls, platform: Platform, tenant: str, name: str, loaded: LoadedModel, records: Any) -> _Call:
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
        return cls(platform, tenant, name, mv.version, loaded, records, assets)

    def step(self, blobs: dict[str, bytes]) -> tuple[list[dict[str, Any]], dict[str, bytes]]:
        """Open the assets' states, score the records, seal the new states."""
        key = self.platform.sealed.tenant_key(self.tenant)
        states = {}
        for asset, blob in blobs.items():
            try:
                states[asset] = _unpack(crypto.decrypt(key, _path(self.name, self.version, asset), blob))
            except ArtifactCorrupted:
                # A state that does not decrypt is not trusted: the stream restarts for that asset.
                continue
        results, new = self.loaded.estimator.score_stream(self.records, states)
        return results, {
            asset: crypto.encrypt(key, _path(self.name, self.version, asset), _pack(state))
            for asset, state in new.items()
        }

    def swap(self, wait: bool) -> list[dict[str, Any]] | None:
        """Score from the states this process last wrote, if it holds every asset's, and write the new
        ones if the registry still holds those: the results; None when it did not (nothing written)."""
        cache = self.platform.stream_states
        held = cache.take(self.tenant, self.name, self.version, self.assets)
        if held is None:
            return None
        outcome = Swap.LATER
        try:
            results, new = self.step(held)
            if new.keys() == held.keys():  # else a state is dropped or added: the locking path does that
                swaps = {a: (held[a], new[a]) for a in new}
                outcome = self.platform.store.swap_stream_states(
                    self.tenant, self.name, self.version, swaps, wait=wait
                )
        finally:
            # Put back unless it is known stale; a wrong guess costs one more try, never a wrong answer:
            # a swap applies only where the registry still holds these very bytes.
            if outcome is Swap.LATER:
                cache.put(self.tenant, self.name, self.version, held, swapped=False)
        if outcome is Swap.STALE:
            cache.stale(self.tenant, self.name, self.version, held)
            return None
        if outcome is not Swap.DONE:
            return None
        cache.put(self.tenant, self.name, self.version, new, swapped=True)
        return results

    def transact(self) -> list[dict[str, Any]]:
        """Read, score and write in one locking registry transaction; keep the states written."""
        written: dict[str, bytes] = {}

        def step(blobs: dict[str, bytes]) -> tuple[list[dict[str, Any]], dict[str, bytes]]:
            results, new = self.step(blobs)
            written.update(new)
            return results, new

        keep = self.platform.settings.stream_assets_per_model
        results = self.platform.store.update_stream_states(
            self.tenant, self.name, self.version, self.assets, step, keep=keep
        )
        self.platform.stream_states.put(self.tenant, self.name, self.version, written, swapped=False)
        return results

    def scored(self) -> tuple[list[dict[str, Any]], float]:
        """The answers, by whichever path applies (waiting if need be), and the seconds they took."""
        results = self.swap(wait=True)
        if results is None:
            results = self.transact()
        return results, time.perf_counter() - self.started


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
    per version). May wait on the registry (its write lock, a row lock, the network): call it off the
    event loop.
    """
    trial = platform.challengers.trial(tenant, name, version, key)
    served = "score" if trial is None else source(trial.served, True)
    answering = version if trial is None else trial.answering
    loaded = loaded_model(platform, tenant, name, answering, served, records, time.perf_counter())
    call = _Call.of(platform, tenant, name, loaded, records)
    with failures_logged(platform, tenant, loaded.version, served, records, call.started):
        results, latency = call.scored()
    return _answer(call, trial, results, latency)


def score_now(
    platform: Platform,
    tenant: str,
    name: str,
    version: int | str | None,
    records: Any,
    key: str | None = None,
) -> dict[str, Any] | None:
    """:func:`score` where it needs no wait (so an event loop may call it): the model loaded, every
    asset's state held here and a registry that writes without waiting (SQLite) that did. None,
    with nothing written, otherwise: then call :func:`score` where waiting is harmless."""
    if not (platform.store.swaps_without_waiting and platform.stream_states.max_bytes):
        return None
    trial = platform.challengers.trial(tenant, name, version, key)
    loaded = platform.models.loaded(tenant, name, version if trial is None else trial.answering)
    if loaded is None:
        return None
    call = _Call.of(platform, tenant, name, loaded, records)
    served = "score" if trial is None else source(trial.served, True)
    with failures_logged(platform, tenant, loaded.version, served, records, call.started):
        results = call.swap(wait=False)
    if results is None:
        return None
    return _answer(call, trial, results, time.perf_counter() - call.started)


def _answer(
    call: _Call, trial: Trial | None, results: list[dict[str, Any]], latency: float
) -> dict[str, Any]:
    """Count and log the answers (while a challenger runs, queue the other side off the request path)."""
    platform, tenant, name, mv = call.platform, call.tenant, call.name, call.loaded.version
    metrics.RECORDER.predicted(tenant, name, mv.version, len(call.records))
    if trial is not None:

        def other_side(other: LoadedModel) -> tuple[list[dict[str, Any]], float]:
            return _Call.of(platform, tenant, name, other, call.records).scored()

        challenger.serve_trial(
            platform, tenant, name, trial, call.loaded, call.records, results, latency, other_side
        )
    else:
        platform.prediction_log.add(
            tenant,
            name,
            mv.version,
            "score",
            schema=mv.input_schema,
            records=call.records,
            answers=results,
            latency_s=latency,
            request_id=current_request_id(),
        )
    return {"model": name, "version": mv.version, "results": results}


def reset(platform: Platform, tenant: str, name: str, asset: str | None) -> dict[str, Any]:
    """Forget the kept window of one asset (or of every asset) of every version of ``name``."""
    platform.store.get_model(tenant, name)  # 404 for an unknown (or another tenant's) model
    dropped = platform.store.drop_stream_states(tenant, name, asset)
    platform.stream_states.drop(tenant, name, asset)  # (the registry's rows are gone: it would be stale)
    return {"model": name, "asset": asset, "dropped": dropped}
