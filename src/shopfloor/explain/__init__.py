"""Explanations: per-record feature contributions (SHAP, LIME) and surrogate rules.

Heavy libraries (shap, lime, sklearn) are imported inside the functions that use them.
"""

from shopfloor.explain.contributions import attribute_to_inputs, lime_weights, linear_contributions
from shopfloor.explain.rules import surrogate_rules

__all__ = ["attribute_to_inputs", "lime_weights", "linear_contributions", "surrogate_rules"]
