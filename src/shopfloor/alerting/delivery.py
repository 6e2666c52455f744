"""Sending alert webhooks: signed, checked against the egress policy, retried with backoff.

Each API process claims due deliveries from the registry (:meth:`Deliverer.deliver_due`), so a
delivery is attempted by one process at a time, off every request path. One attempt:

1. the target's host is resolved and every address checked against the operator's policy
   (:class:`~shopfloor.security.egress.EgressPolicy`); the request goes to a checked address,
   with the host name in ``Host`` and in TLS (SNI and certificate check), so a name that now
   resolves elsewhere cannot redirect it;
2. the body is the stored payload, signed ``Shopfloor-Signature: t=...,v1=...`` with the rule's
   secret (:mod:`shopfloor.security.signatures`); ``Shopfloor-Delivery`` carries the delivery's
   id, the same on every attempt, so a receiver can drop a repeat;
3. a 2xx is delivered; a connection error, a timeout, a 5xx or a 429 is retried after an
   exponential backoff with jitter (a ``Retry-After`` is honoured, within the longest backoff)
   until the delivery's attempts run out; a redirect (not followed), another 4xx, or a target
   the policy refuses fails at once.

Every attempt and every final outcome goes to the audit log, with the target's ``host:port``
only (a URL's path may hold a token). Delivery is at least once: a process that stops after
sending but before recording leaves the delivery to be sent again when its lease runs out.
"""

from __future__ import annotations

import json
import logging
import random
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from shopfloor.alerting.sealing import open_secret, open_url
from shopfloor.context import Platform
from shopfloor.errors import NotFound, TargetNotAllowed
from shopfloor.registry.entities import AlertDelivery
from shopfloor.registry.ids import new_id
from shopfloor.security.egress import EgressPolicy, IPAddress, Target, parse_target
from shopfloor.security.signatures import SIGNATURE_HEADER, sign_webhook
from shopfloor.services import audit
from shopfloor.version import __version__

log = logging.getLogger(__name__)

#: Deliveries sent at once by one process (each waits on a receiver, not on the CPU).
PARALLEL = 4


@dataclass(frozen=True)
class Attempt:
    """How one attempt went: ``retry`` says whether a later attempt may succeed."""

    ok: bool
    retry: bool
    status: int | None = None
    error: str | None = None
    address: str | None = None
    retry_after_s: float | None = None


def policy_of(platform: Platform) -> EgressPolicy:
    settings = platform.settings
    return EgressPolicy(settings.webhook_allowed_hosts, settings.webhook_allowed_networks)


