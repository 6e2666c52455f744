"""Pretrained models served as they are: list them, embed texts, rank labels (zero-shot)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from shopfloor.api.deps import HeavyDep, ModelsReader, PlatformDep, Predictor
from shopfloor.hub import catalog
from shopfloor.hub import service as hub
from shopfloor.schemas.hub import ClassifyRequest, ClassifyResponse, EmbedRequest, EmbedResponse, HubList
from shopfloor.services import audit
from shopfloor.settings import hub_cache_dir

router = APIRouter(prefix="/v1/hub", tags=["hub"])


@router.get("", response_model=HubList, summary="The pretrained models this server can serve")
def list_models(platform: PlatformDep, principal: ModelsReader) -> Any:
    return {"items": catalog.list_models(platform.settings.hub_dir)}


@router.post("/{model}/embed", response_model=EmbedResponse, summary="Normalised embeddings of texts")
async def embed(
    model: str, body: EmbedRequest, platform: PlatformDep, principal: Predictor, heavy: HeavyDep
) -> Any:
    s = platform.settings
    result = await heavy.run(
        principal.tenant,
        "embeddings",
        hub.embed,
        body.texts,
        model=model,
        variant=body.variant or s.hub_variant,
        hub_dir=s.hub_dir,
        cache_dir=hub_cache_dir(s),
    )
    audit.buffer(platform).count(principal, f"hub:{model}", 0, "embed", len(body.texts))
    return result


@router.post("/{model}/classify", response_model=ClassifyResponse, summary="Zero-shot: rank label names")
async def classify(
    model: str, body: ClassifyRequest, platform: PlatformDep, principal: Predictor, heavy: HeavyDep
) -> Any:
    s = platform.settings
    result = await heavy.run(
        principal.tenant,
        "zero-shot labelling",
        hub.zero_shot,
        body.texts,
        body.labels,
        model=model,
        variant=body.variant or s.hub_variant,
        hub_dir=s.hub_dir,
        cache_dir=hub_cache_dir(s),
        template=body.template,
        temperature=body.temperature,
    )
    audit.buffer(platform).count(principal, f"hub:{model}", 0, "classify", len(body.texts))
    return result
