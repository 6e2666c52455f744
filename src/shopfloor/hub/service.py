"""The pretrained-model services behind the API: embeddings and zero-shot labelling of short texts.

Zero-shot embeds each label as a short phrase (``template``) and ranks labels by cosine similarity to
the text; scores are a softmax of those similarities at ``temperature``, so they sum to one per text.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from shopfloor.hub.catalog import BUILTIN_NAME
from shopfloor.hub.checks import check_labels, check_temperature, check_template, check_texts, fill
from shopfloor.hub.encoders import get_encoder

# bench/text_embed.py, excavator MajorSystem (15 classes): the bare label 0.430 accuracy against 0.429 for
# "maintenance of the {label}"; a tie, so the simpler phrase is the default
DEFAULT_TEMPLATE = "{label}"
DEFAULT_TEMPERATURE = 0.05


def embed(texts: list[str], *, model: str = BUILTIN_NAME, variant: str = "torch", hub_dir: Path | None,
          cache_dir: Path, batch_size: int = 64) -> dict[str, Any]:
    """Embeddings of ``texts``: ``{"model", "variant", "dimension", "embeddings": [[float]], "tokens",
    "warnings"}``; ``tokens`` is how many tokens the model read of all texts together.

    Raises ``InvalidInput`` (bad texts or variant) or ``NotFound`` (unknown model). Texts over the
    token limit are cut and reported in ``warnings``, not refused.
    """
    check_texts(texts)
    encoder = get_encoder(model, variant, hub_dir, cache_dir)
    vectors, truncated, tokens = encoder.embed_counted(texts, batch_size)
    return {"model": model, "variant": variant, "dimension": encoder.dimension,
            "embeddings": vectors.tolist(), "tokens": sum(tokens),
            "warnings": _truncation_warnings(truncated, encoder.max_tokens)}


def zero_shot(texts: list[str], labels: list[str], *, model: str = BUILTIN_NAME, variant: str = "torch",
              hub_dir: Path | None, cache_dir: Path, template: str = DEFAULT_TEMPLATE,
              temperature: float = DEFAULT_TEMPERATURE) -> dict[str, Any]:
    """Labels ranked per text: ``{"model", "variant", "template", "results": [{"index", "ranking": [{"label",
    "score", "cosine"}]}], "warnings"}``; ranking is best first, scores sum to 1 for each text.
    """
    check_texts(texts)
    check_labels(labels)
    check_template(template)
    check_temperature(temperature)
    encoder = get_encoder(model, variant, hub_dir, cache_dir)
    text_vectors, truncated = encoder.embed_checked(texts)
    label_vectors = encoder.embed([fill(template, label.strip()) for label in labels])
    cosines = text_vectors @ label_vectors.T
    scores = _softmax(cosines / temperature)
    results = []
    for i in range(len(texts)):
        order = np.argsort(-cosines[i], kind="stable")
        ranking = [{"label": labels[j], "score": float(scores[i, j]), "cosine": float(cosines[i, j])}
                   for j in order]
        results.append({"index": i, "ranking": ranking})
    return {"model": model, "variant": variant, "template": template, "results": results,
            "warnings": _truncation_warnings(truncated, encoder.max_tokens)}


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def _truncation_warnings(indices: list[int], limit: int) -> list[dict[str, Any]]:
    return [{"code": "text-truncated", "loc": ["body", "texts", i],
             "message": f"text {i} is longer than {limit} tokens; the rest was ignored"} for i in indices]
