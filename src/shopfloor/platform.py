"""The objects one process needs, built once from settings: registry, artifacts, key checker, caches."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from shopfloor.registry.store import Store, open_store
from shopfloor.security.keys import Generation, KeyChecker
from shopfloor.settings import Settings
from shopfloor.storage.base import ArtifactStore, open_artifacts


def server_secret(settings: Settings) -> bytes:
    """The secret that keys API-key hashes: from settings, or generated once into the home directory."""
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value().encode()
    path = settings.home / "secret.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    return path.read_text().strip().encode()


@dataclass
class Platform:
    settings: Settings
    store: Store
    artifacts: ArtifactStore
    secret: bytes
    generation: Generation
    keys: KeyChecker = field(init=False)

    def __post_init__(self) -> None:
        self.keys = KeyChecker(self.store, self.secret, self.generation)

    @classmethod
    def from_settings(cls, settings: Settings) -> Platform:
        settings.home.mkdir(parents=True, exist_ok=True)
        return cls(
            settings=settings,
            store=open_store(settings.resolved_database_url),
            artifacts=open_artifacts(settings.resolved_artifacts_url),
            secret=server_secret(settings),
            generation=Generation(settings.home / "run" / "generation"),
        )

    @cached_property
    def models(self):  # type: ignore[no-untyped-def]  # ModelCache, imported lazily
        from shopfloor.serving.cache import ModelCache

        return ModelCache(self)

    @property
    def scratch(self) -> Path:
        path = self.settings.home / "tmp"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def close(self) -> None:
        self.store.close()
