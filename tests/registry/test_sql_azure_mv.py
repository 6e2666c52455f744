"""Azure multivariate ids in the registry: scoped by tenant, paged newest first, deleted with their
results."""

from __future__ import annotations

import pytest

from shopfloor.errors import NotFound
from shopfloor.registry.sql import SqlStore


def _model(store: SqlStore, tenant: str, model_id: str) -> None:
    store.add_azure_model(
        tenant=tenant,
        model_id=model_id,
        model=f"azure-{model_id}",
        job_id=f"job_{model_id}",
        dataset_id=f"ds_{model_id}",
        info={"dataSource": "s3://b/k.csv", "slidingWindow": 300},
        variable_states=[{"variable": "a", "effectiveCount": 10}],
    )


def test_models_are_scoped_paged_and_deleted_with_their_results(store: SqlStore) -> None:
    for i in range(3):
        _model(store, "a", f"m{i}")
    _model(store, "b", "theirs")
    found = store.get_azure_model("a", "m1")
    assert found.model == "azure-m1" and found.info["slidingWindow"] == 300
    assert found.variable_states == [{"variable": "a", "effectiveCount": 10}]
    page, total = store.list_azure_models("a", 1, 1)
    assert total == 3 and len(page) == 1
    every = [m.model_id for m in store.list_azure_models("a", 0, 10)[0]]
    assert sorted(every) == ["m0", "m1", "m2"] and page[0].model_id == every[1]
    with pytest.raises(NotFound) as caught:
        store.get_azure_model("a", "theirs")
    assert caught.value.errors[0]["type"] == "ModelNotExist"

    store.add_azure_result(
        tenant="a", result_id="r1", model_id="m1", job_id="job_r1", setup={"topContributorCount": 3},
        variable_states=[],
    )
    assert store.get_azure_result("a", "r1").setup == {"topContributorCount": 3}
    with pytest.raises(NotFound):
        store.get_azure_result("b", "r1")
    gone, results = store.delete_azure_model("a", "m1")
    assert gone.model_id == "m1" and [r.result_id for r in results] == ["r1"]
    with pytest.raises(NotFound) as caught:
        store.get_azure_result("a", "r1")
    assert caught.value.errors[0]["type"] == "ResultNotExist"
    with pytest.raises(NotFound):
        store.delete_azure_model("b", "m0")
    assert store.list_azure_models("a", 0, 10)[1] == 2
