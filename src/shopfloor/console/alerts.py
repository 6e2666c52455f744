"""Alert rules in the console: every rule of the tenant with where it stands, a new rule (its webhook
secret shown once), a rule's page with its edit form, enable and disable, delete, secret rotation,
a test webhook and its deliveries, and the Prometheus alerting-rules file. Each action is the API's
own service call (``services.alerts``, audited there) and forms are checked by the API's schemas."""

from __future__ import annotations

from typing import Annotated, Any, get_args

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from shopfloor.alerting.rules import duration
from shopfloor.console.auth import AlertsForm, AlertsViewer, AlertsWriteViewer, Viewer, platform_of
from shopfloor.console.paging import requested
from shopfloor.console.render import page
from shopfloor.console.validated import validated
from shopfloor.errors import Conflict, ShopfloorError
from shopfloor.schemas.alerts import AlertRuleCreate, AlertRuleUpdate, Comparison, Severity, Signal
from shopfloor.services import alerts as service

router = APIRouter(prefix="/alerts")

#: The rule form's one-line fields, named as the API's schema names them.
TEXT_FIELDS = (
    "name", "model", "version", "signal", "input", "metric", "comparison", "bound", "window_s", "for_s",
    "severity",
)
#: What the form starts with for a new rule: the schema's defaults.
NEW_RULE = {"comparison": ">", "window_s": "900", "for_s": "0", "severity": "warning", "enabled": "true"}
_SIGNALS = {
    "drift_score": "drift score of the logged inputs",
    "estimated_metric": "performance estimated without labels",
    "realised_metric": "performance on the feedback received",
    "error_rate": "share of calls that failed (0 to 1)",
    "latency_p99_ms": "99th percentile latency, in ms",
}
_COMPARISONS = {">": "above", ">=": "at or above", "<": "below", "<=": "at or below"}
#: The form's choices as (value, words): each signal with what it reads, comparisons, severities.
CHOICES = {
    "signal": [("", "Choose a signal"), *((s, f"{s}: {_SIGNALS[s]}") for s in get_args(Signal))],
    "comparison": [(c, f"{c} ({_COMPARISONS[c]} the bound)") for c in get_args(Comparison)],
    "severity": [(s, s) for s in get_args(Severity)],
}
DELIVERIES_PAGE = 20
#: Deliveries are read newest first, as the API reads them (at most 1,000 a request).
MAX_DELIVERY_PAGES = 1000 // DELIVERIES_PAGE
#: Messages after a redirect (``?done=``): fixed text, never anything from the request.
NOTICES = {
    "saved": "Saved: the changed condition is evaluated afresh at the next round.",
    "unchanged": "Nothing was changed.",
    "enabled": "Enabled: the rule is evaluated again from the next round.",
    "disabled": "Disabled: the rule is not evaluated and stands at ok until enabled again.",
    "tested": "A test webhook was queued to each target; its delivery is listed below (reload to follow it).",
    "deleted": "The rule, its state and its webhooks were deleted.",
}


async def _posted(request: Request) -> dict[str, str]:
    """The rule form's fields as sent, stripped (the form was parsed once for its CSRF token)."""
    form = await request.form()
    return {k: v.strip() for k in (*TEXT_FIELDS, "targets", "enabled") if isinstance(v := form.get(k), str)}


Posted = Annotated[dict[str, str], Depends(_posted)]


def _body(fields: dict[str, str]) -> dict[str, Any]:
    """A request body from the form: the fields filled in, as text (the schema converts them; an
    empty one is left out, so a required field is named as missing and an optional one is none),
    and one webhook URL a line."""
    body: dict[str, Any] = {k: fields[k] for k in TEXT_FIELDS if fields.get(k)}
    body["targets"] = [u.strip() for u in fields.get("targets", "").splitlines() if u.strip()]
    return body


def standing(state: dict[str, Any]) -> str:
    """A rule's state in a word: disabled, firing, pending, no data (nothing read: no traffic, no
    feedback, not evaluated yet) or ok."""
    if not state["enabled"]:
        return "disabled"
    if state["state"] == "ok" and state["value"] is None:
        return "no data"
    return str(state["state"])


