"""Who may do what: one permission table for every route."""

from __future__ import annotations

from enum import StrEnum


class Permission(StrEnum):
    DATASETS_READ = "datasets:read"
    DATASETS_WRITE = "datasets:write"
    JOBS_READ = "jobs:read"
    JOBS_WRITE = "jobs:write"
    MODELS_READ = "models:read"
    MODELS_WRITE = "models:write"
    PREDICT = "predict"
    EXPLAIN = "explain"
    # The prediction log holds what callers sent (masked) and what they were answered: reading it back
    # (exports) is for the model's owners, not for every key that may predict.
    PREDICTIONS_READ = "predictions:read"
    KEYS = "keys"
    METRICS = "metrics"
    ALERTS_READ = "alerts:read"
    ALERTS_WRITE = "alerts:write"
    # A model's whole file (its trees, training medians and categories) leaves the server: the
    # model's owners, not every key that may read its metadata or predict.
    MODELS_EXPORT = "models:export"
    # The tenant's S3-compatible sources: credentials to its own buckets, so not for consumers.
    SOURCES = "sources"


_BUILDER = {
    Permission.DATASETS_READ,
    Permission.DATASETS_WRITE,
    Permission.JOBS_READ,
    Permission.JOBS_WRITE,
    Permission.MODELS_READ,
    Permission.MODELS_WRITE,
    Permission.MODELS_EXPORT,
    Permission.PREDICT,
    Permission.EXPLAIN,
    Permission.PREDICTIONS_READ,
    Permission.ALERTS_READ,
    Permission.ALERTS_WRITE,
    Permission.SOURCES,
}
_CONSUMER = {Permission.MODELS_READ, Permission.PREDICT, Permission.EXPLAIN}

ROLE_PERMISSIONS: dict[str, frozenset[Permission]] = {
    "admin": frozenset(Permission),
    "builder": frozenset(_BUILDER),
    "consumer": frozenset(_CONSUMER),
    # Scrape-only, for Prometheus: GET /metrics of its own tenant and nothing else.
    "metrics": frozenset({Permission.METRICS}),
}


def allowed(role: str, permission: Permission) -> bool:
    return permission in ROLE_PERMISSIONS.get(role, frozenset())
