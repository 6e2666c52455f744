"""Text classification of free-text columns (work orders, reports), single- or multi-label.

The declaration below is what the layers above know of the family; it imports nothing heavy.
"""

from shopfloor.tasks.base import Capabilities, Outcomes, TaskSpec
from shopfloor.tasks.text.options import TextOptions

TEXT_CLASSIFICATION = Capabilities(
    options=TextOptions,
    inputs="text",
    target="given",
    prediction="classification",
    takes_options=True,
    explain=("occlusion", "shap"),  # "shap" is the protocol's default name: occlusion here
    batch=True,
    plots=("confusion", "stability", "candidates"),
    compare=True,
    # the true class: single-label models (a multi-label answer has "labels", and no "label")
    outcomes=Outcomes("label", "label", scores="probabilities", metrics=("f1", "pr_auc")),
    # a multi-label model answers "labels" where a single-label one answers "label"
    tensor_answers=(("label", "class"), ("labels", "classes"), ("probabilities", "scores")),
)

TASKS = (
    TaskSpec("text_classification", "shopfloor.tasks.text.estimator:TextClassifier", TEXT_CLASSIFICATION),
)
