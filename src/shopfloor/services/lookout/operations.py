"""The operation table of the Lookout for Equipment facade, and what its operations share.

An operation is a name (the ``<Op>`` of ``X-Amz-Target: AWSLookoutEquipmentFrontendService.<Op>``),
the Shopfloor permission its caller's role needs, and a handler ``(platform, principal, request) ->
answer`` over the decoded JSON body. A handler parses the request (:func:`parse`), calls Shopfloor
services, and answers in Lookout's shapes (times as epoch seconds, :func:`epoch`; names and ARNs as
Lookout gives them, :func:`arn`). It raises ShopfloorErrors as everywhere; the route's error shape
turns them into AWS errors (``ValidationException`` and the others).

Adding operations: a module defines ``OPERATIONS = table(Operation(...), ...)`` and
:mod:`~shopfloor.services.lookout.catalog` gains one line for it.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from shopfloor.context import Platform
from shopfloor.errors import BadRequest, InvalidInput
from shopfloor.security.keys import Principal
from shopfloor.security.roles import Permission

#: The service name of the SigV4 credential scope, and the ``X-Amz-Target`` prefix of its operations.
SERVICE = "lookoutequipment"
TARGET_PREFIX = "AWSLookoutEquipmentFrontendService."
#: The region ARNs name when the caller's credential scope named none that can be used.
ARN_PARTITION = "arn:aws:lookoutequipment"

Handler = Callable[[Platform, Principal, dict[str, Any]], dict[str, Any]]
M = TypeVar("M", bound=BaseModel)


class UnknownOperation(BadRequest):
    """An ``X-Amz-Target`` that names no operation of the service."""

    code = "unknown-operation"


@dataclass(frozen=True)
class Operation:
    name: str
    permission: Permission
    handler: Handler


def table(*operations: Operation) -> dict[str, Operation]:
    """``OPERATIONS`` of one module: by name, each once."""
    found: dict[str, Operation] = {}
    for op in operations:
        if op.name in found:
            raise ValueError(f"operation {op.name} is defined twice")
        found[op.name] = op
    return found


def join(*tables: dict[str, Operation]) -> dict[str, Operation]:
    """The tables of several modules as one; an operation in two of them is a programming error."""
    joined: dict[str, Operation] = {}
    for part in tables:
        twice = joined.keys() & part.keys()
        if twice:
            raise ValueError(f"operations defined twice: {', '.join(sorted(twice))}")
        joined.update(part)
    return joined


def find(operations: dict[str, Operation], target: str | None) -> Operation:
    """The operation ``X-Amz-Target`` names; :class:`UnknownOperation` otherwise."""
    if not target or not target.startswith(TARGET_PREFIX):
        raise UnknownOperation(
            f"X-Amz-Target must be '{TARGET_PREFIX}<Operation>'; got {target!r}",
            errors=[{"loc": ["header", "X-Amz-Target"], "msg": "unknown target"}],
        )
    name = target[len(TARGET_PREFIX) :]
    op = operations.get(name)
    if op is None:
        raise UnknownOperation(
            f"operation {name!r} is not supported; supported: {', '.join(sorted(operations))}",
            errors=[{"loc": ["header", "X-Amz-Target"], "msg": "unknown operation"}],
        )
    return op


def decode(body: bytes) -> dict[str, Any]:
    """The JSON object of a request body (an empty body is ``{}``, as the SDKs send for no input)."""
    if not body.strip():
        return {}
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(
            f"the request body is not JSON: {exc}", errors=[{"loc": ["body"], "msg": "invalid JSON"}]
        ) from None
    if not isinstance(value, dict):
        raise InvalidInput(
            "the request body must be a JSON object", errors=[{"loc": ["body"], "msg": "not an object"}]
        )
    return value


def parse(model: type[M], request: dict[str, Any]) -> M:
    """``request`` as ``model``; :class:`InvalidInput` naming each bad member otherwise."""
    try:
        return model.model_validate(request)
    except ValidationError as exc:
        errors = [
            {"loc": ["body", *map(str, e["loc"])], "msg": e["msg"], "type": e["type"]} for e in exc.errors()
        ]
        where = "; ".join(f"{'.'.join(e['loc'][1:]) or 'body'}: {e['msg']}" for e in errors[:5])
        raise InvalidInput(f"{len(errors)} validation error(s) detected: {where}", errors=errors) from None


def epoch(when: datetime | None) -> float | None:
    """A time as the AWS JSON protocol sends it: seconds since the epoch."""
    if when is None:
        return None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


def arn(principal: Principal, kind: str, name: str) -> str:
    """The ARN Lookout would give resource ``kind/name`` of the caller: the tenant stands for the
    account (ARNs name resources; Shopfloor never parses them back)."""
    return f"{ARN_PARTITION}:local:{principal.tenant}:{kind}/{name}"


def page(
    items: Sequence[Any], token: str | None, limit: int | None, default: int = 50
) -> tuple[list[Any], str | None]:
    """One page of ``items`` from ``NextToken`` ``token``, at most ``limit``, and the next token."""
    start = 0
    if token:
        try:
            start = int(json.loads(base64.urlsafe_b64decode(token.encode()))["offset"])
        except (ValueError, KeyError, TypeError):
            raise InvalidInput(
                "NextToken is not a token this service gave",
                errors=[{"loc": ["body", "NextToken"], "msg": "invalid"}],
            ) from None
    size = default if limit is None else limit
    if size < 1 or size > 500:
        raise InvalidInput(
            "MaxResults must be between 1 and 500",
            errors=[{"loc": ["body", "MaxResults"], "msg": "out of range"}],
        )
    chunk = list(items[start : start + size])
    if start + size >= len(items):
        return chunk, None
    return chunk, base64.urlsafe_b64encode(json.dumps({"offset": start + size}).encode()).decode()
