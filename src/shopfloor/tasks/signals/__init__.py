"""Vibration waveforms: condition classes (``signal_classification``) and departures from healthy
running (``signal_anomaly``), from recordings uploaded as files (format ``signals``).

The declaration below is what the layers above know of the family; it imports nothing heavy.
"""

from shopfloor.tasks.base import Capabilities, Outcomes, TaskSpec
from shopfloor.tasks.signals.options import SignalAnomalyOptions, SignalClassificationOptions

SIGNAL_CLASSIFICATION = Capabilities(
    options=SignalClassificationOptions,
    inputs="signals",  # a recording dataset: one row per recording (see shopfloor.data.waveforms)
    target="given",
    prediction="classification",
    takes_options=True,
    explain=("shap",),
    batch_instead="POST /v1/models/{name}/predict with the recordings' samples",
    plots=("confusion", "candidates"),
    validation="grouped cross-validation (no recording on both sides)",
    compare=True,
    outcomes=Outcomes("label", "label", scores="probabilities", metrics=("f1", "pr_auc")),
    tensor_answers=(
        ("label", "class"), ("probabilities", "scores"), ("windows", "count"), ("agreement", "number")
    ),
)

SIGNAL_ANOMALY = Capabilities(
    options=SignalAnomalyOptions,
    inputs="signals",
    target="none",
    prediction="anomaly",
    takes_options=True,
    explain=("shap",),
    stream=True,
    batch_instead="POST /v1/models/{name}/score with windows of each machine",
    validation="held-out healthy recordings",
    compare=True,
    outcomes=Outcomes("alarm", "is_anomaly", metrics=("alarm_precision", "alarm_recall")),
    tensor_answers=(
        ("score", "number"),
        ("threshold", "number"),
        ("is_anomaly", "flag"),
        ("windows", "count"),
        ("windows_over", "number"),
    ),
)

TASKS = (
    TaskSpec(
        "signal_classification", "shopfloor.tasks.signals.classifier:SignalClassifier", SIGNAL_CLASSIFICATION
    ),
    TaskSpec("signal_anomaly", "shopfloor.tasks.signals.anomaly:SignalAnomaly", SIGNAL_ANOMALY),
)
