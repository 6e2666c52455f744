"""Demand forecasting of many series (series id, period, value) with calibrated intervals.

The declaration below is what the layers above know of the family; it imports nothing heavy.
"""

from shopfloor.tasks.base import Capabilities, Outcomes, TaskSpec
from shopfloor.tasks.forecast.options import ForecastOptions

FORECAST = Capabilities(
    options=ForecastOptions,
    inputs="table",
    target="derived",
    prediction="forecast",
    takes_options=True,
    explain=("shap",),  # which model makes each series' forecast, under the protocol's default name
    batch_instead="POST /v1/models/{name}/forecast (the next periods of each series)",
    forecast=True,
    plots=("candidates", "horizon"),
    validation="rolling-origin backtest",
    compare=True,
    outcomes=Outcomes("value", "forecast", metrics=("mase", "mae")),  # the real demand, step by step
    tensor_answers=(("forecast", "sequence"),),
)

TASKS = (TaskSpec("forecast", "shopfloor.tasks.forecast.estimator:Forecaster", FORECAST),)
