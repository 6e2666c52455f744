"""What every Azure Anomaly Detector v1.1 route shares: its prefix, its key header, its error shape.

Clients written for the retired Azure service (``azure-ai-anomalydetector``) send the key in
``Ocp-Apim-Subscription-Key`` and decode errors as ``{"code": ..., "message": ...}`` (the SDK's
``AnomalyDetectorError`` / ``ResponseError`` models; azure-core reads the same two fields into
``HttpResponseError.error``), with the code also in the ``x-ms-error-code`` header. Here the key is
a Shopfloor API key, admitted exactly as a bearer key is (:func:`shopfloor.api.deps.admit_key`:
rate limits, audit of bad keys and refusals), and errors raised anywhere below these routes are the
usual :class:`~shopfloor.errors.ShopfloorError` subclasses, put in Azure's shape by
:func:`azure_problem` (installed in ``api/app.py``) instead of problem+json.

An Azure error code for an input error travels as the ``type`` of the error's first item
(:func:`~shopfloor.services.azure_series.invalid` builds such errors, in the services where they are
raised); other errors get a code from their status.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader
from pydantic import BaseModel, Field
from starlette.responses import JSONResponse, Response

from shopfloor.api.deps import admit_key
from shopfloor.api.problems import ErrorInfo
from shopfloor.errors import NotAuthenticated
from shopfloor.security.keys import Principal
from shopfloor.security.roles import Permission
from shopfloor.services.azure_series import invalid

__all__ = ["PREFIX", "AzurePredictor", "SubscriptionKey", "azure_problem", "invalid"]

#: Every Azure Anomaly Detector route lives under this prefix: the SDK builds
#: ``{endpoint}/anomalydetector/{api_version}/...`` with ``api_version="v1.1"``.
PREFIX = "/anomalydetector/v1.1"
#: Errors under this path are answered in Azure's shape.
SCOPE = "/anomalydetector/"
KEY_HEADER = "Ocp-Apim-Subscription-Key"
ERROR_CODE_HEADER = "x-ms-error-code"

#: The error codes of the v1.1 API (``AnomalyDetectorErrorCodes`` and the multivariate ones); an
#: input error whose first item has one of these as its ``type`` answers with it.
AZURE_CODES = frozenset(
    {
        "BadArgument",
        "InvalidCustomInterval",
        "InvalidGranularity",
        "InvalidPeriod",
        "InvalidModelArgument",
        "InvalidSeries",
        "InvalidJsonFormat",
        "RequiredGranularity",
        "RequiredSeries",
        "InvalidImputeMode",
        "InvalidImputeFixedValue",
        "ModelNotExist",
        "ModelNotReady",
        "ResultNotExist",
        "DataSourceError",
    }
)

# The code of an error that names none, by status.
_BY_STATUS = {
    400: "BadArgument",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    413: "PayloadTooLarge",
    415: "UnsupportedMediaType",
    422: "BadArgument",
    429: "TooManyRequests",
    503: "ServiceUnavailable",
}


class AzureError(BaseModel):
    """An error as the Azure Anomaly Detector API answers it (also in the ``x-ms-error-code`` header)."""

    code: str = Field(description="The error code, e.g. InvalidSeries, BadArgument, Unauthorized")
    message: str = Field(description="What was wrong, and where")


_ERROR_STATUSES = {
    400: "Invalid input (code and message say which field and why)",
    401: "Missing or invalid key in Ocp-Apim-Subscription-Key",
    403: "The key's role may not do this",
    404: "No such object in the caller's tenant",
    409: "The request conflicts with the current state",
    413: "The body is over its limit",
    429: "Over a rate limit or quota; see Retry-After",
    503: "The registry or the artifact store does not answer; see Retry-After",
}

#: ``responses=`` for an Azure router: its errors are ``application/json`` in Azure's shape.
AZURE_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": AzureError, "description": text, "content": {"application/json": {}}}
    for status, text in _ERROR_STATUSES.items()
}


def is_azure(request: Request) -> bool:
    """Under ``/anomalydetector/``: another API version (v1.0) gets its 404 in Azure's shape too."""
    return request.url.path.startswith(SCOPE)


def azure_code(error: ErrorInfo) -> str:
    """The Azure error code of ``error``: the first item's ``type`` when it is one of the API's
    codes, a malformed body's InvalidJsonFormat, else one by status."""
    for item in error.errors[:1]:
        kind = str(item.get("type", ""))
        if kind in AZURE_CODES:
            return kind
        if kind == "json_invalid":
            return "InvalidJsonFormat"
    if error.status >= 500:
        return _BY_STATUS.get(error.status, "InternalServerError")
    return _BY_STATUS.get(error.status, "BadArgument")


def azure_problem(request: Request, error: ErrorInfo) -> Response | None:
    """Azure's answer to an error under :data:`SCOPE`, or None elsewhere (a ``ProblemShape``).

    Input errors answer 400, as the Azure service did (Shopfloor's own routes answer 422).
    """
    if not is_azure(request):
        return None
    status = 400 if error.status == 422 else error.status
    code = azure_code(error)
    return JSONResponse(
        {"code": code, "message": error.detail}, status_code=status, headers={ERROR_CODE_HEADER: code}
    )


class SubscriptionKey(APIKeyHeader):
    """The Shopfloor API key in ``Ocp-Apim-Subscription-Key``, admitted for one permission.

    A subclass of ``APIKeyHeader`` so the OpenAPI schema declares the header scheme.
    """

    def __init__(self, permission: Permission) -> None:
        super().__init__(
            name=KEY_HEADER,
            auto_error=False,
            scheme_name="AzureSubscriptionKey",
            description=f"A Shopfloor API key in `{KEY_HEADER}: sfk_…` (Azure Anomaly Detector routes)",
        )
        self.permission = permission

    async def __call__(self, request: Request) -> Principal:  # type: ignore[override]
        token = (request.headers.get(KEY_HEADER) or "").strip()
        if not token:
            raise NotAuthenticated(f"missing key: send '{KEY_HEADER}: <Shopfloor API key>'")
        return await admit_key(request, token, self.permission)


# The caller of an Azure route, checked for one permission.
AzurePredictor = Annotated[Principal, Depends(SubscriptionKey(Permission.PREDICT))]
AzureModelsReader = Annotated[Principal, Depends(SubscriptionKey(Permission.MODELS_READ))]
AzureModelsWriter = Annotated[Principal, Depends(SubscriptionKey(Permission.MODELS_WRITE))]
