"""OpenAI-compatible embeddings over the hub encoders: what ``/openai/v1/embeddings`` and
``/openai/v1/models`` answer, in the shapes of OpenAI's API.

A translation layer: the texts are embedded by :func:`shopfloor.hub.service.embed`, the service that
answers ``/v1/hub/{model}/embed``, so both give the same vectors. ``input`` is one text or a list of
texts (token-id arrays are refused: the server tokenises with the encoder's own tokenizer);
``encoding_format`` ``base64`` packs each vector as little-endian float32, as OpenAI does; ``usage``
counts the tokens the encoder read.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import numpy as np

from shopfloor.errors import InvalidInput
from shopfloor.hub import catalog
from shopfloor.hub import service as hub
from shopfloor.hub.checks import MAX_TEXTS

#: Who the models belong to, as OpenAI's model objects say.
OWNER = "shopfloor"


def embeddings(
    raw_input: Any,
    *,
    model: str,
    encoding_format: str,
    dimensions: int | None,
    variant: str,
    hub_dir: Path | None,
    cache_dir: Path,
) -> dict[str, Any]:
    """An OpenAI ``CreateEmbeddingResponse`` for ``raw_input`` embedded by hub model ``model``.

    Raises InvalidInput naming ``input`` (or ``input[i]``) for anything but a non-empty text or list
    of non-empty texts, naming ``dimensions`` when it is not the model's; NotFound for an unknown model.
    """
    texts = texts_of(raw_input)
    entry = catalog.find_model(model, hub_dir)
    if dimensions is not None and dimensions != entry.dimension:
        raise InvalidInput(
            f"model {model!r} gives {entry.dimension}-dimensional embeddings and cannot shorten them: "
            f"leave 'dimensions' out or send {entry.dimension}",
            errors=[{"loc": ["body", "dimensions"], "msg": f"must be {entry.dimension}"}],
        )
    result = hub.embed(texts, model=model, variant=variant, hub_dir=hub_dir, cache_dir=cache_dir)
    data = [
        {"object": "embedding", "index": i, "embedding": _encoded(vector, encoding_format)}
        for i, vector in enumerate(result["embeddings"])
    ]
    tokens = int(result["tokens"])
    return {
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }


def texts_of(raw_input: Any) -> list[str]:
    """The texts of an OpenAI ``input``: one string, or a list of 1 to ``MAX_TEXTS`` strings."""
    if isinstance(raw_input, str):
        raw_input = [raw_input]
    if not isinstance(raw_input, list) or not raw_input:
        raise _invalid("'input' must be a text or a non-empty list of texts", ["body", "input"])
    if all(isinstance(x, int) and not isinstance(x, bool) for x in raw_input) or all(
        isinstance(x, list) for x in raw_input
    ):
        raise _invalid(
            "'input' holds token ids: this server tokenises with each model's own tokenizer, so send "
            "the texts themselves (a string or a list of strings)",
            ["body", "input"],
        )
    if len(raw_input) > MAX_TEXTS:
        raise _invalid(f"at most {MAX_TEXTS} texts per request, got {len(raw_input)}", ["body", "input"])
    for i, text in enumerate(raw_input):
        if not isinstance(text, str) or not text.strip():
            raise _invalid(f"input[{i}] is empty, blank or not a string", ["body", "input", i])
    return list(raw_input)


def list_models(hub_dir: Path | None) -> dict[str, Any]:
    """The text encoders as an OpenAI model list."""
    entries = [catalog.find_model(m["name"], hub_dir) for m in catalog.list_models(hub_dir)]
    return {"object": "list", "data": [_model(e) for e in entries if e.modality == "text"]}


def get_model(name: str, hub_dir: Path | None) -> dict[str, Any]:
    """One text encoder as an OpenAI model object; NotFound naming the models that exist."""
    return _model(catalog.find_model(name, hub_dir))


def _model(entry: catalog.ModelEntry) -> dict[str, Any]:
    # OpenAI's "created" is when the model was made available: here, when its files were put in place
    created = int((entry.path / "config.json").stat().st_mtime)
    return {"id": entry.name, "object": "model", "created": created, "owned_by": OWNER}


def _encoded(vector: list[float], encoding_format: str) -> list[float] | str:
    if encoding_format == "base64":
        return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode("ascii")
    return vector


def _invalid(message: str, loc: list[Any]) -> InvalidInput:
    return InvalidInput(message, errors=[{"loc": loc, "msg": message}])
