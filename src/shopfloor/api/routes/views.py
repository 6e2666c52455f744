"""Entity -> public schema conversions shared by routes."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from shopfloor.data.series_report import series_summary
from shopfloor.errors import InvalidInput
from shopfloor.registry.entities import ApiKey, Dataset, Job
from shopfloor.services.masking import summary as masking_summary
from shopfloor.services.parts import FilePart


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
        "series": series_summary(d.columns),
        "masking": masking_summary(d.columns),
        "conversion": next((c["conversion"] for c in d.columns if c.get("conversion")), None),
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
        "request_id": j.request_id,
        "attempts": j.attempts,
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


def parse_json(raw: bytes) -> Any:
    """A JSON body, or a 422 that says what is wrong with it."""
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise InvalidInput(
            f"the body is not valid JSON: {exc}", errors=[{"loc": ["body"], "msg": str(exc)}]
        ) from None
    except RecursionError:
        raise too_deep() from None


def parse_records(raw: bytes) -> list[Any]:
    """The ``records`` list of a predict body, or a 422 that says what is wrong with the body."""
    body = parse_json(raw)
    if not isinstance(body, dict) or "records" not in body:
        raise InvalidInput(
            'the body must be an object {"records": [...]}',
            errors=[{"loc": ["body", "records"], "msg": "field required"}],
        )
    records = body["records"]
    if not isinstance(records, list):
        raise InvalidInput(
            "records must be a list of objects", errors=[{"loc": ["body", "records"], "msg": "not a list"}]
        )
    return records


def too_deep() -> InvalidInput:
    """The 422 for a JSON body nested deeper than the parser goes (records are flat objects)."""
    msg = "nested too deeply: records are flat objects of column -> value"
    return InvalidInput(f"the JSON body is {msg}", errors=[{"loc": ["body"], "msg": msg}])


async def multipart_parts(request: Any) -> tuple[list[FilePart], dict[str, str]]:
    """The file parts of a multipart predict or explain request, in order, and its text fields
    (e.g. ``-F image=@part.png``, or ``-F recording=@pump.wav -F sampling_rate=12000``)."""
    from starlette.datastructures import UploadFile

    form = await request.form()
    parts: list[FilePart] = []
    fields: dict[str, str] = {}
    try:
        for field, value in form.multi_items():
            if isinstance(value, UploadFile):
                parts.append(FilePart(field, value.filename or f"{field}-{len(parts)}", await value.read()))
            else:
                fields[field] = str(value)
    finally:
        await form.close()
    if not parts:
        raise InvalidInput(
            "a multipart request needs at least one file part, e.g. -F image=@part.png or "
            "-F recording=@pump.wav",
            errors=[{"loc": ["body"], "msg": "no file in the request"}],
        )
    return parts, fields


_VERSION = re.compile(r"[A-Za-z0-9_\-]{1,64}")


#: The header whose value picks a canary's side (else the request id does): all requests with one key
#: (a part, an asset) land on the same side.
CANARY_KEY_HEADER = b"x-canary-key"
_MAX_CANARY_KEY = 256


def canary_key(scope: Mapping[str, Any]) -> str | None:
    """The request's canary key (``X-Canary-Key``), checked; None when not sent. Read from the raw
    headers (ASGI names them in lower case): on the predict path, a fifth of the cost of Starlette's
    header mapping."""
    for name, value in scope["headers"]:
        if name == CANARY_KEY_HEADER:
            if 0 < len(value) <= _MAX_CANARY_KEY:
                return bytes(value).decode("latin-1")
            raise InvalidInput(
                f"the X-Canary-Key header takes 1 to {_MAX_CANARY_KEY} characters, not {len(value)}",
                errors=[{"loc": ["header", "X-Canary-Key"], "msg": f"1 to {_MAX_CANARY_KEY} characters"}],
            )
    return None


def version_param(raw: str | None) -> str | None:
    """The ``?version=`` of a request: a number or an alias name, checked."""
    if raw is None or _VERSION.fullmatch(raw):
        return raw
    raise InvalidInput(
        f"invalid version {raw!r}: a number or an alias name",
        errors=[{"loc": ["query", "version"], "msg": "invalid version"}],
    )
