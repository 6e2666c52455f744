"""SHOPFLOOR_JOB_THREADS: the threads a job's fits start, set once per process from the settings."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

from shopfloor import threads
from shopfloor.context import Platform
from shopfloor.settings import Settings
from shopfloor.tasks.tabular.models import ForestModel


@pytest.fixture(autouse=True)
def _default_threads() -> Iterator[None]:
    yield
    threads.configure(threads.DEFAULT)


def test_the_platform_sets_the_threads_a_job_may_use(tmp_path: Path) -> None:
    platform = Platform.from_settings(Settings(home=tmp_path, job_threads=1))
    try:
        assert threads.job_threads() == 1
    finally:
        platform.close()


def test_a_forest_fits_on_the_job_threads_and_serves_on_one(monkeypatch: pytest.MonkeyPatch) -> None:
    from sklearn.ensemble import RandomForestClassifier

    seen: list[Any] = []
    fit = RandomForestClassifier.fit

    def spy(self: RandomForestClassifier, *args: Any, **kwargs: Any) -> Any:
        seen.append(self.n_jobs)
        return fit(self, *args, **kwargs)

    monkeypatch.setattr(RandomForestClassifier, "fit", spy)
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(60, 3)), np.arange(60) % 2
    for n in (1, 3):
        threads.configure(n)
        model = ForestModel("classification", 2, {"n_estimators": 5}).fit(X, y)
        assert seen[-1] == n
    assert model.est_.n_jobs == 1


def test_fewer_than_one_thread_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SHOPFLOOR_JOB_THREADS", "0")
    with pytest.raises(ValidationError, match="job_threads"):
        Settings(home=tmp_path)
    with pytest.raises(ValueError, match="at least one thread"):
        threads.configure(0)
