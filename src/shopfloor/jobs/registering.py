"""Writing a model version's artifacts and registering it: all or nothing.

The last step of a training job (sealed artifact writes, signed registry row, artifacts removed
if the registry refuses), which the import service shares: it lives here, below the services.
"""

from __future__ import annotations

from typing import Any

from shopfloor.context import Platform
from shopfloor.registry.entities import ModelVersion
from shopfloor.registry.ids import new_id
from shopfloor.security import crypto, integrity
from shopfloor.storage.base import patiently


def register_version(
    platform: Platform,
    *,
    tenant: str,
    model: str,
    task: str,
    files: dict[str, bytes],
    report: dict[str, Any],
    input_schema: list[dict[str, Any]],
    lineage: dict[str, Any],
    job_id: str | None = None,
    wait_s: float = 0.0,
) -> ModelVersion:
    """Store ``files`` under a fresh prefix and add the version; no orphan artifact on failure.

    While the artifact store is unavailable the whole step is tried again, each time under a new
    prefix, for up to ``wait_s`` seconds (a job's trained model outlives a short outage; a request
    answers 503 at once with the default 0). A version is registered only after all its files
    are stored, so a failure never leaves a version whose files are missing.
    """
    return patiently(
        lambda: _register_once(
            platform,
            tenant=tenant,
            model=model,
            task=task,
            files=files,
            report=report,
            input_schema=input_schema,
            lineage=lineage,
            job_id=job_id,
        ),
        wait_s,
        f"storing model {model!r}",
    )


def _register_once(
    platform: Platform,
    *,
    tenant: str,
    model: str,
    task: str,
    files: dict[str, bytes],
    report: dict[str, Any],
    input_schema: list[dict[str, Any]],
    lineage: dict[str, Any],
    job_id: str | None,
) -> ModelVersion:
    prefix = f"{tenant}/models/{model}/{new_id('art')}"
    try:
        digests = {
            fname: platform.sealed.put(tenant, f"{prefix}/{fname}", data) for fname, data in files.items()
        }
        claims = integrity.version_claims(
            tenant=tenant, model=model, task=task, artifact=prefix, files=digests, input_schema=input_schema
        )
        version = platform.store.add_version(
            tenant=tenant,
            model=model,
            task=task,
            report=report,
            input_schema=input_schema,
            files=digests,
            artifact=prefix,
            lineage=lineage,
            job_id=job_id,
            signature=crypto.sign(platform.signing_key, claims),
            size_bytes=sum(len(data) for data in files.values()),
        )
    except BaseException as exc:
        platform.sealed.undo(prefix, exc)
        raise
    if version.artifact != prefix:  # the job had registered this version before it was run again
        platform.sealed.undo(prefix)
    return version
