"""What the alert tests share: settings whose webhooks may go to 127.0.0.1 only (short timeouts
and backoff), a model put straight in the registry, a principal, and a signal source of a fixed value."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from shopfloor.alerting.signals import SignalQuery
from shopfloor.context import Platform
from shopfloor.registry.entities import AlertRule
from shopfloor.security.keys import Principal
from shopfloor.settings import Settings

ADMIN = Principal(key_id="key_test", tenant="default", role="admin")
Make = Callable[..., dict[str, Any]]
#: A drift rule on ``press`` firing above 0.3 (a request body).
DRIFT_RULE: dict[str, Any] = {
    "name": "press-drift",
    "model": "press",
    "signal": "drift_score",
    "comparison": ">",
    "bound": 0.3,
}


def alert_settings(home: Path, **more: Any) -> Settings:
    fields: dict[str, Any] = {
        "home": home,
        "webhook_allowed_networks": ["127.0.0.1/32"],
        "webhook_timeout_s": 2.0,
        "webhook_backoff_s": 0.01,
        "webhook_backoff_max_s": 0.05,
        "webhook_max_attempts": 3,
        "alert_eval_interval_s": 30.0,
    }
    return Settings(**{**fields, **more})


def add_model(platform: Platform, name: str = "press", tenant: str = "default") -> None:
    """A version of model ``name`` in the registry (no artifact: the alerts only need it to exist)."""
    platform.store.add_version(
        tenant=tenant,
        model=name,
        task="tabular_classification",
        report={},
        input_schema=[],
        files={},
        artifact=f"{tenant}/models/{name}/x",
        lineage={},
        job_id=None,
    )


class Fixed:
    """A signal source answering one value (settable), recording the queries it got."""

    def __init__(self, value: float | None) -> None:
        self.v = value
        self.queries: list[SignalQuery] = []

    def value(self, query: SignalQuery) -> float | None:
        self.queries.append(query)
        return self.v


def rule_entity(**changes: Any) -> AlertRule:
    """A stored rule as the registry returns it: a drift rule on ``press`` of tenant ``a``."""
    fields: dict[str, Any] = {
        "id": "alr_1",
        "tenant": "a",
        "name": "drift",
        "model": "press",
        "version": None,
        "signal": "drift_score",
        "input": None,
        "metric": None,
        "comparison": ">",
        "bound": 0.3,
        "window_s": 900,
        "for_s": 0,
        "severity": "warning",
        "enabled": True,
        "target_hosts": ("hooks.example.com:443",),
        "sealed_secret": b"secret-blob",
        "sealed_targets": b"targets-blob",
    }
    return AlertRule(**{**fields, **changes})
