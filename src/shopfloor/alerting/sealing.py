"""A rule's webhook secret and target URLs, and each delivery's URL, encrypted with the tenant's
key (AES-256-GCM, bound to the row they belong to: a value copied onto another rule, delivery or
tenant does not decrypt). A webhook URL often carries a token of its own, so it is sealed too."""

from __future__ import annotations

import json

from shopfloor.context import Platform
from shopfloor.registry.entities import AlertDelivery, AlertRule
from shopfloor.security import crypto


def _place(tenant: str, rule_id: str, what: str) -> str:
    return f"{tenant}/alerts/{rule_id}/{what}"


def seal_secret(platform: Platform, tenant: str, rule_id: str, secret: str) -> bytes:
    key = platform.sealed.tenant_key(tenant)
    return crypto.encrypt(key, _place(tenant, rule_id, "secret"), secret.encode())


def open_secret(platform: Platform, rule: AlertRule) -> str:
    key = platform.sealed.tenant_key(rule.tenant)
    return crypto.decrypt(key, _place(rule.tenant, rule.id, "secret"), rule.sealed_secret).decode()


def seal_targets(platform: Platform, tenant: str, rule_id: str, urls: list[str]) -> bytes:
    key = platform.sealed.tenant_key(tenant)
    return crypto.encrypt(key, _place(tenant, rule_id, "targets"), json.dumps(urls).encode())


def open_targets(platform: Platform, rule: AlertRule) -> list[str]:
    key = platform.sealed.tenant_key(rule.tenant)
    urls = json.loads(crypto.decrypt(key, _place(rule.tenant, rule.id, "targets"), rule.sealed_targets))
    return [str(u) for u in urls]


def seal_url(platform: Platform, tenant: str, delivery_id: str, url: str) -> bytes:
    key = platform.sealed.tenant_key(tenant)
    return crypto.encrypt(key, _place(tenant, "deliveries", f"{delivery_id}/target"), url.encode())


def open_url(platform: Platform, delivery: AlertDelivery) -> str:
    key = platform.sealed.tenant_key(delivery.tenant)
    place = _place(delivery.tenant, "deliveries", f"{delivery.id}/target")
    return crypto.decrypt(key, place, delivery.sealed_target).decode()
