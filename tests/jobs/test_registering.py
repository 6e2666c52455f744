"""Registering a version is all or nothing, and a job run again registers nothing new."""

from __future__ import annotations

from pathlib import Path

from shopfloor.bootstrap import prepare
from shopfloor.jobs.registering import register_version
from shopfloor.settings import Settings


def test_a_job_run_again_keeps_its_first_version_and_leaves_no_orphan_artifact(tmp_path: Path) -> None:
    platform = prepare(Settings(home=tmp_path / "home"))
    try:

        def register(data: bytes):  # noqa: ANN202
            return register_version(
                platform,
                tenant="default",
                model="m",
                task="tabular_classification",
                files={"model.txt": data},
                report={},
                input_schema=[],
                lineage={},
                job_id="job-1",
            )

        first = register(b"first run")
        again = register(b"second run")
        assert (again.version, again.artifact) == (first.version, first.artifact)
        stored = sorted(platform.artifacts.list_prefix("default/models/m/"))
        assert stored == [f"{first.artifact}/model.txt"]
        assert platform.sealed.get("default", f"{first.artifact}/model.txt") == b"first run"
    finally:
        platform.store.close()
