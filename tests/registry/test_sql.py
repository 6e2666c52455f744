from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shopfloor.errors import Conflict, NotFound
from shopfloor.registry.sql import SqlStore


def _dataset(store: SqlStore, tenant: str, id: str, name: str = "d"):
    return store.add_dataset(
        id=id,
        tenant=tenant,
        name=name,
        rows=3,
        sha256="x" * 64,
        size_bytes=10,
        format="csv",
        columns=[{"name": "a", "type": "numeric"}],
        artifact=f"{tenant}/{id}",
    )


def test_dataset_versions_increase_per_name_and_are_tenant_scoped(store: SqlStore) -> None:
    assert _dataset(store, "a", "ds1").version == 1
    assert _dataset(store, "a", "ds2").version == 2
    assert _dataset(store, "b", "ds3").version == 1
    assert store.get_dataset("a", "ds1").columns == [{"name": "a", "type": "numeric"}]
    with pytest.raises(NotFound):
        store.get_dataset("b", "ds1")
    assert {d.id for d in store.list_datasets("a")} == {"ds1", "ds2"}
    assert (store.count_datasets("a"), store.count_datasets("b"), store.count_datasets("c")) == (2, 1, 0)


def test_claim_is_exclusive_and_ordered(store: SqlStore) -> None:
    store.create_job(id="j1", tenant="a", type="train", params={})
    store.create_job(id="j2", tenant="a", type="train", params={})
    first = store.claim_job("w1")
    second = store.claim_job("w2")
    assert first is not None and second is not None
    assert {first.id, second.id} == {"j1", "j2"}
    assert store.claim_job("w3") is None
    counts = (store.count_jobs("a"), store.count_jobs("a", "running"), store.count_jobs("a", "queued"))
    assert counts == (2, 2, 0)
    assert store.count_jobs("b") == 0
    assert store.get_job("a", "j1").status == "running"


def test_progress_cancel_and_finish(store: SqlStore) -> None:
    store.create_job(id="j1", tenant="a", type="train", params={})
    store.claim_job("w")
    assert store.report_progress("j1", 0.5, "fit", "half") is False
    job = store.request_cancel("a", "j1")
    assert job.cancel_requested and job.status == "running"
    assert store.report_progress("j1", 0.6, "fit", "more") is True
    done = store.finish_job("j1", "cancelled")
    assert done.status == "cancelled" and done.finished_at is not None
    # a terminal job stays terminal
    assert store.finish_job("j1", "succeeded").status == "cancelled"
    with pytest.raises(NotFound):
        store.request_cancel("b", "j1")


def test_cancel_queued_job_ends_it_at_once(store: SqlStore) -> None:
    store.create_job(id="j1", tenant="a", type="train", params={})
    assert store.request_cancel("a", "j1").status == "cancelled"
    assert store.claim_job("w") is None


def test_jobs_listed_by_type_newest_first_and_per_tenant(store: SqlStore) -> None:
    for i, kind in enumerate(["train", "retrain", "batch", "retrain"]):
        store.create_job(id=f"j{i}", tenant="a", type=kind, params={})
    store.create_job(id="other", tenant="b", type="retrain", params={})
    assert [j.id for j in store.list_jobs("a", job_type="retrain")] == ["j3", "j1"]
    assert [j.id for j in store.list_jobs("a", job_type="retrain", limit=1)] == ["j3"]
    assert len(store.list_jobs("a")) == 4 and store.list_jobs("a", job_type="optimise") == []


def test_stale_jobs_fail(store: SqlStore) -> None:
    store.create_job(id="j1", tenant="a", type="train", params={})
    store.claim_job("w")
    assert store.fail_stale_jobs(datetime.now(UTC) - timedelta(hours=1), "stale") == 0
    assert store.fail_stale_jobs(datetime.now(UTC) + timedelta(seconds=1), "stale") == 1
    job = store.get_job("a", "j1")
    assert job.status == "failed" and job.error == "stale"


def _version(store: SqlStore, tenant: str = "a", model: str = "m", task: str = "tabular_classification"):
    return store.add_version(
        tenant=tenant,
        model=model,
        task=task,
        report={"metrics": {"f1": 0.9}},
        input_schema=[],
        files={"f": "0" * 64},
        artifact="p",
        lineage={},
        job_id=None,
    )


