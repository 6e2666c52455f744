"""Retraining a model with a gate, and promoting a version with one call.

:func:`create_retrain_job` checks a request against the champion (the version behind
``production``, or the one named) and queues a "retrain" job (:mod:`shopfloor.jobs.retrain_job`)
that fits the champion's configuration on the new data, gates the new version
(:mod:`shopfloor.jobs.gate`) and promotes it when asked and the gate passed. Nothing is stored
when a check fails. :func:`promote` moves ``production`` to a version, refusing one whose gate
failed unless forced, and only from the version the caller expects when it names one.
"""

from __future__ import annotations

from typing import Any

from shopfloor.context import Platform
from shopfloor.errors import InvalidInput
from shopfloor.jobs.retrain_job import combined_frame
from shopfloor.jobs.training import configured
from shopfloor.registry.entities import PRODUCTION, Dataset, Job
from shopfloor.security.keys import Principal
from shopfloor.services import audit
from shopfloor.services.jobs import check_dataset_kind
from shopfloor.services.models import check_gate
from shopfloor.services.queueing import check_room, queue
from shopfloor.services.retrain_checks import champion_config, check_fits, needed_columns, reference_types
from shopfloor.tasks import catalog


def create_retrain_job(platform: Platform, principal: Principal, name: str, request: dict[str, Any]) -> Job:
    """Check ``request`` (``dataset_ids``, ``version``, ``promote``) against model ``name`` and
    queue the job. Raises NotFound (model, version or dataset of another tenant), Conflict (no
    production version and none named), InvalidInput (a family without a gate, an imported
    version, data that does not fit, an automatic promotion against a version not in production)."""
    tenant = principal.tenant
    check_room(platform, tenant)
    champion = platform.store.resolve(tenant, name, request.get("version"))
    caps = catalog.capabilities(champion.task)
    if not caps.compare:
        which = catalog.join_names(catalog.tasks_where(lambda c: c.compare and c.trainable), "and")
        raise InvalidInput(
            f"model {name!r} is a {champion.task} model; retraining with a gate is available for "
            f"{which} models",
            errors=[{"loc": ["path", "name"], "msg": f"a {champion.task} model"}],
        )
    config = champion_config(platform, champion)
    promote = request.get("promote") or "never"
    production = platform.store.get_model(tenant, name).aliases.get(PRODUCTION)
    if promote == "if_gate_passes" and production != champion.version:
        now = f"version {production}" if production is not None else "no version"
        raise InvalidInput(
            f"promote 'if_gate_passes' replaces production, which is {now}: the gate would compare "
            f"with version {champion.version}; retrain against production (leave 'version' out) or "
            "promote 'never'",
            errors=[{"loc": ["body", "promote"], "msg": f"production is {now}"}],
        )
    ids = list(request["dataset_ids"])
    datasets = [platform.store.get_dataset(tenant, d) for d in ids]
    for i, dataset in enumerate(datasets):
        check_dataset_kind(champion.task, caps.inputs, dataset, ("body", "dataset_ids", i))
    columns = needed_columns(champion, config, configured(platform, config, {}).columns_read())
    types = reference_types(platform, champion, columns)
    check_fits(champion, types, columns, datasets)
    estimator = configured(platform, config, types)  # the configuration as the job will build it
    if len(datasets) > 1:
        estimator.check_combination([{"name": d.name, "id": d.id, "columns": d.columns} for d in datasets])
    # a family that checks its training data (a forecast's series...) checks the combined data now
    estimator.check_dataset(lambda: combined_frame(platform, datasets, columns, types, set(), estimator)[0])
    params = {
        "model_name": name,
        "champion": champion.version,
        "dataset_ids": ids,
        "config": config,
        "columns": columns,
        "types": types,
        "seen_sha256": _trained_on(champion.lineage),
        "promote": promote,
        "warnings": _missing_targets(datasets, config.get("target")),
        "requested_by": {"key_id": principal.key_id, "role": principal.role},
    }
    return queue(
        platform,
        principal,
        "retrain",
        params,
        model=name,
        champion=champion.version,
        datasets=ids,
        promote=promote,
    )


def _missing_targets(datasets: list[Dataset], target: str | None) -> list[str]:
    """A warning per dataset whose target column has empty cells (those rows are dropped)."""
    out = []
    for dataset in datasets:
        missing = sum(int(c.get("missing") or 0) for c in dataset.columns if c["name"] == target)
        if missing:
            out.append(
                f"dataset {dataset.name!r}: {missing} rows with no value in the target {target!r} "
                "will be dropped before training"
            )
    return out


def _trained_on(lineage: dict[str, Any]) -> list[str]:
    """The sha256 of each dataset a version learnt from (its rows are no fair test of it)."""
    found = [d.get("sha256") for d in lineage.get("datasets") or []] + [lineage.get("dataset_sha256")]
    return sorted({s for s in found if isinstance(s, str)})


def promote(
    platform: Platform,
    principal: Principal,
    name: str,
    version: int,
    *,
    expected: int | None = None,
    force: bool = False,
) -> dict[str, Any]:
    """Point ``production`` of ``name`` at ``version`` and audit it; returns the model, alias,
    version and the version production had before.

    A version whose retraining gate failed is refused (Conflict, with the gate's summary) unless
    ``force``; with ``expected``, production moves only from that version (Conflict, changing
    nothing, when it points elsewhere now).
    """
    tenant = principal.tenant
    mv = platform.store.get_version(tenant, name, version)
    gate = check_gate(mv, force, ["body", "version"])
    previous = platform.store.get_model(tenant, name).aliases.get(PRODUCTION)
    if expected is not None:
        platform.store.set_alias_if(tenant, name, PRODUCTION, version, expected)
        previous = expected
    else:
        platform.store.set_alias(tenant, name, PRODUCTION, version)
    platform.generation.bump()  # every process drops its cached alias resolutions
    audit.record(
        platform,
        principal,
        "model.promote",
        f"{name}@{PRODUCTION}",
        model=name,
        alias=PRODUCTION,
        version=version,
        previous=previous,
        forced=force or None,
        gate=None if gate is None else ("passed" if gate.get("passed") else "failed"),
    )
    return {"model": name, "alias": PRODUCTION, "version": version, "previous": previous}
