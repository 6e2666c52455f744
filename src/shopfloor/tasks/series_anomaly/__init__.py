"""Label-free anomaly detection on one stream (time and one or more value columns, no asset column).

The declaration below is what the layers above know of the family; it imports nothing heavy.
"""

from shopfloor.tasks.base import Capabilities, Outcomes, TaskSpec
from shopfloor.tasks.series_anomaly.options import SeriesAnomalyOptions

SERIES_ANOMALY = Capabilities(
    options=SeriesAnomalyOptions,
    inputs="table",
    target="none",
    prediction="anomaly",
    takes_options=True,
    explain=("shap",),  # each value column's share of the latest point's deviation, under the default name
    batch=True,
    whole_batch=True,  # each row's score depends on every row before it: a table is scored in one piece
    batch_evaluation=True,
    stream=True,
    plots=("candidates",),
    compare=True,
    whole_series=True,  # a series sent whole is detected from itself (the Azure facade's univariate routes)
    outcomes=Outcomes(
        "alarm",
        "events",
        metrics=("alarm_precision", "alarm_recall"),
        baseline={"alarm_recall": "fault_detection_rate"},
    ),
)

TASKS = (
    TaskSpec(
        "series_anomaly", "shopfloor.tasks.series_anomaly.estimator:SeriesAnomalyEstimator", SERIES_ANOMALY
    ),
)
