"""Refusing pickles: a model file that may run code when loaded is never opened."""

from __future__ import annotations

PICKLE_HINT = "pickle can run arbitrary code when loaded; export the model to ONNX, LightGBM text or skops"


def looks_like_pickle(data: bytes, filename: str | None) -> bool:
    """Pickle (protocol 2 to 5) by content, or a pickle/joblib file name."""
    name = (filename or "").lower()
    return (len(data) > 1 and data[0] == 0x80 and 2 <= data[1] <= 5) or name.endswith(
        (".pkl", ".pickle", ".joblib", ".sav")
    )
