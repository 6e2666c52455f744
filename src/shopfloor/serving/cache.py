"""Loaded models, kept in a bounded per-process cache; one artifact read per model version.

Alias resolutions are cached too and dropped whenever the registry generation
moves (every alias or key change bumps it), so the predict path makes no
registry query in the steady state.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shopfloor.registry.entities import ModelVersion
from shopfloor.serving.validation import compile_schema
from shopfloor.storage.base import verified
from shopfloor.tasks.catalog import estimator_class

if TYPE_CHECKING:
    from shopfloor.platform import Platform

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadedModel:
    version: ModelVersion
    estimator: Any
    validate: Callable[[Any], None]


class ModelCache:
    def __init__(self, platform: Platform) -> None:
        self._platform = platform
        self._max = platform.settings.model_cache_size
        self._models: OrderedDict[tuple[str, str, int], LoadedModel] = OrderedDict()
        self._resolved: dict[tuple[str, str, int | str | None], ModelVersion] = {}
        self._generation: tuple[int, int] | None = None
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

    def get(self, tenant: str, name: str, version: int | str | None = None) -> LoadedModel:
        mv = self.resolve(tenant, name, version)
        key = (tenant, name, mv.version)
        loaded = self._models.get(key)
        if loaded is not None:
            return loaded
        with self._lock:
            loaded = self._models.get(key)
            if loaded is None:
                loaded = self._load(mv)
                self._models[key] = loaded
                while len(self._models) > self._max:
                    self._models.popitem(last=False)
            else:
                self._models.move_to_end(key)
        return loaded

    def _load(self, mv: ModelVersion) -> LoadedModel:
        artifacts = self._platform.artifacts
        files = {}
        for fname, digest in mv.files.items():
            key = f"{mv.artifact}/{fname}"
            files[fname] = verified(key, artifacts.get_bytes(key), digest)
        estimator = estimator_class(mv.task).load(files)
        log.info("loaded model %s version %s", mv.model, mv.version)
        return LoadedModel(version=mv, estimator=estimator, validate=compile_schema(mv.input_schema))

    def forget(self) -> None:
        with self._lock:
            self._models.clear()
            self._resolved.clear()
