"""Pickles are recognised by content (protocols 2 to 5) or by a pickle/joblib file name."""

from __future__ import annotations

import pickle

from shopfloor.security.pickles import looks_like_pickle


def test_pickles_are_recognised_by_content_and_name() -> None:
    for protocol in range(2, 6):
        assert looks_like_pickle(pickle.dumps({"a": 1}, protocol=protocol), "model.bin")
    assert looks_like_pickle(b"tree\n", "model.joblib") and looks_like_pickle(b"x", "M.PKL")
    assert not looks_like_pickle(b"tree\nversion=v4\n", "model.txt")
    assert not looks_like_pickle(b"", None)
