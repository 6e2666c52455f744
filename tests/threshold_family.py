"""A tiny task family kept outside ``src/`` whose answers are known in advance, for the challenger tests.

Each model compares the input ``x`` with its ``cut``: ``threshold_label`` answers the class ``high``
(x >= cut) or ``low`` with probabilities, ``threshold_value`` answers ``x * scale``, and
``threshold_alarm`` raises an alarm (an event) for x >= cut, online and in a stream whose state per
asset counts the points seen (so a version's own stream state can be told from another's). Versions
are registered straight from :func:`version_files`, with no training job.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, ClassVar, Self

import pandas as pd

from shopfloor.errors import NotFitted
from shopfloor.jobs.registering import register_version
from shopfloor.tasks import catalog
from shopfloor.tasks.base import BaseEstimator, Capabilities, Outcomes, ProgressFn, TaskSpec, no_progress

LABEL = Capabilities(
    inputs="table", target="given", prediction="classification", trainable=False,
    outcomes=Outcomes("label", "label", scores="probabilities", metrics=("f1", "pr_auc")),
)
VALUE = Capabilities(
    inputs="table", target="given", prediction="regression", trainable=False,
    outcomes=Outcomes("value", "value", metrics=("rmse", "mae")),
)
ALARM = Capabilities(
    inputs="table", target="none", prediction="anomaly", trainable=False, stream=True,
    outcomes=Outcomes("alarm", "events", metrics=("alarm_precision", "alarm_recall")),
)
_CLASS = "threshold_family:ThresholdModel"
TASKS = (
    TaskSpec("threshold_label", _CLASS, LABEL),
    TaskSpec("threshold_value", _CLASS, VALUE),
    TaskSpec("threshold_alarm", _CLASS, ALARM),
)
NAMES = tuple(t.name for t in TASKS)
#: Versions registered with ``gated=True`` answer only once this is set (a challenger held up at will).
GATE = threading.Event()
SCHEMA = [{"name": "x", "type": "numeric"}, {"name": "asset", "type": "categorical"}]


def version_files(task: str, cut: float, scale: float = 1.0, gated: bool = False) -> dict[str, Any]:
    """What ``register_version`` needs for a model of ``task`` with this cut (and scale; ``gated``: it
    answers only once :data:`GATE` is set)."""
    report = {"task": task, "metrics": {}, "stream": {"asset": "asset"}}
    state = {"task": task, "cut": cut, "scale": scale, "gated": gated}
    return {
        "task": task,
        "files": {"threshold.json": json.dumps(state).encode()},
        "report": report,
        "input_schema": SCHEMA,
        "lineage": {},
    }


#: The models :func:`build_models` registers: name -> task and the parameters of versions 1, 2, ...
#: (version 1 is production; version 2 the usual challenger).
LABEL, VALUE, ALARM = "line", "gauge", "press"
MODELS = {
    LABEL: ("threshold_label", [{"cut": 0.0}, {"cut": 0.5}, {"cut": 0.25}, {"cut": 0.5, "gated": True}]),
    VALUE: ("threshold_value", [{"cut": 0.0, "scale": 1.0}, {"cut": 0.0, "scale": 1.1}]),
    ALARM: ("threshold_alarm", [{"cut": 1.0}, {"cut": 0.5}]),
}


def registered() -> Iterator[None]:
    """The family known to the catalog while the generator is suspended (a fixture's body)."""
    catalog.register(*TASKS)
    try:
        yield
    finally:
        catalog.unregister(*NAMES)


def build_models(api: Any) -> None:
    """Register :data:`MODELS` in the default tenant of ``api`` (a test app), production at version 1."""
    for name, (task, versions) in MODELS.items():
        for params in versions:
            register_version(api.platform, tenant="default", model=name, **version_files(task, **params))
        api.platform.store.set_alias("default", name, "production", 1)


class ThresholdModel(BaseEstimator):
    declared: ClassVar[Mapping[str, Capabilities]] = {"threshold_label": LABEL, "threshold_value": VALUE,
                                                      "threshold_alarm": ALARM}

    def __init__(self, task: str = "threshold_label", cut: float = 0.0, scale: float = 1.0,
                 gated: bool = False) -> None:
        self.task = task  # type: ignore[misc]
        self.cut = cut
        self.scale = scale
        self.gated = gated

    def fit(self, frame: pd.DataFrame, target: str, progress: ProgressFn = no_progress) -> Self:
        raise NotFitted("threshold models are registered, not trained")

    def _wait(self) -> None:
        if self.gated and not GATE.wait(timeout=30):
            raise TimeoutError("the gate was never opened")

    def _one(self, record: Mapping[str, Any]) -> dict[str, Any]:
        x = float(record["x"])
        if self.task == "threshold_label":
            high = min(1.0, max(0.0, 0.5 + (x - self.cut)))
            label = "high" if x >= self.cut else "low"
            return {"label": label, "probabilities": {"low": 1.0 - high, "high": high}, "warnings": []}
        if self.task == "threshold_value":
            return {"value": x * self.scale, "warnings": []}
        events = [{"start": 0, "score": x}] if x >= self.cut else []
        return {"asset": str(record.get("asset", "")), "events": events, "warnings": []}

    def predict(self, records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        self._wait()
        return [self._one(r) for r in records]

    def score_stream(
        self, records: Sequence[Mapping[str, Any]], states: Mapping[str, Any]
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        self._wait()
        new: dict[str, dict[str, Any]] = {}
        results = []
        for record in records:
            asset = str(record.get("asset", ""))
            seen = new.get(asset) or dict(states.get(asset) or {"points": 0})
            seen = {"points": int(seen["points"]) + 1}
            new[asset] = seen
            alarm = float(record["x"]) >= self.cut
            events = [{"start": 0}] if alarm else []
            results.append({"asset": asset, "points": seen["points"], "events": events})
        return results, new

    def explain(self, records: Sequence[Mapping[str, Any]], method: str = "shap") -> list[dict[str, Any]]:
        return [{"method": method, "contributions": {"x": 0.0}} for _ in records]

    def save(self) -> dict[str, bytes]:
        state = {"task": self.task, "cut": self.cut, "scale": self.scale, "gated": self.gated}
        return {"threshold.json": json.dumps(state).encode()}

    @classmethod
    def load(cls, files: Mapping[str, bytes]) -> Self:
        state = json.loads(files["threshold.json"])
        return cls(state["task"], state["cut"], state["scale"], state["gated"])
