"""The JSON state file in which a fitted estimator saves its options and learnt numbers.

Each family's ``load`` reads it with :func:`read_state` and translates the ``KeyError`` and
``ValueError`` of a file that is missing or not JSON, as it does those of the state's own
fields, into :class:`~shopfloor.errors.ArtifactCorrupted`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from shopfloor.errors import ArtifactCorrupted


def read_state(files: Mapping[str, bytes], name: str, version: int, family: str) -> dict[str, Any]:
    """The JSON object ``files[name]``, saved at format ``version`` by an estimator of ``family``.

    Raises ``KeyError`` (no such file), ``ValueError`` (not JSON) and :class:`ArtifactCorrupted`
    (JSON but not an object, or of another format).
    """
    state = json.loads(files[name])
    if not isinstance(state, dict):
        raise ArtifactCorrupted(f"{family} artifact: {name} holds {type(state).__name__}, not a state")
    if state.get("format") != version:
        raise ArtifactCorrupted(f"unsupported {family} artifact format {state.get('format')!r}")
    return state
