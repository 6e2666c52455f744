"""Image classification of part images, from scratch or from a pretrained backbone.

The declaration below is what the layers above know of the family; it imports nothing heavy.
"""

from shopfloor.tasks.base import Capabilities, Outcomes, TaskSpec
from shopfloor.tasks.image_classification.options import ImageClassificationOptions

IMAGE_CLASSIFICATION = Capabilities(
    options=ImageClassificationOptions,
    inputs="images",
    target="given",
    prediction="classification",
    takes_options=True,
    backbone=True,
    explain=("gradcam", "shap"),  # "shap" is the protocol's default name: Grad-CAM here
    batch_instead="POST /v1/models/{name}/predict with the images (multipart or base64)",
    plots=("confusion", "stability"),
    compare=True,
    outcomes=Outcomes("label", "label", scores="probabilities", metrics=("f1", "pr_auc")),
    tensor_answers=(("label", "class"), ("probabilities", "scores")),
)

TASKS = (
    TaskSpec(
        "image_classification",
        "shopfloor.tasks.image_classification.estimator:ImageClassifier",
        IMAGE_CLASSIFICATION,
    ),
)
