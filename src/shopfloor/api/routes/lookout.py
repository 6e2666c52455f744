"""AWS Lookout for Equipment at ``POST /aws/lookoutequipment``: the AWS JSON 1.0 protocol.

boto3 reaches it with ``endpoint_url="http://host:port/aws/lookoutequipment"`` and the access key
pair of ``shopfloor keys create --aws``. Every request is checked in this order: its SigV4
signature (:mod:`shopfloor.services.lookout.access`), then the API key behind the access key
(rate limits, then the operation's permission; refusals audited as on every route), then the
operation named by ``X-Amz-Target`` runs (:mod:`shopfloor.services.lookout.catalog`).

Errors answer in AWS's shape, ``{"__type": ..., "message": ...}`` with the ``x-amzn-ErrorType``
header, which botocore turns into ``ClientError`` with ``Error.Code`` and ``Error.Message``.

The route is left out of the OpenAPI schema: its one path carries every operation, told apart by a
header, which OpenAPI cannot describe; it answers to AWS SDKs, not to OpenAPI clients.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response

from shopfloor.api.deps import admit_principal
from shopfloor.api.problems import ErrorInfo
from shopfloor.context import Platform
from shopfloor.security.sigv4 import SignedRequest
from shopfloor.services.lookout import access
from shopfloor.services.lookout.catalog import OPERATIONS
from shopfloor.services.lookout.operations import decode, find
from shopfloor.telemetry.logcontext import current_request_id

PATH = "/aws/lookoutequipment"
MEDIA_TYPE = "application/x-amz-json-1.0"

router = APIRouter(tags=["aws"], include_in_schema=False)


def _signed(request: Request, body: bytes) -> SignedRequest:
    return SignedRequest(
        method=request.method,
        raw_path=request.scope.get("raw_path", request.url.path.encode()).decode("latin-1").split("?", 1)[0],
        raw_query=request.scope.get("query_string", b"").decode("latin-1"),
        headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.scope["headers"]],
        body=body,
    )


def _request_id() -> str:
    return current_request_id() or str(uuid.uuid4())


@router.post(PATH)
@router.post(PATH + "/")
async def dispatch(request: Request) -> Response:
    """One Lookout for Equipment operation, named by ``X-Amz-Target``."""
    platform: Platform = request.app.state.platform
    body = await request.body()
    signed = _signed(request, body)
    principal = await run_in_threadpool(access.authenticate, platform, signed, request.url.path)
    operation = find(OPERATIONS, request.headers.get("x-amz-target"))
    await admit_principal(request, principal, operation.permission)
    answer: dict[str, Any] = await run_in_threadpool(operation.handler, platform, principal, decode(body))
    return JSONResponse(
        {k: v for k, v in answer.items() if v is not None},
        media_type=MEDIA_TYPE,
        headers={"x-amzn-RequestId": _request_id()},
    )


#: Shopfloor error codes with an AWS error of their own: (``__type``, HTTP status).
_BY_CODE = {
    "invalid-signature": ("InvalidSignatureException", 403),
    "incomplete-signature": ("IncompleteSignatureException", 400),
    "missing-authentication": ("MissingAuthenticationTokenException", 403),
    "unrecognized-client": ("UnrecognizedClientException", 403),
    "unknown-operation": ("UnknownOperationException", 400),
    "storage-quota-exceeded": ("ServiceQuotaExceededException", 400),
}
#: The others, by their HTTP status.
_BY_STATUS = {
    401: ("UnrecognizedClientException", 403),
    403: ("AccessDeniedException", 403),
    404: ("ResourceNotFoundException", 404),
    409: ("ConflictException", 409),
    429: ("ThrottlingException", 429),
}


def aws_error(status: int, code: str) -> tuple[str, int]:
    """The AWS error type and HTTP status of a Shopfloor error (``status``, ``code``)."""
    if code in _BY_CODE:
        return _BY_CODE[code]
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    if status >= 500:
        return "InternalServerException", status
    return "ValidationException", 400


def aws_problem(request: Request, error: ErrorInfo) -> Response | None:
    """Errors under :data:`PATH` in AWS's JSON shape; None elsewhere."""
    if request.url.path.rstrip("/") != PATH:
        return None
    kind, status = aws_error(error.status, error.code)
    return JSONResponse(
        {"__type": kind, "message": error.detail},
        status_code=status,
        media_type=MEDIA_TYPE,
        headers={"x-amzn-ErrorType": kind, "x-amzn-RequestId": _request_id()},
    )
