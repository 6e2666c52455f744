"""Loaded models, kept in a bounded per-process cache; one artifact read per model version.

Alias resolutions are cached too and dropped whenever the registry generation
moves (every alias or key change bumps it), so the predict path makes no
registry query in the steady state.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, OrderedDict
from dataclasses import dataclass
from typing import Any, Protocol

from shopfloor import metrics
from shopfloor.errors import ArtifactCorrupted
from shopfloor.registry.entities import ModelVersion
from shopfloor.registry.store import AuditStore, ModelStore
from shopfloor.security import integrity
from shopfloor.security.keys import Generation
from shopfloor.serving.validation import Validator, compile_schema
from shopfloor.settings import Settings
from shopfloor.storage.sealed import SealedArtifacts
from shopfloor.tasks.catalog import capabilities, estimator_class

log = logging.getLogger(__name__)

#: How long a refused model version stays refused without a new read (and a new audit event):
#: a client retrying in a loop must not turn one tampered file into an audit flood.
REJECTION_TTL_S = 30.0


class CacheStore(ModelStore, AuditStore, Protocol):
    """The registry as the cache reads it: model versions and aliases, the audit of a refusal."""


class CachePlatform(Protocol):
    """What the cache reads of the process's :class:`~shopfloor.context.Platform`, which holds
    the cache (and so is built above it): settings, generation, registry, sealed files, signing key."""

    @property
    def settings(self) -> Settings: ...

    @property
    def generation(self) -> Generation: ...

    @property
    def store(self) -> CacheStore: ...

    @property
    def sealed(self) -> SealedArtifacts: ...

    @property
    def signing_key(self) -> bytes: ...


@dataclass(frozen=True)
class LoadedModel:
    version: ModelVersion
    estimator: Any
    validate: Validator  # (records, most records per request or None)
    #: each record is answered on its own: requests may share a model call (serving/batching.py)
    batched: bool = False


class ModelCache:
    def __init__(self, platform: CachePlatform) -> None:
        self._platform = platform
        self._max = platform.settings.model_cache_size
        self._models: OrderedDict[tuple[str, str, int], LoadedModel] = OrderedDict()
        self._resolved: dict[tuple[str, str, int | str | None], ModelVersion] = {}
        self._generation: tuple[int, int] | None = None
        self._rejected: dict[tuple[str, str, int], tuple[float, ArtifactCorrupted]] = {}
        self._lock = threading.Lock()

    def resolve(self, tenant: str, name: str, version: int | str | None) -> ModelVersion:
        """The version a request means: a number, an alias name, or (None) the production alias."""
        gen = self._platform.generation.current()
        if gen != self._generation:
            self._resolved.clear()
            self._generation = gen
        key = (tenant, name, version)
        found = self._resolved.get(key)
        if found is None:
            if isinstance(version, str) and not version.isdigit():
                found = self._platform.store.resolve(tenant, name, None, alias=version)
            else:
                found = self._platform.store.resolve(
                    tenant, name, int(version) if version is not None else None
                )
            self._resolved[key] = found
        return found

    def loaded(self, tenant: str, name: str, version: int | str | None = None) -> LoadedModel | None:
        """What :meth:`get` gives when the model is in memory already; None where it would load it."""
        mv = self.resolve(tenant, name, version)
        found = self._models.get((tenant, name, mv.version))
        return found if found is not None and found.version.artifact == mv.artifact else None

    def get(self, tenant: str, name: str, version: int | str | None = None) -> LoadedModel:
        mv = self.resolve(tenant, name, version)
        key = (tenant, name, mv.version)
        loaded = self._models.get(key)
        # A model deleted and made again under its name restarts at version 1: the artifact, unique
        # per version ever stored, tells the old estimator from the new one.
        if loaded is not None and loaded.version.artifact == mv.artifact:
            return loaded
        with self._lock:
            loaded = self._models.get(key)
            if loaded is None or loaded.version.artifact != mv.artifact:
                # A refused version raises here and is never cached: other models keep serving.
                loaded = self._load_checked(key, mv)
                self._models[key] = loaded
                while len(self._models) > self._max:
                    self._models.popitem(last=False)
                metrics.RECORDER.loaded_models(Counter(t for t, _, _ in self._models))
            else:
                self._models.move_to_end(key)
        return loaded

    def _load_checked(self, key: tuple[str, str, int], mv: ModelVersion) -> LoadedModel:
        refused = self._rejected.get(key)
        if refused is not None and time.monotonic() - refused[0] < REJECTION_TTL_S:
            raise refused[1]
        try:
            loaded = self._load(mv)
        except ArtifactCorrupted as exc:
            self._rejected[key] = (time.monotonic(), exc)
            raise
        self._rejected.pop(key, None)
        return loaded

    def _load(self, mv: ModelVersion) -> LoadedModel:
        """Check the version's signature, decrypt and verify every file, build the estimator.

        Raises :class:`ArtifactCorrupted` naming the model, version and file (and audits
        ``artifact.rejected``) on any integrity failure.
        """
        target = f"model:{mv.model}:{mv.version}"
        claims = integrity.version_claims(
            tenant=mv.tenant,
            model=mv.model,
            task=mv.task,
            artifact=mv.artifact,
            files=mv.files,
            input_schema=mv.input_schema,
        )
        why = integrity.signature_problem(self._platform, claims, mv.signature)
        if why is not None:
            raise integrity.reject(
                self._platform,
                tenant=mv.tenant,
                target=target,
                detail=f"model {mv.model!r} version {mv.version} is refused: {why}",
            )
        files = {}
        for fname, digest in mv.files.items():
            try:
                # keep: a model is fetched from a remote store once per host, not once per process
                files[fname] = self._platform.sealed.get(
                    mv.tenant, f"{mv.artifact}/{fname}", digest, keep=True
                )
            except ArtifactCorrupted as exc:
                raise integrity.reject(
                    self._platform,
                    tenant=mv.tenant,
                    target=target,
                    detail=f"model {mv.model!r} version {mv.version}, file {fname!r}: {exc.detail}",
                    extra={"file": fname},
                ) from None
        estimator = estimator_class(mv.task).load(files)
        log.info("loaded model %s version %s", mv.model, mv.version)
        return LoadedModel(
            version=mv,
            estimator=estimator,
            validate=compile_schema(mv.input_schema),
            batched=capabilities(mv.task).batched,
        )

    def forget(self) -> None:
        with self._lock:
            self._models.clear()
            self._resolved.clear()
            self._rejected.clear()
            metrics.RECORDER.loaded_models({})