class Deliverer:
    """Sends the due webhooks of the registry; ``policy`` defaults to the settings'."""

    def __init__(self, platform: Platform, policy: EgressPolicy | None = None) -> None:
        self.platform = platform
        self.policy = policy or policy_of(platform)

    def deliver_due(self, now: datetime | None = None, limit: int = 20) -> int:
        """Claim and attempt up to ``limit`` due deliveries; returns how many were attempted."""
        now = now or datetime.now(UTC)
        settings = self.platform.settings
        lease = new_id("lease")
        # Past every address's timeout: no other process takes it while this one may still send.
        until = now + timedelta(seconds=4 * settings.webhook_timeout_s + 30)
        claimed = self.platform.store.claim_alert_deliveries(now, lease, until, limit)
        if len(claimed) <= 1:
            for delivery in claimed:
                self._attempt_and_record(delivery, lease, now)
        else:
            threads = min(PARALLEL, len(claimed))
            with ThreadPoolExecutor(threads, thread_name_prefix="shopfloor-webhook") as pool:
                list(pool.map(lambda d: self._attempt_and_record(d, lease, now), claimed))
        return len(claimed)

    def _attempt_and_record(self, delivery: AlertDelivery, lease: str, now: datetime) -> None:
        try:
            rule = self.platform.store.get_alert_rule(delivery.tenant, delivery.rule_id)
        except NotFound:
            return  # the rule was deleted, and its deliveries with it
        started = time.monotonic()
        try:
            url, secret = open_url(self.platform, delivery), open_secret(self.platform, rule)
            outcome = self.attempt(delivery, url, secret)
        except Exception as exc:  # a bug or a broken key must fail this delivery, not the process's loop
            log.exception("webhook delivery %s failed before sending", delivery.id)
            outcome = Attempt(ok=False, retry=False, error=f"{type(exc).__name__}: {exc}")
        self._record(delivery, lease, outcome, now, round((time.monotonic() - started) * 1000, 1))

    def attempt(self, delivery: AlertDelivery, url: str, secret: str) -> Attempt:
        """One attempt at sending ``delivery`` to ``url``, signed with ``secret``."""
        try:
            target = parse_target(url)
        except TargetNotAllowed as exc:
            return Attempt(ok=False, retry=False, error=exc.detail)
        try:
            addresses = self.policy.addresses(target)
        except TargetNotAllowed as exc:
            return Attempt(ok=False, retry=False, error=exc.detail)
        except OSError as exc:
            return Attempt(ok=False, retry=True, error=f"{target.host} does not resolve: {exc}")
        body = json.dumps(delivery.payload, separators=(",", ":"), ensure_ascii=False).encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"shopfloor-alerts/{__version__}",
            "Shopfloor-Event": delivery.event,
            "Shopfloor-Delivery": delivery.id,
            SIGNATURE_HEADER: sign_webhook(secret, body),
        }
        last = Attempt(ok=False, retry=True, error="no address to connect to")
        for address in addresses:
            last = self._send(target, address, body, headers)
            if last.error is None or not last.error.startswith("cannot connect"):
                return last
        return last

    def _send(self, target: Target, address: IPAddress, body: bytes, headers: dict[str, str]) -> Attempt:
        """POST to ``target`` at ``address`` (a checked one); redirects are not followed."""
        pinned = httpx.URL(target.url).copy_with(host=str(address))
        default = 443 if target.scheme == "https" else 80
        host = f"[{target.host}]" if ":" in target.host else target.host
        sent = {**headers, "Host": host if target.port == default else f"{host}:{target.port}"}
        extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
        timeout = self.platform.settings.webhook_timeout_s
        try:
            # trust_env off: no proxy from the environment may carry the call past the policy.
            with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client:
                request = client.build_request(
                    "POST", pinned, content=body, headers=sent, extensions=extensions
                )
                # Streamed and closed unread: only the status and headers count, and a receiver
                # answering with an endless body cannot fill this process's memory.
                response = client.send(request, stream=True)
                response.close()
        except httpx.ConnectError as exc:
            return Attempt(ok=False, retry=True, error=f"cannot connect: {exc}", address=str(address))
        except httpx.TimeoutException:
            error = f"no answer within {timeout:g} s"
            return Attempt(ok=False, retry=True, error=error, address=str(address))
        except httpx.HTTPError as exc:
            return Attempt(ok=False, retry=True, error=f"{type(exc).__name__}: {exc}", address=str(address))
        code = response.status_code
        if 200 <= code < 300:
            return Attempt(ok=True, retry=False, status=code, address=str(address))
        if 300 <= code < 400:
            where = response.headers.get("location", "nowhere")
            error = f"answered {code} (a redirect to {where[:200]}); redirects are not followed"
            return Attempt(ok=False, retry=False, status=code, error=error, address=str(address))
        retry = code == 429 or code >= 500
        return Attempt(
            ok=False,
            retry=retry,
            status=code,
            error=f"answered {code}",
            address=str(address),
            retry_after_s=_retry_after(response.headers.get("retry-after")) if retry else None,
        )

    def _record(
        self, delivery: AlertDelivery, lease: str, outcome: Attempt, now: datetime, ms: float
    ) -> None:
        settings = self.platform.settings
        final = outcome.ok or not outcome.retry or delivery.attempts >= delivery.max_attempts
        status = "delivered" if outcome.ok else ("failed" if final else "pending")
        wait = None if final else backoff(delivery.attempts, settings, outcome.retry_after_s)
        entry: dict[str, Any] = {
            "attempt": delivery.attempts,
            "at": now.astimezone(UTC).isoformat(),
            "status": outcome.status,
            "error": outcome.error,
            "address": outcome.address,
            "ms": ms,
            "retry_in_s": None if wait is None else round(wait, 3),
        }
        later = now + timedelta(seconds=wait) if wait is not None else None
        if not self.platform.store.finish_alert_attempt(
            delivery.id, lease, entry, status=status, next_attempt_at=later
        ):
            log.warning("webhook delivery %s: the lease ran out before its outcome was recorded", delivery.id)
            return
        detail = {
            "tenant": delivery.tenant,
            "rule": delivery.rule_id,
            "event": delivery.event,
            "host": delivery.target_host,
            "attempt": delivery.attempts,
            "status": outcome.status,
            "error": outcome.error,
            "ms": ms,
        }
        attempt_outcome = "ok" if outcome.ok else "error"
        audit.record(self.platform, None, "alert.webhook.attempt", delivery.id, attempt_outcome, **detail)
        if final:
            audit.record(
                self.platform,
                None,
                "alert.webhook",
                delivery.id,
                attempt_outcome,
                tenant=delivery.tenant,
                rule=delivery.rule_id,
                event=delivery.event,
                host=delivery.target_host,
                attempts=delivery.attempts,
                result=status,
                error=outcome.error,
            )


def backoff(attempt: int, settings: Any, retry_after_s: float | None = None) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1 for the first): doubling from
    ``webhook_backoff_s`` up to ``webhook_backoff_max_s``, half of it random (so that receivers
    coming back are not hit by every sender at once); at least a ``Retry-After`` within that cap."""
    ceiling = float(settings.webhook_backoff_max_s)
    base = min(ceiling, float(settings.webhook_backoff_s) * 2 ** max(0, attempt - 1))
    wait = base / 2 + random.uniform(0, base / 2)  # noqa: S311 - jitter, not a secret
    if retry_after_s is not None:
        wait = max(wait, min(retry_after_s, ceiling))
    return wait


def _retry_after(value: str | None) -> float | None:
    """A ``Retry-After`` in seconds (the HTTP-date form is read as absent)."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None
