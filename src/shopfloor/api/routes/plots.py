"""Charts of a model version's evaluation as PNG images."""

from __future__ import annotations

from fastapi import APIRouter, Response

from shopfloor.api.deps import ModelsReader, PlatformDep
from shopfloor.explain.plots import KINDS
from shopfloor.schemas.common import VersionPath
from shopfloor.services import plots as service

router = APIRouter(prefix="/v1/models", tags=["models"])


@router.get(
    "/{name}/versions/{version}/plots/{kind}",
    response_class=Response,
    summary="A chart of a version's evaluation (PNG)",
    description=f"`kind` is one of {', '.join(f'`{k}`' for k in KINDS)}. "
    "`confusion` applies to classification only; a kind the version has no data for answers 422.",
    responses={200: {"content": {"image/png": {}}, "description": "The chart as a PNG image"}},
)
def get_plot(
    name: str, version: VersionPath, kind: str, platform: PlatformDep, principal: ModelsReader
) -> Response:
    png = service.render(platform, principal.tenant, name, version, kind)
    return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=300"})
