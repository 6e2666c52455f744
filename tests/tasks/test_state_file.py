"""The saved state file every family's load reads: a JSON object of the family's format."""

from __future__ import annotations

import json

import pytest

from shopfloor.errors import ArtifactCorrupted
from shopfloor.tasks.state_file import read_state


def test_a_state_of_the_format_is_read() -> None:
    files = {"estimator.json": json.dumps({"format": 2, "params": {"seed": 1}}).encode()}
    assert read_state(files, "estimator.json", 2, "anomaly") == {"format": 2, "params": {"seed": 1}}


def test_a_state_of_another_format_is_refused() -> None:
    files = {"estimator.json": json.dumps({"format": 1}).encode()}
    with pytest.raises(ArtifactCorrupted, match="unsupported anomaly artifact format 1"):
        read_state(files, "estimator.json", 2, "anomaly")


@pytest.mark.parametrize("value", [[1, 2], "text", 3, None])
def test_json_that_is_no_object_is_refused(value: object) -> None:
    files = {"estimator.json": json.dumps(value).encode()}
    with pytest.raises(ArtifactCorrupted, match="series_anomaly artifact: estimator.json holds"):
        read_state(files, "estimator.json", 1, "series_anomaly")


def test_a_missing_or_unreadable_file_is_left_to_the_family() -> None:
    with pytest.raises(KeyError):
        read_state({}, "estimator.json", 1, "anomaly")
    with pytest.raises(ValueError):
        read_state({"estimator.json": b"{not json"}, "estimator.json", 1, "anomaly")


@pytest.mark.parametrize("task", ["anomaly", "series_anomaly"])
def test_a_family_load_refuses_a_state_that_is_no_object(task: str) -> None:
    from shopfloor.tasks import catalog

    cls = catalog.estimator_class(task)
    with pytest.raises(ArtifactCorrupted):
        cls.load({"estimator.json": b"[]"})
