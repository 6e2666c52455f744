"""Folds that cannot leak: every window of a recording, and every recording of a group, stays on one
side of each split."""

from __future__ import annotations

from typing import Any

import numpy as np


def grouped_folds(
    groups: list[str], labels: np.ndarray, folds: int, seed: int
) -> tuple[list[tuple[np.ndarray, np.ndarray]], dict[str, Any]]:
    """Recording-level folds (train and test recording indices) by group, stratified by class when
    every class has enough groups; and the split's description for the report."""
    from sklearn.model_selection import GroupKFold, StratifiedGroupKFold

    codes = np.unique(np.asarray(groups), return_inverse=True)[1]
    n_groups = int(codes.max()) + 1
    if n_groups < 2:
        return [], {"method": "none", "groups": n_groups}
    k = min(folds, n_groups)
    groups_per_class = [len(set(codes[labels == c])) for c in np.unique(labels)]
    stratified = min(groups_per_class) >= k
    splitter: Any = (
        StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
        if stratified
        else GroupKFold(n_splits=k)
    )
    index = np.arange(len(groups))
    pairs = [(tr, te) for tr, te in splitter.split(index, labels, codes)]
    for tr, te in pairs:  # the promise the report makes: no group on both sides
        assert not set(codes[tr]) & set(codes[te])
    return pairs, {
        "method": f"{'stratified ' if stratified else ''}group {k}-fold",
        "folds": k,
        "groups": n_groups,
        "test_groups": [sorted({groups[i] for i in te}) for _, te in pairs],
    }


def window_rows(recordings: np.ndarray, rec_of_window: np.ndarray) -> np.ndarray:
    """The windows belonging to the given recordings."""
    return np.flatnonzero(np.isin(rec_of_window, recordings))
