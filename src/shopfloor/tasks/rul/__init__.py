"""Remaining useful life from sensor histories (asset, time, sensors): the target is derived.

The declaration below is what the layers above know of the family; it imports nothing heavy.
"""

from shopfloor.tasks.base import Capabilities, Outcomes, TaskSpec
from shopfloor.tasks.rul.options import RulOptions

RUL = Capabilities(
    options=RulOptions,
    inputs="series",
    target="derived",
    prediction="rul",
    takes_options=True,
    explain=("shap",),
    batch=True,
    plots=("stability", "candidates"),
    min_assets=6,
    compare=True,
    outcomes=Outcomes("value", "rul", metrics=("rmse", "mae")),  # the remaining life, once it has run out
)

TASKS = (TaskSpec("rul", "shopfloor.tasks.rul.estimator:RulEstimator", RUL),)
