"""Per-record feature contributions: exact SHAP for linear and tree models, LIME weights.

Models work on an expanded *model matrix* (one-hot columns, constructed features);
:func:`attribute_to_inputs` folds contributions back onto the user's input columns so
that the sum is preserved. shap and lime are imported only inside the functions here.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

#: Perturbed rows LIME scores per explained record (lime's own default).
LIME_SAMPLES = 1000


def linear_contributions(
    coef: np.ndarray, intercept: np.ndarray, Z: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact SHAP for a linear model on standardised inputs ``Z`` (training mean 0).

    ``coef`` and ``intercept`` are per row (``(n, m)`` and ``(n,)``): contribution
    ``coef * z``; the base value is the intercept (the output at the training mean).
    Returns ``(base, contributions, output)``.
    """
    contrib = Z * coef
    return intercept, contrib, intercept + contrib.sum(axis=1)


def tree_shap_contributions(
    estimator: Any, X: np.ndarray, class_columns: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact TreeSHAP (shap.TreeExplainer) for an sklearn tree ensemble, in its output space.

    ``class_columns[i]`` selects the class (column of ``predict_proba``) for row ``i``;
    ``None`` for regression. Returns ``(base, contributions, output)``; additivity is
    checked here (to 1e-6) rather than by shap, whose check raises on tiny float noise.
    """
    import shap

    explainer = shap.TreeExplainer(estimator)
    values = np.asarray(explainer.shap_values(X, check_additivity=False), dtype=float)
    base = np.atleast_1d(np.asarray(explainer.expected_value, dtype=float))
    rows = np.arange(len(X))
    if class_columns is not None:
        contrib = values[rows, :, class_columns] if values.ndim == 3 else values
        b = base[class_columns] if base.size > 1 else np.full(len(X), base[0])
        output = np.asarray(estimator.predict_proba(X), dtype=float)[rows, class_columns]
    else:
        contrib, b = values, np.full(len(X), base[0])
        output = np.asarray(estimator.predict(X), dtype=float)
    gap = np.abs(b + contrib.sum(axis=1) - output).max(initial=0.0)
    if gap > 1e-6:
        logger.warning("TreeSHAP additivity gap %.2e", gap)
    return b, contrib, output


def attribute_to_inputs(
    contrib: np.ndarray, columns: Sequence[Mapping[str, Any]], inputs: Sequence[str]
) -> list[tuple[dict[str, float], dict[str, float]]]:
    """Fold model-matrix contributions back onto input columns, per row.

    ``columns[k]`` describes model column ``k`` (``{"name", "sources", "kind"}``). One-hot
    columns add to their input column; a constructed feature is split equally between
    its sources and also reported on its own. Every input column appears (0.0 if the
    model does not use it). Returns ``[(inputs {name: value}, constructed {name: value})]``.
    """
    n_in = len(inputs)
    pos = {name: i for i, name in enumerate(inputs)}
    share = np.zeros((len(columns), n_in))
    constructed = [k for k, c in enumerate(columns) if c.get("kind") == "constructed"]
    for k, col in enumerate(columns):
        sources = [pos[s] for s in col["sources"]]
        for s in sources:
            share[k, s] += 1.0 / len(sources)
    per_input = contrib @ share
    out = []
    for i in range(contrib.shape[0]):
        by_input = {name: float(per_input[i, j]) for j, name in enumerate(inputs)}
        by_cons = {str(columns[k]["name"]): float(contrib[i, k]) for k in constructed}
        out.append((by_input, by_cons))
    return out


def lime_weights(
    predict_fn: Callable[[np.ndarray], np.ndarray],
    background: np.ndarray,
    rows: np.ndarray,
    feature_names: Sequence[str],
    *,
    categorical_features: Sequence[int] = (),
    categorical_names: Mapping[int, Sequence[str]] | None = None,
    mode: str = "classification",
    class_index: Sequence[int] | None = None,
    seed: int = 0,
    num_samples: int = LIME_SAMPLES,
) -> list[dict[str, Any]]:
    """LIME local linear weights, one dict per row of the input matrix ``rows``.

    ``predict_fn`` maps an input matrix to probabilities ``(n, k)`` (classification) or
    values ``(n,)``; ``background`` is a sample of training rows (its statistics drive
    LIME's perturbations). Each result: ``{"weights": {feature: w}, "intercept",
    "local_prediction", "score"}``; the weights are LIME's (on discretised features),
    not additive to the model output.
    """
    from lime.lime_tabular import LimeTabularExplainer

    explainer = LimeTabularExplainer(
        background,
        mode=mode,
        feature_names=list(feature_names),
        categorical_features=list(categorical_features),
        categorical_names=dict(categorical_names or {}),
        discretize_continuous=True,
        random_state=seed,
    )
    out = []
    for i, row in enumerate(rows):
        label = int(class_index[i]) if class_index is not None else 1
        with warnings.catch_warnings():
            # lime's discretiser can warn on constant background columns; the weights stay valid
            warnings.simplefilter("ignore", RuntimeWarning)
            exp = explainer.explain_instance(
                row,
                predict_fn,
                num_features=len(feature_names),
                num_samples=num_samples,
                **({"labels": (label,)} if mode == "classification" else {}),
            )
        key = label if mode == "classification" else 0
        if mode == "classification":
            pairs, intercept = exp.as_map()[key], exp.intercept[key]
            local = exp.local_pred[0] if exp.local_pred is not None else float("nan")
        else:
            pairs, intercept = exp.as_map()[1], exp.intercept[1] if 1 in exp.intercept else exp.intercept[0]
            local = exp.local_pred[0] if exp.local_pred is not None else float("nan")
        weights = {name: 0.0 for name in feature_names}
        for j, w in pairs:
            weights[feature_names[j]] = float(w)
        out.append(
            {
                "weights": weights,
                "intercept": float(intercept),
                "local_prediction": float(local),
                "score": float(exp.score),
            }
        )
    return out
