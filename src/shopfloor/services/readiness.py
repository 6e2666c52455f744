"""Readiness: can this process serve the requests that need the registry and the artifact store?

Three checks, each bounded in time: the registry answers a trivial query, the artifact store
answers its cheap probe (HEAD of the bucket for S3; write, read and remove a small file for a
directory), and the registry's schema is at the migration head this code ships. Failures are
named by their problem code; their detail is logged, not returned (the route needs no key).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from shopfloor.context import Platform
from shopfloor.errors import ShopfloorError
from shopfloor.registry.migrate import code_head
from shopfloor.schemas.system import CheckResult, Readiness

log = logging.getLogger(__name__)


def _run(name: str, check: Callable[[], CheckResult]) -> CheckResult:
    try:
        return check()
    except ShopfloorError as exc:
        log.warning("readiness check %s failed: %s", name, exc.detail)
        return CheckResult(status="fail", error=exc.code)
    except Exception:  # noqa: BLE001 - a probe that breaks in an unforeseen way means "not ready"
        log.exception("readiness check %s failed", name)
        return CheckResult(status="fail", error="internal-error")


def _database(platform: Platform) -> CheckResult:
    platform.store.ping()
    return CheckResult(status="ok")


def _artifacts(platform: Platform) -> CheckResult:
    platform.artifacts.probe()
    return CheckResult(status="ok")


def _migrations(platform: Platform) -> CheckResult:
    found, head = platform.store.schema_revision(), code_head()
    detail = f"database at {found or 'no revision'}, code at {head}"
    if found != head:
        log.warning("readiness check migrations failed: %s", detail)
        return CheckResult(status="fail", error="schema-mismatch", detail=detail)
    return CheckResult(status="ok", detail=detail)


def readiness(platform: Platform) -> Readiness:
    """Every check's result; ``status`` is ``ready`` only when all pass."""
    checks = {
        "database": _run("database", lambda: _database(platform)),
        "artifacts": _run("artifacts", lambda: _artifacts(platform)),
        "migrations": _run("migrations", lambda: _migrations(platform)),
    }
    failed = [name for name, result in checks.items() if result.status == "fail"]
    return Readiness(status="not-ready" if failed else "ready", failed=failed, checks=checks)
