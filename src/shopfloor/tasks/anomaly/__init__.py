"""Anomaly detection on sensor histories (asset, time, sensors): no target; online, batch, streamed.

The declaration below is what the layers above know of the family; it imports nothing heavy.
"""

from shopfloor.tasks.anomaly.options import AnomalyOptions
from shopfloor.tasks.base import Capabilities, Outcomes, TaskSpec

ANOMALY = Capabilities(
    options=AnomalyOptions,
    inputs="series",
    target="none",
    prediction="anomaly",
    takes_options=True,
    explain=("shap",),  # reconstruction contributions, under the protocol's default name
    batch=True,
    batch_evaluation=True,
    stream=True,
    plots=("candidates",),
    min_assets=2,
    compare=True,
    outcomes=Outcomes(
        "alarm",
        "events",
        metrics=("alarm_precision", "alarm_recall"),
        baseline={"alarm_recall": "fault_detection_rate"},
    ),
)

TASKS = (TaskSpec("anomaly", "shopfloor.tasks.anomaly.estimator:AnomalyEstimator", ANOMALY),)
