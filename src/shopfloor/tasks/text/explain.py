"""Which words moved a text classifier's score: occlusion, with character offsets for highlighting.

Each word (a run of non-blank characters with surrounding punctuation trimmed) is removed in turn
and the text scored again; the word's weight is how much the explained class's probability drops
without it (positive: the word argued for the class). Offsets index the original text, so a UI
can highlight ``text[start:end]``. The model is scored once per word, in one batch per text.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np

_CHUNK = re.compile(r"\S+")
_EDGE = ".,;:!?()[]{}\"'`*"
#: Words beyond this many in one text are not occluded (their weight is not computed).
MAX_WORDS = 64


def word_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of each word: non-blank runs without leading or trailing punctuation."""
    spans = []
    for match in _CHUNK.finditer(text):
        start, end = match.span()
        while start < end and text[start] in _EDGE:
            start += 1
        while end > start and text[end - 1] in _EDGE:
            end -= 1
        if start < end:
            spans.append((start, end))
    return spans


def occlusion(
    texts: list[str], classes: list[int], score: Callable[[list[str]], np.ndarray]
) -> list[dict[str, Any]]:
    """Per text: ``{"output", "base_value", "contributions": [{"token", "start", "end", "weight"}]}``.

    ``classes[i]`` is the column of ``score``'s probability matrix to explain for ``texts[i]``;
    ``base_value`` is that probability for an empty text. Contributions are sorted by absolute
    weight, largest first.
    """
    variants: list[str] = []
    layout: list[tuple[int, list[tuple[int, int]]]] = []
    for text in texts:
        spans = word_spans(text)[:MAX_WORDS]
        layout.append((len(variants), spans))
        variants.append(text)
        variants.extend(text[:s] + " " + text[e:] for s, e in spans)
    variants.append("")
    proba = score(variants)
    base = proba[-1]
    out = []
    for text, cls, (first, spans) in zip(texts, classes, layout, strict=True):
        full = float(proba[first, cls])
        words: list[dict[str, Any]] = [
            {"token": text[s:e], "start": s, "end": e, "weight": full - float(proba[first + 1 + k, cls])}
            for k, (s, e) in enumerate(spans)
        ]
        words.sort(key=lambda w: -abs(w["weight"]))
        out.append({"output": full, "base_value": float(base[cls]), "contributions": words})
    return out
