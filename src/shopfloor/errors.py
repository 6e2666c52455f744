"""The project's exception tree. Each class carries its HTTP status and a stable code.

Domain code raises only these; ``shopfloor.api.app`` turns them into RFC 9457
problem+json in one handler. Nothing here imports web code.
"""

from __future__ import annotations

from typing import Any


class ShopfloorError(Exception):
    """Root of every error the platform raises on purpose.

    ``detail`` is the human sentence; ``errors`` optionally lists where the
    problem is (``{"loc": [...], "msg": ...}``: column, row, field).
    """

    status: int = 500
    code: str = "internal-error"
    title: str = "Internal error"

    def __init__(self, detail: str, *, errors: list[dict[str, Any]] | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []
        self.extra = extra

    def __reduce__(self) -> tuple[Any, ...]:
        # Rebuilt from its state, not by calling __init__ again (the subclasses' signatures differ):
        # an error raised in a part of a job on another Dask worker arrives whole, detail and all.
        return (_rebuild, (type(self), self.args, self.__dict__))


def _rebuild(cls: type[ShopfloorError], args: tuple[Any, ...], state: dict[str, Any]) -> ShopfloorError:
    exc = cls.__new__(cls)
    Exception.__init__(exc, *args)
    exc.__dict__.update(state)
    return exc


class InvalidInput(ShopfloorError):
    status, code, title = 422, "invalid-input", "Invalid input"


class BadRequest(ShopfloorError):
    status, code, title = 400, "bad-request", "Bad request"


class InvalidDataset(InvalidInput):
    code, title = "invalid-dataset", "Invalid dataset"


class UnsupportedMediaType(ShopfloorError):
    status, code, title = 415, "unsupported-media-type", "Unsupported file type"


class PayloadTooLarge(ShopfloorError):
    status, code, title = 413, "payload-too-large", "Payload too large"


class NotAuthenticated(ShopfloorError):
    status, code, title = 401, "not-authenticated", "Not authenticated"


class Forbidden(ShopfloorError):
    status, code, title = 403, "forbidden", "Forbidden"


class NotFound(ShopfloorError):
    status, code, title = 404, "not-found", "Not found"


class Conflict(ShopfloorError):
    status, code, title = 409, "conflict", "Conflict"


class JobCancelled(ShopfloorError):
    status, code, title = 409, "job-cancelled", "Job cancelled"


class ArtifactCorrupted(ShopfloorError):
    status, code, title = 500, "artifact-corrupted", "Artifact failed its integrity check"


class NotFitted(ShopfloorError):
    status, code, title = 500, "not-fitted", "Estimator not fitted"


class RegistryUnavailable(ShopfloorError):
    status, code, title = 503, "registry-unavailable", "Registry unavailable"


#: An object store that stopped answering is usually back within seconds (a restart, a failover).
STORE_RETRY_AFTER_S = 10


class StoreUnavailable(ShopfloorError):
    """503: the artifact store (an S3-compatible service) does not answer, or refuses this server.

    Nothing was acknowledged: a write that raises this left no registered row behind, so the
    client may send the same request again after ``Retry-After`` seconds.
    """

    status, code, title = 503, "store-unavailable", "Artifact store unavailable"

    def __init__(self, detail: str, *, retry_after: int | None = None, **extra: Any) -> None:
        retry_after = STORE_RETRY_AFTER_S if retry_after is None else retry_after
        super().__init__(detail, retry_after=retry_after, **extra)
        self.headers = {"Retry-After": str(retry_after)}


class KeyUnavailable(ShopfloorError):
    """A wrapped tenant key cannot be opened with the configured master key (server misconfigured)."""

    code, title = "key-unavailable", "Encryption key unavailable"


class RateLimited(ShopfloorError):
    """429: a rate or a quota that frees up with time; ``retry_after`` seconds go in ``Retry-After``."""

    status, code, title = 429, "rate-limited", "Too many requests"

    def __init__(self, detail: str, *, retry_after: int, **extra: Any) -> None:
        super().__init__(detail, retry_after=retry_after, **extra)
        self.headers = {"Retry-After": str(retry_after)}


#: No telling when a tenant's running jobs end: a client retrying sooner than this only adds load.
JOBS_RETRY_AFTER_S = 30
#: Stored data does not shrink by itself: ask clients to come back much later (or an operator to
#: raise the quota), not to retry in a loop.
STORAGE_RETRY_AFTER_S = 3600


class StorageQuotaExceeded(RateLimited):
    """429, like every quota, with a long ``Retry-After``: room comes back only when data is deleted
    or the tenant's quota is raised (``shopfloor tenants quotas set``)."""

    code, title = "storage-quota-exceeded", "Storage quota exceeded"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail, retry_after=STORAGE_RETRY_AFTER_S, **extra)


class PartFailed(ShopfloorError):
    """A part of a job that ran as a task of its own on the Dask cluster (a cross-validated
    candidate, a stability refit, a chunk of series) failed: the job fails with it."""

    code, title = "job-part-failed", "A part of the job failed"


class TargetNotAllowed(InvalidInput):
    """422: a webhook target outside the hosts and networks the operator allows
    (``SHOPFLOOR_WEBHOOK_ALLOWED_HOSTS`` / ``SHOPFLOOR_WEBHOOK_ALLOWED_NETWORKS``)."""

    code, title = "target-not-allowed", "Webhook target not allowed"


class EndpointNotAllowed(TargetNotAllowed):
    """422: a source endpoint outside the hosts and networks the operator allows
    (``SHOPFLOOR_SOURCE_ALLOWED_HOSTS`` / ``SHOPFLOOR_SOURCE_ALLOWED_NETWORKS``)."""

    code, title = "endpoint-not-allowed", "Source endpoint not allowed"


class SourceDenied(InvalidInput):
    """422: a tenant's S3-compatible source refused its own credentials (access denied, unknown
    access key, wrong secret): the source as registered cannot do this; nothing was read or written."""

    code, title = "source-denied", "Source refused the request"


class SourceUnavailable(ShopfloorError):
    """502: a tenant's S3-compatible source does not answer (or answers with a server error);
    nothing was acknowledged, the request may be sent again later."""

    status, code, title = 502, "source-unavailable", "Source unavailable"
