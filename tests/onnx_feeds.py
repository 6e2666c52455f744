"""Running an exported ONNX model with plain onnxruntime on records of raw column values."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and v != v)


def run_onnx(model: bytes, records: Sequence[Mapping[str, Any]]) -> dict[str, np.ndarray]:
    """Every output by name: categories fed as strings ("" for missing), the rest as float64 (NaN)."""
    import onnxruntime as ort

    session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    feeds: dict[str, np.ndarray] = {}
    for i in session.get_inputs():
        values = [r.get(i.name) for r in records]
        if i.type == "tensor(string)":
            feeds[i.name] = np.array(["" if _missing(v) else str(v) for v in values], dtype=object)
        else:
            feeds[i.name] = np.array([np.nan if _missing(v) else float(v) for v in values])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(None, feeds), strict=True))
