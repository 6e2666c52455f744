"""What a registry signature covers, and what happens when a check fails.

A model version is signed over (tenant, model, task, artifact prefix, file name -> sha256,
input schema); a dataset over (tenant, id, name, artifact prefix, upload sha256, sha256 of the
stored parquet plaintext, rows). Editing any of these in the registry, or pointing a row at other
files, makes the signature fail. A failure is recorded as an ``artifact.rejected`` audit event and
raised as :class:`~shopfloor.errors.ArtifactCorrupted`.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from shopfloor.errors import ArtifactCorrupted
from shopfloor.registry.entities import AuditEvent, Dataset
from shopfloor.registry.store import AuditStore
from shopfloor.security import crypto

log = logging.getLogger(__name__)

REJECTED = "artifact.rejected"
_UNSIGNED = "it has no signature (written before artifact signing); re-train or re-import it"


class IntegrityPlatform(Protocol):
    """What the checks read of the process's :class:`~shopfloor.context.Platform` (which sits
    above this module): the registry signing key, and the registry for the audit trail."""

    @property
    def signing_key(self) -> bytes: ...

    @property
    def store(self) -> AuditStore: ...


def version_claims(
    *,
    tenant: str,
    model: str,
    task: str,
    artifact: str,
    files: dict[str, str],
    input_schema: list[dict[str, Any]],
) -> dict[str, Any]:
    """The signed fields of a model version (its number is assigned later by the registry, so the
    artifact prefix, unique per training run, is what ties the row to its files)."""
    return {
        "kind": "model",
        "tenant": tenant,
        "model": model,
        "task": task,
        "artifact": artifact,
        "files": dict(files),
        "input_schema": input_schema,
    }


def dataset_claims(
    *,
    tenant: str,
    dataset_id: str,
    name: str,
    artifact: str,
    upload_sha256: str,
    stored_sha256: str,
    rows: int,
) -> dict[str, Any]:
    """The signed fields of a dataset; ``stored_sha256`` is over the stored parquet plaintext."""
    return {
        "kind": "dataset",
        "tenant": tenant,
        "id": dataset_id,
        "name": name,
        "artifact": artifact,
        "upload_sha256": upload_sha256,
        "stored_sha256": stored_sha256,
        "rows": rows,
    }


def dataset_claims_of(dataset: Dataset, stored_sha256: str) -> dict[str, Any]:
    return dataset_claims(
        tenant=dataset.tenant,
        dataset_id=dataset.id,
        name=dataset.name,
        artifact=dataset.artifact,
        upload_sha256=dataset.sha256,
        stored_sha256=stored_sha256,
        rows=dataset.rows,
    )


def signature_problem(
    platform: IntegrityPlatform, claims: dict[str, Any], signature: str | None
) -> str | None:
    """None if ``signature`` signs ``claims`` under this server's signing key, else why not."""
    if signature is None:
        return _UNSIGNED
    if not crypto.verify(platform.signing_key, claims, signature):
        return "its registry record does not match its signature (the row or its files were changed)"
    return None


def reject(
    platform: IntegrityPlatform, *, tenant: str, target: str, detail: str, extra: dict[str, Any] | None = None
) -> ArtifactCorrupted:
    """Audit an ``artifact.rejected`` event and return the error to raise.

    The audit write is best effort: a registry outage must not hide the integrity failure.
    """
    try:
        platform.store.add_audit(
            [
                AuditEvent(
                    tenant=tenant,
                    action=REJECTED,
                    outcome="error",
                    target=target,
                    detail={"reason": detail, **(extra or {})},
                )
            ]
        )
    except Exception:  # best effort, see the docstring
        log.exception("could not audit the rejection of %s", target)
    log.error("refused %s: %s", target, detail)
    return ArtifactCorrupted(detail)
