"""``shopfloor tenants``: local administration of tenants against SHOPFLOOR_HOME (no server needed)."""

import json
from typing import Annotated, Any

import typer

from shopfloor import cli_common as common

tenants_app = typer.Typer(
    help="Tenants: quotas and retention (locally, against SHOPFLOOR_HOME).", no_args_is_help=True
)
quotas_app = typer.Typer(help="Per-tenant limits: requests per minute, jobs, storage.", no_args_is_help=True)
retention_app = typer.Typer(
    help="How long a tenant's logged predictions and their feedback are kept.", no_args_is_help=True
)
tenants_app.add_typer(quotas_app, name="quotas")
tenants_app.add_typer(retention_app, name="retention")


@quotas_app.command("set")
def quotas_set(
    tenant: str,
    rpm: Annotated[
        int | None, typer.Option("--rpm", min=1, help="Requests per minute, whole tenant.")
    ] = None,
    key_rpm: Annotated[
        int | None, typer.Option("--key-rpm", min=1, help="Requests per minute per key.")
    ] = None,
    jobs: Annotated[int | None, typer.Option("--jobs", min=1, help="Queued plus running jobs.")] = None,
    storage_mb: Annotated[
        float | None, typer.Option("--storage-mb", min=0.001, help="Stored datasets, in MB.")
    ] = None,
) -> None:
    """Change TENANT's quotas (the others keep their value); running servers apply them at once."""
    from dataclasses import asdict

    from shopfloor.bootstrap import prepare
    from shopfloor.security import limits
    from shopfloor.services import audit

    platform = prepare(common.load_settings())
    try:
        quotas = limits.set_quotas(
            platform, tenant, rpm=rpm, key_rpm=key_rpm, jobs=jobs, storage_mb=storage_mb
        )
        changed = {k: v for k, v in asdict(quotas).items() if k != "tenant"}
        audit.record(platform, None, "quotas.set", tenant, tenant=tenant, via="cli", **changed)
        _show(limits.usage(platform, tenant))
    finally:
        platform.close()


@quotas_app.command("show")
def quotas_show(tenant: str) -> None:
    """TENANT's own quotas, the limits in force (own or server default) and current usage, as JSON."""
    from shopfloor.bootstrap import prepare
    from shopfloor.security import limits

    platform = prepare(common.load_settings())
    try:
        _show(limits.usage(platform, tenant))
    finally:
        platform.close()


@retention_app.command("set")
def retention_set(
    tenant: str,
    days: Annotated[
        int | None, typer.Option("--days", min=1, max=3650, help="Days to keep the prediction log.")
    ] = None,
    default: Annotated[bool, typer.Option("--default", help="Back to the server default.")] = False,
) -> None:
    """Keep TENANT's logged predictions --days days (or the server's default); the servers' next
    sweep removes what is older."""
    from shopfloor.bootstrap import prepare
    from shopfloor.services import audit
    from shopfloor.services import prediction_log as service

    if (days is None) == (not default):
        raise typer.BadParameter("give --days N or --default")
    platform = prepare(common.load_settings())
    try:
        view = service.set_retention(platform, tenant, days)
        audit.record(platform, None, "prediction_log.retention", tenant, tenant=tenant, via="cli", days=days)
        _show(view)
    finally:
        platform.close()


@retention_app.command("show")
def retention_show(tenant: str) -> None:
    """TENANT's retention of the prediction log: its own, the server default, the one in force."""
    from shopfloor.bootstrap import prepare
    from shopfloor.services import prediction_log as service

    platform = prepare(common.load_settings())
    try:
        _show(service.retention_view(platform, tenant))
    finally:
        platform.close()


def _show(view: dict[str, Any]) -> None:
    typer.echo(json.dumps(view, indent=2))
