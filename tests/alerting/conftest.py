"""A platform for the alert machinery (see alert_fixtures), with model ``press``, a rule maker and a
webhook receiver."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from alert_fixtures import ADMIN, DRIFT_RULE, Make, add_model, alert_settings
from shopfloor.bootstrap import prepare
from shopfloor.context import Platform
from shopfloor.services import alerts
from webhook_receiver import Receiver, webhook_receiver


@pytest.fixture()
def platform(tmp_path: Path) -> Iterator[Platform]:
    found = prepare(alert_settings(tmp_path / "home"))
    add_model(found)
    yield found
    found.close()


@pytest.fixture()
def receiver() -> Iterator[Receiver]:
    with webhook_receiver() as found:
        yield found


@pytest.fixture()
def make_rule(platform: Platform) -> Make:
    """``make_rule(**fields)``: a drift rule on ``press`` firing above 0.3, through the service."""

    def make(**fields: Any) -> dict[str, Any]:
        return alerts.create_rule(platform, ADMIN, {**DRIFT_RULE, **fields})

    return make
