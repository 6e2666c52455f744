"""The SDK's alert calls, a mixin of :class:`shopfloor.client.Client`.

    with Client() as c:
        rule = c.create_alert_rule(
            "press-drift", "press", "drift_score", ">", 0.3,
            for_s=300, targets=["https://hooks.plant.local/shopfloor"],
        )
        secret = rule["secret"]               # shown once: the receiver verifies with it
        c.test_alert_rule(rule["id"])         # a "test" webhook to each target
        c.alert_states()                      # where every rule stands

A receiver checks each webhook with :func:`verify_webhook` (re-exported here).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from shopfloor.security.signatures import verify_webhook

__all__ = ["AlertsClient", "verify_webhook"]


def _seg(value: str) -> str:
    return quote(str(value), safe="")


class AlertsClient:
    """Alert rules, their states and webhooks; needs the ``_json``, ``_items`` and ``_send`` of
    :class:`~shopfloor.client.Client`."""

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:  # pragma: no cover - Client's
        raise NotImplementedError

    def _items(self, path: str) -> list[dict[str, Any]]:  # pragma: no cover - Client's
        raise NotImplementedError

    def _send(self, method: str, path: str, **kwargs: Any) -> Any:  # pragma: no cover - Client's
        raise NotImplementedError

    def create_alert_rule(
        self,
        name: str,
        model: str,
        signal: str,
        comparison: str,
        bound: float,
        *,
        window_s: int = 900,
        for_s: int = 0,
        severity: str = "warning",
        targets: list[str] | None = None,
        version: int | None = None,
        input: str | None = None,  # noqa: A002 - the API's field name
        metric: str | None = None,
        enabled: bool = True,
    ) -> dict[str, Any]:
        """Create a rule that fires when ``signal`` (of ``input`` or ``metric`` where it takes one)
        compared by ``comparison`` (``>``, ``>=``, ``<``, ``<=``) with ``bound`` holds over the last
        ``window_s`` seconds for ``for_s`` seconds -> the rule, with its webhook ``secret`` (shown
        only this once). Signals: drift_score, estimated_metric, realised_metric, error_rate,
        latency_p99_ms. Raises ``InvalidInput`` naming the field, ``TargetNotAllowed`` for a
        target the server's operator does not allow."""
        body: dict[str, Any] = {
            "name": name,
            "model": model,
            "signal": signal,
            "comparison": comparison,
            "bound": bound,
            "window_s": window_s,
            "for_s": for_s,
            "severity": severity,
            "targets": list(targets or []),
            "enabled": enabled,
        }
        more = {"version": version, "input": input, "metric": metric}
        body.update({k: v for k, v in more.items() if v is not None})
        return dict(self._json("POST", "/v1/alerts/rules", json=body))

    def list_alert_rules(self, model: str | None = None) -> list[dict[str, Any]]:
        return self._items("/v1/alerts/rules" + (f"?model={_seg(model)}" if model else ""))

    def get_alert_rule(self, rule_id: str) -> dict[str, Any]:
        return dict(self._json("GET", f"/v1/alerts/rules/{_seg(rule_id)}"))

    def update_alert_rule(self, rule_id: str, **changes: Any) -> dict[str, Any]:
        """Change fields of a rule (``targets`` replaces the list; ``version=None`` follows the
        production alias again) -> the rule."""
        return dict(self._json("PATCH", f"/v1/alerts/rules/{_seg(rule_id)}", json=changes))

    def delete_alert_rule(self, rule_id: str) -> None:
        self._json("DELETE", f"/v1/alerts/rules/{_seg(rule_id)}")

    def rotate_alert_secret(self, rule_id: str) -> dict[str, Any]:
        """A new webhook secret for the rule -> the rule with ``secret`` (shown only this once)."""
        return dict(self._json("POST", f"/v1/alerts/rules/{_seg(rule_id)}/secret"))

    def test_alert_rule(self, rule_id: str) -> list[dict[str, Any]]:
        """Queue a ``test`` webhook to each target -> the deliveries (follow them with
        :meth:`alert_deliveries`)."""
        return list(self._json("POST", f"/v1/alerts/rules/{_seg(rule_id)}/test")["items"])

    def alert_deliveries(self, rule_id: str, limit: int = 100) -> list[dict[str, Any]]:
        """The rule's webhooks, newest first, each with its attempts."""
        return self._items(f"/v1/alerts/rules/{_seg(rule_id)}/deliveries?limit={int(limit)}")

    def alert_states(self, model: str | None = None) -> list[dict[str, Any]]:
        """Where each rule stands: ``state`` (ok, pending, firing), ``since``, ``value``, ``note``."""
        return self._items("/v1/alerts/states" + (f"?model={_seg(model)}" if model else ""))

    def prometheus_rules(self) -> str:
        """The tenant's rules as a Prometheus alerting-rules file (YAML text)."""
        return str(self._send("GET", "/v1/alerts/prometheus-rules").text)
