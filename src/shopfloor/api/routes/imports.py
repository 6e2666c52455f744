"""Importing model files made elsewhere (ONNX, LightGBM text, skops) as new model versions."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, UploadFile
from starlette.concurrency import run_in_threadpool

from shopfloor.api.deps import ModelsWriter, PlatformDep
from shopfloor.errors import PayloadTooLarge
from shopfloor.schemas.models import VersionPublic
from shopfloor.services import models as views
from shopfloor.services.importing import import_model

router = APIRouter(prefix="/v1/models", tags=["models"])


@router.post(
    "/{name}/versions",
    status_code=201,
    response_model=VersionPublic,
    summary="Import a model file (ONNX, LightGBM text or skops) as a new version; pickle is refused",
)
async def import_version(
    name: str,
    platform: PlatformDep,
    principal: ModelsWriter,
    file: Annotated[UploadFile, File(description="the model file")],
    format: Annotated[str, Form(description="onnx | lightgbm | skops")],  # noqa: A002
    input_schema: Annotated[str, Form(description='JSON list of {"name", "type", "categories"?}')],
    task: Annotated[str, Form(description="tabular_classification | tabular_regression")],
    classes: Annotated[str | None, Form(description="JSON list of class labels")] = None,
) -> Any:
    limit = platform.settings.max_upload_bytes
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge(f"the model file is larger than {limit} bytes")
    version = await run_in_threadpool(
        import_model,
        platform,
        principal.tenant,
        name,
        data=data,
        filename=file.filename,
        format=format,
        task=task,
        input_schema=input_schema,
        classes=classes,
        lineage={"imported_by": principal.key_id},
    )
    return views.version_view(version)
