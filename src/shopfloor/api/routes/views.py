"""Entity -> public schema conversions shared by routes."""

from __future__ import annotations

from typing import Any

from shopfloor.registry.entities import ApiKey, Dataset, Job


def dataset_view(d: Dataset) -> dict[str, Any]:
    return {
        "id": d.id,
        "name": d.name,
        "version": d.version,
        "rows": d.rows,
        "sha256": d.sha256,
        "size_bytes": d.size_bytes,
        "format": d.format,
        "columns": d.columns,
        "created_at": d.created_at,
    }


def job_view(j: Job) -> dict[str, Any]:
    params = {k: v for k, v in j.params.items() if k not in ("input",)}
    return {
        "id": j.id,
        "type": j.type,
        "status": j.status,
        "progress": round(j.progress, 4),
        "stage": j.stage,
        "message": j.message,
        "error": j.error,
        "params": params,
        "result": j.result,
        "created_at": j.created_at,
        "started_at": j.started_at,
        "finished_at": j.finished_at,
    }


def key_view(k: ApiKey) -> dict[str, Any]:
    return {
        "id": k.id,
        "tenant": k.tenant,
        "role": k.role,
        "name": k.name,
        "created_at": k.created_at,
        "revoked_at": k.revoked_at,
    }
