"""Schema-driven fuzzing of every route with a key of each role (small budget; bench/fuzz_api.py: full)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parents[1] / "fuzz"))
from fuzzing import fuzz  # noqa: E402

Api = Any


def test_fuzz_every_route_as_every_role(api: Api) -> None:
    store = api.platform.store
    ds = store.add_dataset(
        id="ds_fuzz",
        tenant="default",
        name="fuzz",
        rows=1,
        sha256="0" * 64,
        size_bytes=1,
        format="csv",
        columns=[],
        artifact="default/datasets/ds_fuzz",
    )
    objects = {"dataset_id": ds.id, "name": "nomodel", "key_id": "key_nope", "job_id": "job_nope"}
    keys = {role: api.keys[role] for role in ("admin", "builder", "consumer")}
    result = fuzz(api.client.app, keys, objects, examples=6)
    assert result.requests >= 300, result.requests
    assert result.server_errors == 0, result.violations[:10]
    assert result.violations == [], result.violations[:10]
