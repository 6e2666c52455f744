"""Image anomaly detection: learns good parts only; labels, when given, only evaluate.

The declaration below is what the layers above know of the family; it imports nothing heavy.
"""

from shopfloor.tasks.base import Capabilities, Outcomes, TaskSpec
from shopfloor.tasks.image_anomaly.options import ImageAnomalyOptions

IMAGE_ANOMALY = Capabilities(
    options=ImageAnomalyOptions,
    inputs="images",
    target="none",
    prediction="anomaly",
    takes_options=True,
    backbone=True,
    explain=("anomaly_map", "shap"),  # "shap" is the protocol's default name: an anomaly map here
    batch_instead="POST /v1/models/{name}/predict with the images (multipart or base64)",
    compare=True,
    outcomes=Outcomes("alarm", "anomaly", metrics=("alarm_precision", "alarm_recall")),
    tensor_answers=(("score", "number"), ("threshold", "number"), ("anomaly", "flag")),
)

TASKS = (
    TaskSpec("image_anomaly", "shopfloor.tasks.image_anomaly.estimator:ImageAnomalyDetector", IMAGE_ANOMALY),
)
