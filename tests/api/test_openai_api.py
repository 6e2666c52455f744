"""The OpenAI-compatible routes in process: the model list, and refusals in OpenAI's error shape (400
naming the param, 401, 403, 404 model_not_found) on /openai only, problem+json everywhere else. The
vectors themselves are checked with the real ``openai`` client in tests/e2e/test_openai_embeddings.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import Api, Homes, _fresh

MODEL = "all-MiniLM-L6-v2"
URL = "/openai/v1/embeddings"


@pytest.fixture()
def hub_api(tmp_path: Path, homes: Homes) -> Iterator[Api]:
    yield from homes.open_copy(_fresh, tmp_path / "home", hub_variant="torch")


def _post(api: Api, body: dict[str, Any], who: str = "consumer") -> Any:
    return api.client.post(URL, json=body, headers=api.headers(who))


def test_models_list_and_one(hub_api: Api) -> None:
    api, h = hub_api, hub_api.headers("consumer")
    listed = api.client.get("/openai/v1/models", headers=h).json()
    assert listed["object"] == "list" and MODEL in [m["id"] for m in listed["data"]]
    one = api.client.get(f"/openai/v1/models/{MODEL}", headers=h).json()
    assert one["object"] == "model" and one["owned_by"] == "shopfloor" and one["created"] > 0


def _error(answer: Any, status: int) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    body = answer.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}
    return dict(body["error"])


@pytest.mark.parametrize(
    ("body", "param", "words"),
    [
        ({"model": MODEL, "input": [101, 2023, 102]}, "input", "token ids"),
        ({"model": MODEL, "input": [[101, 2023], [101]]}, "input", "token ids"),
        ({"model": MODEL, "input": []}, "input", "non-empty list"),
        ({"model": MODEL, "input": ["ok", "  "]}, "input[1]", "blank"),
        ({"model": MODEL, "input": ["ok"] * 257}, "input", "at most 256"),
        ({"model": MODEL, "input": "ok", "dimensions": 128}, "dimensions", "384"),
        ({"model": MODEL, "input": "ok", "encoding_format": "int8"}, "encoding_format", ""),
        ({"input": "ok"}, "model", ""),
        ({"model": MODEL, "input": "ok", "temperature": 1}, "temperature", ""),
    ],
)
def test_invalid_requests_are_400_naming_the_param(
    hub_api: Api, body: dict[str, Any], param: str, words: str
) -> None:
    error = _error(_post(hub_api, body), 400)
    assert error["type"] == "invalid_request_error" and error["param"] == param
    assert words in error["message"]


def test_keys_roles_and_unknown_models(hub_api: Api) -> None:
    api = hub_api
    missing = _error(api.client.post(URL, json={"model": MODEL, "input": "x"}), 401)
    assert missing["code"] == "invalid_api_key"
    wrong = {"Authorization": "Bearer sfk_no_no"}
    bad = api.client.post(URL, json={"model": MODEL, "input": "x"}, headers=wrong)
    assert _error(bad, 401)["code"] == "invalid_api_key"
    refused = _error(_post(api, {"model": MODEL, "input": "x"}, who="metrics"), 403)
    assert refused["code"] == "permission_denied"
    unknown = _error(_post(api, {"model": "gpt-4o", "input": "x"}), 404)
    assert unknown["code"] == "model_not_found" and MODEL in unknown["message"]
    gone = _error(api.client.get("/openai/v1/models/gpt-4o", headers=api.headers("consumer")), 404)
    assert gone["code"] == "model_not_found"
    assert _error(api.client.get("/openai/v1/nothing", headers=api.headers("consumer")), 404)
    # the shape is the /openai routes' only: the rest of the API keeps problem+json
    elsewhere = api.client.get("/v1/hub/nope/embed", headers=api.headers("consumer"))
    assert elsewhere.headers["content-type"].startswith("application/problem+json")
