"""Alert rules on deployed models (admin, builder): rules, their states and webhooks, tests, and
the same rules as a Prometheus alerting-rules file."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from shopfloor.api.deps import AlertsReader, AlertsWriter, PlatformDep
from shopfloor.schemas.alerts import (
    NAME,
    AlertDeliveryList,
    AlertRuleCreate,
    AlertRuleCreated,
    AlertRuleList,
    AlertRulePublic,
    AlertRuleUpdate,
    AlertStateList,
)
from shopfloor.services import alerts as service

router = APIRouter(prefix="/v1/alerts", tags=["alerts"])

ModelQuery = Annotated[str | None, Query(max_length=100, pattern=NAME, description="Only this model's.")]


@router.post(
    "/rules",
    status_code=201,
    response_model=AlertRuleCreated,
    summary="Create an alert rule (its webhook secret shown once)",
)
def create_rule(body: AlertRuleCreate, platform: PlatformDep, principal: AlertsWriter) -> Any:
    return service.create_rule(platform, principal, body.model_dump())


@router.get("/rules", response_model=AlertRuleList, summary="List the tenant's alert rules")
def list_rules(platform: PlatformDep, principal: AlertsReader, model: ModelQuery = None) -> Any:
    return {"items": service.list_rules(platform, principal.tenant, model)}


@router.get("/rules/{rule_id}", response_model=AlertRulePublic, summary="One alert rule with its state")
def get_rule(rule_id: str, platform: PlatformDep, principal: AlertsReader) -> Any:
    return service.get_rule(platform, principal.tenant, rule_id)


@router.patch("/rules/{rule_id}", response_model=AlertRulePublic, summary="Change fields of an alert rule")
def update_rule(rule_id: str, body: AlertRuleUpdate, platform: PlatformDep, principal: AlertsWriter) -> Any:
    return service.update_rule(platform, principal, rule_id, body.model_dump(exclude_unset=True))


@router.delete("/rules/{rule_id}", status_code=204, summary="Delete an alert rule and its webhooks")
def delete_rule(rule_id: str, platform: PlatformDep, principal: AlertsWriter) -> Response:
    service.delete_rule(platform, principal, rule_id)
    return Response(status_code=204)


@router.post(
    "/rules/{rule_id}/secret",
    response_model=AlertRuleCreated,
    summary="Replace the rule's webhook signing secret (shown once)",
)
def rotate_secret(rule_id: str, platform: PlatformDep, principal: AlertsWriter) -> Any:
    return service.rotate_secret(platform, principal, rule_id)


@router.post(
    "/rules/{rule_id}/test",
    status_code=202,
    response_model=AlertDeliveryList,
    summary="Send a test webhook to each of the rule's targets (queued; see its deliveries)",
)
def test_rule(rule_id: str, platform: PlatformDep, principal: AlertsWriter) -> Any:
    return {"items": service.test_rule(platform, principal, rule_id)}


@router.get(
    "/rules/{rule_id}/deliveries",
    response_model=AlertDeliveryList,
    summary="The rule's webhooks, newest first, with every attempt",
)
def list_deliveries(
    rule_id: str,
    platform: PlatformDep,
    principal: AlertsReader,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Any:
    return {"items": service.deliveries(platform, principal.tenant, rule_id, limit)}


@router.get("/states", response_model=AlertStateList, summary="Where every alert rule stands")
def list_states(platform: PlatformDep, principal: AlertsReader, model: ModelQuery = None) -> Any:
    return {"items": service.states(platform, principal.tenant, model)}


@router.get(
    "/prometheus-rules",
    response_class=Response,
    summary="The tenant's alert rules as a Prometheus alerting-rules file (YAML)",
    responses={200: {"content": {"application/yaml": {}}}},
)
def prometheus_rules(platform: PlatformDep, principal: AlertsReader) -> Response:
    return Response(service.prometheus_rules(platform, principal.tenant), media_type="application/yaml")
