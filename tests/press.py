"""The press of the optimisation tests: speed (rpm) and torque (Nm) under control, tool wear and
product type fixed, and a minimum power (W = Nm x rpm x 2 pi / 60) between them."""

from __future__ import annotations

from typing import Any

import numpy as np

RAD = 2 * np.pi / 60  # W = Nm x rpm x 2 pi / 60


def press_request(**changes: Any) -> dict[str, Any]:
    """An optimize request over speed and torque with power >= 3,500 W; ``changes`` replace fields."""
    request: dict[str, Any] = {
        "controls": {"speed": {"min": 1200, "max": 2800}, "torque": {"min": 10, "max": 70}},
        "fixed": {"wear": 100, "Type": "M"},
        "derived": {"power_w": {"product": ["torque", "speed"], "scale": RAD}},
        "constraints": [{"terms": {"power_w": 1}, "op": ">=", "value": 3500}],
        "current": {"speed": 2600, "torque": 60},
        "trials": 60,
    }
    request.update(changes)
    return request
