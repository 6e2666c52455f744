"""The real ``openai`` client against the real server: ``embeddings.create`` gives the vectors
``/v1/hub/{model}/embed`` gives, for one text and a list, as floats and as base64 (the client's own
decoding), with usage counted by the encoder's tokenizer; ``models.list`` and ``models.retrieve``;
errors raised as the client's own exceptions."""

from __future__ import annotations

import base64
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import openai
import pytest
from tokenizers import Tokenizer

from shopfloor.hub import catalog

sys.path.insert(0, str(Path(__file__).parent))
from server import Server  # noqa: E402

pytestmark = pytest.mark.e2e

MODEL = "all-MiniLM-L6-v2"
TEXTS = ["replace hyd pump seal", "hydraulic pump seal leaking", "engine will not start"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # the torch variant: the same encoder for both routes without an ONNX export in the test's time
    found = Server(tmp_path_factory.mktemp("openai") / "home", SHOPFLOOR_HUB_VARIANT="torch").start()
    try:
        yield found
    finally:
        found.stop()


@pytest.fixture(scope="module")
def key(server: Server) -> str:
    found = server.admin_key()
    assert found
    return found


@pytest.fixture(scope="module")
def client(server: Server, key: str) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=server.url + "/openai/v1", api_key=key, max_retries=0) as found:
        yield found


def _hub(server: Server, key: str, texts: list[str]) -> list[list[float]]:
    answer = httpx.post(
        f"{server.url}/v1/hub/{MODEL}/embed",
        json={"texts": texts},
        headers={"Authorization": f"Bearer {key}"},
        timeout=120,
    )
    assert answer.status_code == 200, answer.text
    return list(answer.json()["embeddings"])


def _tokens(texts: list[str]) -> int:
    tokenizer = Tokenizer.from_file(str(catalog.find_model(MODEL, None).path / "tokenizer.json"))
    tokenizer.no_padding()
    return sum(len(e.ids) for e in tokenizer.encode_batch(texts))


@pytest.mark.parametrize("encoding_format", ["float", "base64"])
def test_embeddings_create_matches_the_hub(
    server: Server, key: str, client: openai.OpenAI, encoding_format: str
) -> None:
    expected = _hub(server, key, TEXTS)
    made = client.embeddings.create(model=MODEL, input=TEXTS, encoding_format=encoding_format)  # type: ignore[arg-type]
    assert made.model == MODEL and [d.index for d in made.data] == [0, 1, 2]
    assert _vectors(made) == expected
    assert made.usage.prompt_tokens == made.usage.total_tokens == _tokens(TEXTS)
    one = client.embeddings.create(model=MODEL, input=TEXTS[1], encoding_format=encoding_format)  # type: ignore[arg-type]
    assert _vectors(one) == _hub(server, key, [TEXTS[1]])
    assert np.isclose(np.linalg.norm(_vectors(one)[0]), 1.0, atol=1e-5)


def _vectors(made: Any) -> list[list[float]]:
    """The vectors of an answer; asked for as base64 the client hands the text on as it came, and
    it is little-endian float32 (as OpenAI sends it): the same numbers exactly."""
    return [
        np.frombuffer(base64.b64decode(d.embedding), dtype="<f4").tolist() if isinstance(d.embedding, str)
        else d.embedding
        for d in made.data
    ]


def test_the_clients_default_and_dimensions(server: Server, key: str, client: openai.OpenAI) -> None:
    # without encoding_format the client asks for base64 and decodes it itself; dimensions equal to
    # the model's are accepted
    made = client.embeddings.create(model=MODEL, input=TEXTS[:2], dimensions=384)
    assert all(isinstance(d.embedding, list) for d in made.data)
    assert [d.embedding for d in made.data] == _hub(server, key, TEXTS[:2])


def test_models_list_and_retrieve(client: openai.OpenAI) -> None:
    models = {m.id: m for m in client.models.list()}
    assert MODEL in models and models[MODEL].owned_by == "shopfloor"
    assert client.models.retrieve(MODEL).id == MODEL


def test_errors_are_the_clients_own_exceptions(server: Server, client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        client.embeddings.create(model=MODEL, input=[[101, 2023, 102]])
    assert "token ids" in refused.value.message and refused.value.param == "input"  # type: ignore[attr-defined]
    with pytest.raises(openai.NotFoundError) as unknown:
        client.embeddings.create(model="text-embedding-3-small", input="x")
    assert unknown.value.code == "model_not_found" and MODEL in unknown.value.message
    with (
        openai.OpenAI(base_url=server.url + "/openai/v1", api_key="sfk_nope_nope", max_retries=0) as stranger,
        pytest.raises(openai.AuthenticationError),
    ):
        stranger.models.list()