def test_versions_aliases_and_resolution(store: SqlStore) -> None:
    assert _version(store).version == 1
    assert _version(store).version == 2
    with pytest.raises(Conflict):
        store.resolve("a", "m", None)  # no production alias yet
    store.set_alias("a", "m", "production", 1)
    assert store.resolve("a", "m", None).version == 1
    assert store.resolve("a", "m", 2).version == 2
    store.set_alias("a", "m", "production", 2)
    assert store.resolve("a", "m", None).version == 2
    assert store.get_model("a", "m").aliases == {"production": 2}
    assert store.get_version("a", "m", 2).aliases == ("production",)
    with pytest.raises(NotFound):
        store.set_alias("a", "m", "production", 9)
    with pytest.raises(NotFound):
        store.resolve("b", "m", 1)
    with pytest.raises(Conflict):
        _version(store, task="tabular_regression")
    _version(store, model="other")
    assert (store.count_models("a"), store.count_models("b")) == (2, 0)


def test_tenant_keys_first_writer_wins_and_rotation_is_atomic(store: SqlStore) -> None:
    from shopfloor.registry.entities import TenantKey

    first = store.add_tenant_key(TenantKey("a", b"wrapped-1", "m1", datetime.now(UTC)))
    second = store.add_tenant_key(TenantKey("a", b"wrapped-2", "m1", datetime.now(UTC)))
    assert second.wrapped_key == first.wrapped_key == b"wrapped-1"
    store.replace_tenant_keys([TenantKey("a", b"rewrapped", "m2", first.created_at)])
    got = store.get_tenant_key("a")
    assert (
        got is not None and got.wrapped_key == b"rewrapped" and got.master_key_id == "m2" and got.rotated_at
    )
    with pytest.raises(KeyError):
        store.replace_tenant_keys(
            [TenantKey("a", b"x", "m3", first.created_at), TenantKey("zz", b"y", "m3", first.created_at)]
        )
    assert store.get_tenant_key("a").master_key_id == "m2"  # nothing half-rotated


def test_quotas_and_usage(store: SqlStore) -> None:
    from shopfloor.registry.entities import Quotas

    assert store.get_quotas("a") == Quotas("a")
    store.set_quotas(Quotas("a", requests_per_minute=10, max_concurrent_jobs=1))
    assert store.get_quotas("a").requests_per_minute == 10
    store.create_job(id="j1", tenant="a", type="train", params={})
    assert store.count_active_jobs("a") == 1
    _dataset(store, "a", "ds1")
    assert store.storage_bytes("a") == 10 and store.storage_bytes("b") == 0


def test_audit_is_filterable(store: SqlStore) -> None:
    from shopfloor.registry.entities import AuditEvent

    store.add_audit(
        [
            AuditEvent("a", "dataset.upload", key_id="k1", target="ds1"),
            AuditEvent("a", "alias.set", key_id="k2"),
            AuditEvent("b", "dataset.upload"),
        ]
    )
    assert [e.action for e in store.list_audit("a")] == ["dataset.upload", "alias.set"]
    assert [e.key_id for e in store.list_audit("a", action="alias.set")] == ["k2"]
    assert store.list_audit("a", key_id="k1")[0].target == "ds1"
    first = store.list_audit("a")[0]
    assert [e.action for e in store.list_audit("a", after_id=first.id)] == ["alias.set"]
    assert not hasattr(store, "delete_audit") and not hasattr(store, "update_audit")


@pytest.mark.parametrize("name", ["*", "", "-x", "a b", "a/b", "x" * 65])
def test_a_new_tenant_needs_a_plain_name(store: SqlStore, name: str) -> None:
    """'*' holds the audit log's unknown-key summaries: no tenant may take it, nor any odd name."""
    from shopfloor.errors import InvalidInput

    before = store.list_tenants()
    with pytest.raises(InvalidInput, match="tenant name"):
        store.ensure_tenant(name)
    assert store.list_tenants() == before


def test_a_job_run_again_gets_the_version_it_registered_the_first_time(store: SqlStore) -> None:
    def add(artifact: str) -> Any:
        return store.add_version(
            tenant="a",
            model="m",
            task="tabular_classification",
            report={},
            input_schema=[],
            files={"f": "0" * 64},
            artifact=artifact,
            lineage={},
            job_id="j1",
        )

    first = add("p1")
    store.set_alias("a", "m", "production", first.version)
    again = add("p2")  # the same job, run again after it had registered
    assert (again.version, again.artifact, again.aliases) == (1, "p1", ("production",))
    assert [v.version for v in store.list_versions("a", "m")] == [1]
