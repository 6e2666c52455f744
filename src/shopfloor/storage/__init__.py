"""Artifact storage behind one protocol; backends are chosen by URL scheme."""

from shopfloor.storage.base import ArtifactStore, open_artifacts

__all__ = ["ArtifactStore", "open_artifacts"]
