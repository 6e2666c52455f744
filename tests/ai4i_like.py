"""Milling data shaped like AI4I 2020 (the same columns), from a process whose failures change.

``process="before"``: tools are changed early (wear up to 150 min) and machines fail on overstrain
(torque above 50 Nm). ``process="after"``: tools now run up to 250 min and worn tools fail too
(wear above 190 min), which a model trained before has never seen. A few labels are flipped so
that no model is perfect; ``shuffled`` breaks every link between the inputs and the failures.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

TARGET = "Machine failure"
EXCLUDE = ["UDI", "Product ID"]
INPUTS = ["Type", "Air temperature [K]", "Process temperature [K]", "Rotational speed [rpm]", "Torque [Nm]",
          "Tool wear [min]"]  # fmt: skip


def table(
    n: int, seed: int, process: str = "before", shuffled: bool = False, flip: float = 0.02
) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    air = rng.normal(300.0, 2.0, n)
    torque = rng.normal(40.0, 10.0, n).clip(3.0, None)
    wear = rng.uniform(0.0, 150.0 if process == "before" else 250.0, n).round()
    failure = (torque > 50.0) | ((wear > 190.0) if process == "after" else False)
    failure ^= rng.random(n) < flip
    if shuffled:
        failure = rng.permutation(failure)
    return pd.DataFrame(
        {
            "UDI": np.arange(1, n + 1),
            "Product ID": [f"{t}{seed:02d}{i:05d}" for i, t in enumerate(rng.choice(list("LMH"), n))],
            "Type": rng.choice(["L", "M", "H"], n, p=[0.5, 0.3, 0.2]),
            "Air temperature [K]": air.round(1),
            "Process temperature [K]": (air + 10.0 + rng.normal(0.0, 1.0, n)).round(1),
            "Rotational speed [rpm]": rng.normal(1540.0, 180.0, n).round(),
            "Torque [Nm]": torque.round(1),
            "Tool wear [min]": wear,
            TARGET: failure.astype(int),
        }
    )
