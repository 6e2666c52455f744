"""The retraining gate's labelled live records read from the prediction log of a running app: the
logged inputs of the predictions that have an outcome, with it; since a time; the tenant's own."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

import ai4i_like
import watched
from shopfloor.context import Platform
from shopfloor.serving.live_labelled import LoggedLabels
from watched import MODEL

Api = Any


@pytest.fixture()
def mill(api_with: Any) -> Api:
    return api_with(watched.build)


def test_the_logged_inputs_of_predictions_with_an_outcome(mill: Api) -> None:
    api = mill
    source = api.platform.live_labelled
    assert isinstance(source, LoggedLabels)  # wired where the platform is built from settings
    assert source.labelled("default", MODEL, None) is None  # nothing logged yet
    frame = watched.rows(80, seed=81)
    items = watched.serve(api, frame, "shift-1")
    assert source.labelled("default", MODEL, None) is None  # logged, but no outcome yet
    watched.feedback(api, items[10:70])
    found = source.labelled("default", MODEL, None)
    assert found is not None
    assert sorted(found.inputs.columns) == sorted(ai4i_like.INPUTS)  # what the model reads, no ids
    assert len(found.inputs) == len(found.outcomes) == 60
    expected = frame.iloc[10:70].reset_index(drop=True)
    assert found.inputs["Torque [Nm]"].tolist() == expected["Torque [Nm]"].tolist()
    assert found.outcomes.tolist() == expected[ai4i_like.TARGET].tolist()
    assert source.labelled("default", MODEL, datetime.now(UTC)) is None  # none logged since
    assert source.labelled("other", MODEL, None) is None
    assert source.labelled("default", "no-such-model", None) is None


def test_a_job_process_builds_its_own_source(mill: Api) -> None:
    platform = Platform.from_settings(mill.settings)
    try:
        assert isinstance(platform.live_labelled, LoggedLabels)
    finally:
        platform.close()
