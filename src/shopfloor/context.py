"""The objects one process needs, built once from settings: registry, artifacts, key checker, caches."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from shopfloor import threads
from shopfloor.jobs.live import LiveLabelledSource, NoLiveData
from shopfloor.registry.store import Store, open_store
from shopfloor.security.keys import Generation, KeyChecker
from shopfloor.settings import Settings, hub_cache_dir
from shopfloor.storage.base import ArtifactStore, is_remote, open_artifacts
from shopfloor.storage.digest_cache import DigestCache
from shopfloor.storage.sealed import SealedArtifacts


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
    #: Labelled live records of a model, for a retraining gate: the prediction log's where the
    #: platform is built from settings (:meth:`from_settings`), none otherwise.
    live_labelled: LiveLabelledSource = field(default_factory=NoLiveData)

    def __post_init__(self) -> None:
        self.keys = KeyChecker(self.store, self.secret, self.generation)

    @cached_property
    def sealed(self) -> SealedArtifacts:
        """Tenant data, encrypted at rest; ``artifacts`` stays the raw store (listing, deleting)."""
        from shopfloor.security.crypto import load_master_key

        cache = None
        if is_remote(self.settings.resolved_artifacts_url):  # fetched once per host, not per load
            cache = DigestCache(
                self.settings.resolved_artifact_cache_dir, int(self.settings.artifact_cache_mb * 1024 * 1024)
            )
        return SealedArtifacts(self.artifacts, load_master_key(self.settings), self.store, cache)

    @cached_property
    def signing_key(self) -> bytes:
        """HMAC key of registry signatures: derived from the server secret, not the master key,
        so rotating the master key leaves signatures valid."""
        from shopfloor.security.crypto import signing_key

        return signing_key(self.secret)

    @classmethod
    def from_settings(cls, settings: Settings) -> Platform:
        from shopfloor.hub.encoders import configure
        from shopfloor.security.files import owner_only_files, private_home

        owner_only_files()  # the registry, its WAL, keys, artifacts and scratch: owner-only
        private_home(settings.home)
        configure(settings.hub_dir, hub_cache_dir(settings))  # models trained on embeddings load with it
        threads.configure(settings.job_threads)
        store = open_store(settings.resolved_database_url)
        platform = cls(
            settings=settings,
            store=store,
            artifacts=open_artifacts(settings.resolved_artifacts_url, settings),
            secret=server_secret(settings),
            generation=Generation(store),  # in the registry: every server sharing it sees changes
        )
        try:
            platform.sealed  # noqa: B018 - a bad master key must fail at start, not at the first upload
        except BaseException:
            platform.close()
            raise
        from shopfloor.serving.live_labelled import LoggedLabels

        # every process (API workers, job processes) reads the gate's live records from the log
        platform.live_labelled = LoggedLabels(platform)
        return platform

    @cached_property
    def models(self):  # type: ignore[no-untyped-def]  # ModelCache, imported lazily
        from shopfloor.serving.cache import ModelCache

        return ModelCache(self)

    @cached_property
    def stream_states(self):  # type: ignore[no-untyped-def]  # StreamStateCache, imported lazily
        from shopfloor.serving.stream_states import StreamStateCache

        return StreamStateCache(int(self.settings.stream_cache_mb * 1024 * 1024))

    @cached_property
    def prediction_log(self):  # type: ignore[no-untyped-def]  # PredictionLog, imported lazily
        """This process's buffer of predictions to log (:mod:`shopfloor.serving.prediction_log`)."""
        from shopfloor.serving.prediction_log import PredictionLog

        return PredictionLog(self)

    @cached_property
    def challengers(self):  # type: ignore[no-untyped-def]  # Challengers, imported lazily
        """This process's challenger modes and the queue of their runs off the request path
        (:mod:`shopfloor.serving.challenger`)."""
        from shopfloor.serving.challenger import Challengers

        return Challengers(self)

    @property
    def scratch(self) -> Path:
        """This process's folder for files in flight (uploads being parsed, batch inputs).

        One folder per host and process, so that a restart can remove what a killed
        process left (``clear_dead_scratch``) without touching a live process's files.
        """
        path = self.settings.home / "tmp" / f"{socket.gethostname()}-{os.getpid()}"
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        return path

    def close(self) -> None:
        """Let the challengers' queued runs finish, write the predictions still buffered for the log,
        then close the registry."""
        challengers = vars(self).get("challengers")
        if challengers is not None:
            challengers.close()  # first: their answers go to the log
        found = vars(self).get("prediction_log")
        if found is not None:
            found.close()
        self.store.close()


def clear_dead_scratch(settings: Settings) -> int:
    """Remove the scratch folders of this host's processes that are gone; returns how many."""
    from shopfloor.lifecycle import process_alive

    root, host, removed = settings.home / "tmp", socket.gethostname(), 0
    if not root.is_dir():
        return 0
    for entry in root.iterdir():
        owner, _, pid = entry.name.rpartition("-")
        if entry.is_dir() and owner == host and pid.isdigit() and not process_alive(int(pid)):
            shutil.rmtree(entry, ignore_errors=True)
            removed += 1
        elif entry.is_file():  # a loose file can only be a leftover
            entry.unlink(missing_ok=True)
            removed += 1
    return removed
