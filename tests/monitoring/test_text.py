"""Words per text and the share of words unseen at training."""

from __future__ import annotations

import math

import numpy as np

from shopfloor.monitoring import text as T


def test_words_and_counts() -> None:
    assert T.words("L/H bucket CYL leaking.") == ["l", "h", "bucket", "cyl", "leaking"]
    assert T.words(None) == []
    counts = T.word_counts(["replace hose", "", None, "a b c"])
    assert counts[0] == 2 and math.isnan(counts[1]) and math.isnan(counts[2]) and counts[3] == 3


def test_unseen_shares_against_a_held_out_vocabulary() -> None:
    shares = T.unseen_shares(["replace hose", "replace pump seal", "...", "new thing"], {"replace", "hose"})
    assert shares[0] == 0.0 and shares[1] == 2 / 3 and math.isnan(shares[2]) and shares[3] == 1.0
    texts = [f"replace hose {i % 7}" for i in range(100)]
    vocabulary, held = T.fit_vocabulary(texts)
    assert set(vocabulary) == {"replace", "hose", *(str(i) for i in range(7))}
    assert len(held) == 20 and np.nanmax(held) == 0.0
    assert T.derived_name("Text", T.UNSEEN) == "Text: unseen words"