def exact(bound: float) -> str:
    """A bound as short text that reads back as the same number (``0.3``, ``5``, ``1234567``)."""
    value = float(bound)
    return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)


def watches(rule: dict[str, Any]) -> str:
    """What a rule watches and when it breaches, in words: ``drift_score of input 'temp' > 0.3
    over 15m for 5m``."""
    what = rule["signal"]
    if rule["input"]:
        what += f" of input {rule['input']!r}"
    if rule["metric"]:
        what += f" {rule['metric']}"
    lasting = f" for {duration(rule['for_s'])}" if rule["for_s"] else ""
    return f"{what} {rule['comparison']} {exact(rule['bound'])} over {duration(rule['window_s'])}{lasting}"


def _form_values(rule: dict[str, Any]) -> dict[str, str]:
    """A stored rule as the edit form shows it."""
    values = {k: "" if rule[k] is None else str(rule[k]) for k in TEXT_FIELDS}
    values["bound"] = exact(rule["bound"])
    values["targets"] = "\n".join(rule["targets"])
    values["enabled"] = "true" if rule["enabled"] else ""
    return values


def _models(request: Request, viewer: Viewer, current: str = "") -> list[tuple[str, str]]:
    """The model choices: the tenant's models, and the one a rule or a refused form names."""
    names = [m.name for m in platform_of(request).store.list_models(viewer.tenant)]
    if current and current not in names:
        names.insert(0, current)
    return [("", "Choose a model"), *((n, n) for n in names)]


# -- the list, a new rule, the Prometheus file ------------------------------------------------------


@router.get("", response_class=HTMLResponse)
def rules(request: Request, viewer: AlertsViewer) -> HTMLResponse:
    found = service.list_rules(platform_of(request), viewer.tenant)
    shown = [{**r, "standing": standing(r["state"]), "watches": watches(r)} for r in found]
    notice = NOTICES.get(request.query_params.get("done", ""))
    return page(request, "alerts.html", viewer, title="Alert rules", rules=shown, notice=notice)


def _new(
    request: Request, viewer: Viewer, values: dict[str, str], error: ShopfloorError | None, status: int
) -> HTMLResponse:
    return page(
        request,
        "alert_new.html",
        viewer,
        status=status,
        title="New alert rule",
        values=values,
        models=_models(request, viewer, values.get("model", "")),
        error=error,
        invalid=_invalid(error),
        choices=CHOICES,
    )


def _invalid(error: ShopfloorError | None) -> dict[str, str]:
    """The form fields an error names, with its reason (the first for each)."""
    found: dict[str, str] = {}
    for e in error.errors if error else []:
        loc = e.get("loc") or []
        if len(loc) > 1:
            found.setdefault(str(loc[1]), str(e.get("msg", "")))
    return found


@router.get("/new", response_class=HTMLResponse)
def new_rule(request: Request, viewer: AlertsWriteViewer) -> HTMLResponse:
    return _new(request, viewer, {**NEW_RULE, "model": request.query_params.get("model", "")}, None, 200)


@router.post("", response_class=HTMLResponse)
def create_rule(request: Request, viewer: AlertsForm, fields: Posted) -> HTMLResponse:
    body = {**_body(fields), "enabled": bool(fields.get("enabled"))}
    try:
        checked = validated(AlertRuleCreate, body, "alert rule", root="form")
        made = service.create_rule(platform_of(request), viewer.principal, checked.model_dump())
    except ShopfloorError as exc:
        return _new(request, viewer, fields, exc, exc.status)
    # The secret is in this answer only: the registry keeps it sealed and never shows it again.
    return _rule(request, viewer, made["id"], secret=made["secret"], status=201)


@router.get("/prometheus-rules.yml")
def prometheus_rules(request: Request, viewer: AlertsViewer) -> Response:
    text = service.prometheus_rules(platform_of(request), viewer.tenant)
    headers = {
        "Content-Disposition": 'attachment; filename="shopfloor-alert-rules.yml"',
        "Cache-Control": "no-store",
    }
    return Response(text, media_type="application/yaml", headers=headers)


# -- one rule ---------------------------------------------------------------------------------------


