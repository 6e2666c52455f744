"""Plain measures of free text that a drift check can compare like numeric inputs.

Per text: its number of words, and the share of its words that the training texts never used
(new part names, a new site's abbreviations, another language). The vocabulary is built from
80 % of the training texts and the reference shares are measured on the other 20 %, so both
sides of a comparison meet the vocabulary as new texts do.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

#: Words kept in a text column's vocabulary (the most frequent ones).
VOCABULARY_WORDS = 20_000
#: Share of the training texts the vocabulary is built from; the rest gives the reference shares.
VOCABULARY_SHARE = 0.8
WORDS = "words"
UNSEEN = "unseen words"
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def words(text: Any) -> list[str]:
    """The lower-case words of a text (letters and digits; punctuation splits)."""
    return _WORD.findall(text.lower()) if isinstance(text, str) else []


def derived_name(column: str, measure: str) -> str:
    """The name a text measure is reported under, e.g. ``"OriginalShorttext: unseen words"``."""
    return f"{column}: {measure}"


def word_counts(texts: Iterable[Any]) -> np.ndarray:
    """Words per text; NaN where there is no text."""
    return np.array([len(words(t)) if isinstance(t, str) and t.strip() else np.nan for t in texts])


def unseen_shares(texts: Iterable[Any], vocabulary: set[str]) -> np.ndarray:
    """Per text, the share of its words outside ``vocabulary``; NaN for a text without words."""
    out = []
    for text in texts:
        found = words(text)
        out.append(sum(w not in vocabulary for w in found) / len(found) if found else np.nan)
    return np.array(out, dtype=float)


def fit_vocabulary(texts: Sequence[Any], seed: int = 0) -> tuple[list[str], np.ndarray]:
    """The vocabulary of a random :data:`VOCABULARY_SHARE` of ``texts`` and the unseen-word shares
    of the other texts (the reference the window's shares are compared with)."""
    order = np.random.default_rng(seed).permutation(len(texts))
    cut = max(1, int(round(VOCABULARY_SHARE * len(texts))))
    counts: Counter[str] = Counter()
    for i in order[:cut]:
        counts.update(words(texts[i]))
    vocabulary = [w for w, _ in counts.most_common(VOCABULARY_WORDS)]
    held = [texts[i] for i in order[cut:]]
    return vocabulary, unseen_shares(held, set(vocabulary))
