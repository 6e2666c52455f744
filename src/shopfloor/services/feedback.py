"""Feedback: the true outcome of logged predictions, sent when it becomes known (often days later).

A prediction is named by its record id (from an export) or by the id of the request that made it
(the ``X-Request-ID`` the client sent or the server answered) and, for a request of several
records, the record's index in it. The whole call is checked first: an id that names nothing of the
model (unknown, expired, another model's or another tenant's) is a 404 naming every such id; an
outcome of the wrong kind for the model's task a 422 naming each; nothing is stored then. Feedback
sent again for a prediction replaces the earlier one. A request served while the model's challenger
ran was answered by both sides (one served, the other run beside it): feedback by its id counts for
both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shopfloor.context import Platform
from shopfloor.errors import Conflict, InvalidInput, NotFound
from shopfloor.registry.log_entities import Feedback, LoggedPrediction, parse_record_id
from shopfloor.services.outcomes import check_outcome
from shopfloor.services.prediction_log import entries_of
from shopfloor.serving.challenger import one_comparison
from shopfloor.serving.log_entries import feedback_path, seal_outcome
from shopfloor.tasks import catalog
from shopfloor.tasks.base import Outcomes

#: Items one feedback call may carry.
MAX_ITEMS = 10_000


@dataclass(frozen=True)
class Item:
    """One outcome: for ``record_id``, or for ``request_id`` (and ``index`` within that request)."""

    outcome: Any
    record_id: str | None = None
    request_id: str | None = None
    index: int | None = None


def outcomes_spec(platform: Platform, tenant: str, name: str) -> Outcomes:
    """The model's declared outcomes; 404 for an unknown model, 422 for a task that takes none."""
    task = platform.store.get_model(tenant, name).task
    spec = catalog.capabilities(task).outcomes
    if spec is None:
        which = catalog.join_names(catalog.tasks_where(lambda c: c.outcomes is not None), "or")
        raise InvalidInput(
            f"model {name!r} is a {task} model, which takes no feedback; feedback is for {which} models",
            errors=[{"loc": ["path", "name"], "msg": "this task takes no feedback"}],
        )
    return spec


def record(platform: Platform, tenant: str, name: str, items: Sequence[Item]) -> dict[str, Any]:
    """Check every item, then store every outcome (one transaction); returns what was stored."""
    spec = outcomes_spec(platform, tenant, name)
    if not items or len(items) > MAX_ITEMS:
        raise InvalidInput(
            f"send 1 to {MAX_ITEMS} outcomes per call, not {len(items)}",
            errors=[{"loc": ["body", "items"], "msg": f"1 to {MAX_ITEMS} items"}],
        )
    targets = _resolve(platform, tenant, name, items)
    entries = entries_of(platform, tenant, [ref for ref, _ in targets])
    problems = []
    for ref, i in targets:
        why = check_outcome(spec, (entries.get(ref.key) or {}).get("answer"), items[i].outcome)
        if why is not None:
            problems.append({"loc": ["body", "items", i, "outcome"], "msg": f"{ref.record_id}: {why}"})
    if problems:
        raise InvalidInput(
            f"{len(problems)} outcome(s) do not fit model {name!r} ({spec.kind} outcomes): "
            f"{problems[0]['msg']}",
            errors=problems[:50],
        )
    key, now = platform.sealed.tenant_key(tenant), datetime.now(UTC)
    stored = {
        ref.key: Feedback(
            ref.blob_id, ref.slot, tenant, name, ref.version,
            seal_outcome(key, feedback_path(tenant, name, ref.record_id), items[i].outcome), now,
        )
        for ref, i in targets
    }
    platform.store.put_feedback(list(stored.values()))
    records = [f"{blob}-{slot}" for blob, slot in stored]
    return {"model": name, "kind": spec.kind, "accepted": len(stored), "records": records}


def _resolve(
    platform: Platform, tenant: str, name: str, items: Sequence[Item]
) -> list[tuple[LoggedPrediction, int]]:
    """Each item's logged prediction (404 naming every id that names none, 422 for an item that names
    no id or a request of several records without an index, 409 for a reused request id)."""
    keys = {i: parse_record_id(it.record_id) for i, it in enumerate(items) if it.record_id is not None}
    requests = sorted({it.request_id for it in items if it.record_id is None and it.request_id is not None})
    found = platform.store.find_logged(
        tenant, name, keys=[k for k in keys.values() if k is not None], request_ids=requests
    )
    by_key = {ref.key: ref for ref in found}
    by_request: dict[str, list[LoggedPrediction]] = {}
    for ref in found:
        if ref.request_id is not None:
            by_request.setdefault(ref.request_id, []).append(ref)
    out: list[tuple[LoggedPrediction, int]] = []
    unknown: list[dict[str, Any]] = []
    unclear: list[dict[str, Any]] = []
    for i, it in enumerate(items):
        if it.record_id is not None:
            wanted = keys[i]
            named = by_key.get(wanted) if wanted is not None else None
            if named is None:
                msg = f"no logged prediction {it.record_id!r}"
                unknown.append({"loc": ["body", "items", i, "record_id"], "msg": msg})
            else:
                out.append((named, i))
            continue
        if it.request_id is None:
            unclear.append({"loc": ["body", "items", i], "msg": "give record_id, or request_id (and index)"})
            continue
        refs = by_request.get(it.request_id, [])
        if it.index is not None:
            refs = [r for r in refs if r.position == it.index]
        where = f"request {it.request_id!r}" + (f" index {it.index}" if it.index is not None else "")
        if not refs:
            msg = f"no logged prediction for {where}"
            unknown.append({"loc": ["body", "items", i, "request_id"], "msg": msg})
        elif len(refs) > 1 and it.index is None and len({r.position for r in refs}) > 1:
            msg = f"{where} logged {len(refs)} records: give index"
            unclear.append({"loc": ["body", "items", i, "index"], "msg": msg})
        elif len(refs) > 1 and not one_comparison(refs):
            raise Conflict(
                f"{where} names {len(refs)} logged predictions (the request id was sent more than once): "
                "name them by record_id (see the export)",
                errors=[{"loc": ["body", "items", i, "request_id"], "msg": "logged more than once"}],
            )
        else:
            out.extend((ref, i) for ref in refs)  # both sides of a challenger's comparison, or the one
    if unknown:
        raise NotFound(
            f"{len(unknown)} id(s) name no logged prediction of model {name!r} (unknown, not sampled, or "
            f"past the log's retention): {unknown[0]['msg']}",
            errors=unknown[:50],
        )
    if unclear:
        raise InvalidInput(
            f"{len(unclear)} item(s) do not say which prediction: {unclear[0]['msg']}", errors=unclear[:50]
        )
    return out
