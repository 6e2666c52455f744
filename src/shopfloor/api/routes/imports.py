"""Model portability: importing model files made elsewhere (ONNX, LightGBM text, XGBoost, skops,
MLflow directories) and exporting trained tabular models (ONNX, MLflow directories)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Response, UploadFile
from starlette.concurrency import run_in_threadpool

from shopfloor.api.deps import ModelsExporter, ModelsWriter, PlatformDep
from shopfloor.errors import PayloadTooLarge
from shopfloor.schemas.common import VersionPath
from shopfloor.schemas.models import VersionPublic
from shopfloor.services import models as views
from shopfloor.services.exporting import export_model
from shopfloor.services.importing import import_model

router = APIRouter(prefix="/v1/models", tags=["models"])


@router.post(
    "/{name}/versions",
    status_code=201,
    response_model=VersionPublic,
    summary="Import a model file (ONNX, LightGBM text, XGBoost JSON/UBJ, skops) or an MLflow model "
    "directory (zip or tar.gz; onnx, lightgbm and xgboost flavours) as a new version; pickle is refused",
)
async def import_version(
    name: str,
    platform: PlatformDep,
    principal: ModelsWriter,
    file: Annotated[UploadFile, File(description="the model file, or the MLflow model directory zipped")],
    format: Annotated[str, Form(description="onnx | lightgbm | xgboost | skops | mlflow")],  # noqa: A002
    task: Annotated[str, Form(description="tabular_classification | tabular_regression")],
    input_schema: Annotated[
        str | None,
        Form(
            description='JSON list of {"name", "type", "categories"?}; for mlflow, the signature by default'
        ),
    ] = None,
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


@router.get(
    "/{name}/versions/{version}/export",
    response_class=Response,
    responses={
        200: {"content": {"application/octet-stream": {}, "application/zip": {}}},
        409: {"description": "this model's task has no portable export"},
    },
    summary="Download a trained tabular model as ONNX (preprocessing inside, raw columns in) or as a "
    "zipped MLflow model directory with that ONNX flavour",
)
def export_version(
    name: str,
    version: VersionPath,
    platform: PlatformDep,
    principal: ModelsExporter,
    format: Annotated[str, Query(description="onnx | mlflow")] = "onnx",  # noqa: A002
) -> Response:
    out = export_model(platform, principal, name, version, format)
    disposition = f'attachment; filename="{out.filename}"'
    return Response(out.data, media_type=out.media_type, headers={"Content-Disposition": disposition})