def _rule(
    request: Request,
    viewer: Viewer,
    rule_id: str,
    *,
    secret: str | None = None,
    values: dict[str, str] | None = None,
    error: ShopfloorError | None = None,
    status: int = 200,
) -> HTMLResponse:
    """A rule's page: its fields and state, the edit form (``values`` as sent after a refused
    edit), a new ``secret`` when one was just made, and a page of its deliveries, newest first."""
    platform = platform_of(request)
    rule = service.get_rule(platform, viewer.tenant, rule_id)
    number = min(requested(request), MAX_DELIVERY_PAGES)
    found = service.deliveries(platform, viewer.tenant, rule_id, number * DELIVERIES_PAGE + 1)
    return page(
        request,
        "alert_rule.html",
        viewer,
        status=status,
        title=f"Alert rule {rule['name']}",
        r={**rule, "standing": standing(rule["state"]), "watches": watches(rule)},
        values=values or _form_values(rule),
        models=_models(request, viewer, rule["model"]),
        secret=secret,
        error=error,
        invalid=_invalid(error),
        choices=CHOICES,
        notice=NOTICES.get(request.query_params.get("done", "")),
        deliveries=found[(number - 1) * DELIVERIES_PAGE : number * DELIVERIES_PAGE],
        number=number,
        more=len(found) > number * DELIVERIES_PAGE and number < MAX_DELIVERY_PAGES,
    )


@router.get("/{rule_id}", response_class=HTMLResponse)
def rule(request: Request, rule_id: str, viewer: AlertsViewer) -> HTMLResponse:
    return _rule(request, viewer, rule_id)


def _changes(current: dict[str, Any], fields: dict[str, str]) -> dict[str, Any]:
    """The fields an edit changes, checked as a whole rule by the create schema (so an emptied
    required field is named as missing), then as a change by the update schema."""
    body = {**_body(fields), "enabled": current["enabled"]}
    whole = validated(AlertRuleCreate, body, "alert rule", root="form").model_dump()
    changed = {k: v for k, v in whole.items() if v != current[k]}
    return validated(AlertRuleUpdate, changed, "change", root="form").model_dump(exclude_unset=True)


@router.post("/{rule_id}", response_class=HTMLResponse)
def edit_rule(request: Request, rule_id: str, viewer: AlertsForm, fields: Posted) -> Response:
    platform = platform_of(request)
    current = service.get_rule(platform, viewer.tenant, rule_id)
    try:
        changes = _changes(current, fields)
        if changes:
            service.update_rule(platform, viewer.principal, rule_id, changes)
    except ShopfloorError as exc:
        return _rule(request, viewer, rule_id, values=fields, error=exc, status=exc.status)
    return RedirectResponse(f"/alerts/{rule_id}?done={'saved' if changes else 'unchanged'}", status_code=303)


@router.post("/{rule_id}/enabled")
def enable_rule(request: Request, rule_id: str, viewer: AlertsForm, fields: Posted) -> Response:
    on = validated(AlertRuleUpdate, {"enabled": fields.get("enabled", "")}, "change", root="form").enabled
    service.update_rule(platform_of(request), viewer.principal, rule_id, {"enabled": on})
    return RedirectResponse(f"/alerts/{rule_id}?done={'enabled' if on else 'disabled'}", status_code=303)


@router.post("/{rule_id}/delete")
def delete_rule(request: Request, rule_id: str, viewer: AlertsForm) -> Response:
    service.delete_rule(platform_of(request), viewer.principal, rule_id)
    return RedirectResponse("/alerts?done=deleted", status_code=303)


@router.post("/{rule_id}/secret", response_class=HTMLResponse)
def rotate_secret(request: Request, rule_id: str, viewer: AlertsForm) -> HTMLResponse:
    made = service.rotate_secret(platform_of(request), viewer.principal, rule_id)
    return _rule(request, viewer, rule_id, secret=made["secret"])


@router.post("/{rule_id}/test", response_class=HTMLResponse)
def test_rule(request: Request, rule_id: str, viewer: AlertsForm) -> Response:
    try:
        service.test_rule(platform_of(request), viewer.principal, rule_id)
    except Conflict as exc:  # a rule without a webhook target: said on its page
        return _rule(request, viewer, rule_id, error=exc, status=exc.status)
    return RedirectResponse(f"/alerts/{rule_id}?done=tested", status_code=303)
