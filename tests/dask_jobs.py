"""What the tests of jobs on a Dask cluster share: a training queued through the API, a job read
from the registry, and waiting for a job (or anything) to come about."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from fastapi.testclient import TestClient

from shopfloor.context import Platform
from shopfloor.registry.entities import Job


def wait_for(check: Callable[[], Any], timeout: float, what: str, poll: float = 0.1) -> Any:
    """The first truthy value of ``check()``, asked every ``poll`` seconds; fails after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(poll)
    raise AssertionError(f"timed out waiting for {what}")


@dataclass
class JobsApi:
    """The platform behind a test client, and an admin key's headers for it."""

    platform: Platform
    client: TestClient
    headers: dict[str, str]
    #: how long :meth:`finished` waits unless told
    finish_s: ClassVar[float] = 90
    #: how often :meth:`finished` looks
    poll_s: ClassVar[float] = 0.1

    def train(self, dataset_id: str, name: str, budget: float = 5) -> str:
        """Queue a tabular classification of ``label`` as model ``name``; its job's id."""
        body = {
            "task": "tabular_classification",
            "dataset_id": dataset_id,
            "target": "label",
            "model_name": name,
            "time_budget_s": budget,
        }
        answer = self.client.post("/v1/jobs", json=body, headers=self.headers)
        assert answer.status_code == 202, answer.text
        return str(answer.json()["id"])

    def job(self, job_id: str) -> Job:
        return self.platform.store.get_job(None, job_id)

    def finished(self, job_id: str, timeout: float | None = None) -> Job:
        """The job once it has ended (succeeded, failed or cancelled)."""
        return wait_for(
            lambda: (j := self.job(job_id)).terminal and j,
            self.finish_s if timeout is None else timeout,
            f"job {job_id} to end",
            self.poll_s,
        )
