"""Throughput, agreement and zero-shot accuracy of the pretrained text model (all-MiniLM-L6-v2).

Encodes 1,000 short work-order texts from ../shared/data/maintenance_text/excavators/excavators-cleaned.csv
(``SHOPFLOOR_DATA_DIR`` overrides the folder) with the torch, ONNX fp32 and ONNX int8 variants at batch
1 and 64 (two threads), measures each ONNX variant's mean cosine to torch, then labels every row that
has a ``MajorSystem`` (classes with at least 20 examples) zero-shot from the class names alone, with the
bare label and with a prompt template. Writes section ``text_embed`` of docs/benchmarks.md and ends with
the headline figures.

    .venv/bin/python bench/text_embed.py
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from _common import REPO, machine_info, write_section

from shopfloor.hub import service
from shopfloor.hub.catalog import BUILTIN_NAME
from shopfloor.hub.checks import MAX_TEXTS
from shopfloor.hub.encoders import Encoder, get_encoder

VARIANTS = ("torch", "onnx", "int8")
TEMPLATES = ("{label}", "maintenance of the {label}")
MIN_CLASS = 20
N_SENTENCES = 1000


def throughput(encoder: Encoder, texts: list[str], batch: int) -> float:
    """Sentences per second over all ``texts`` in calls of ``batch`` (after one warm-up call)."""
    encoder.embed(texts[:batch], batch_size=batch)
    start = time.perf_counter()
    for i in range(0, len(texts), batch):
        encoder.embed(texts[i:i + batch], batch_size=batch)
    return len(texts) / (time.perf_counter() - start)


def zero_shot_accuracy(texts: list[str], truth: list[str], template: str, cache: Path) -> float:
    """Share of texts whose top-ranked class (named by its label phrase) is the true one."""
    classes = sorted(set(truth))
    phrases = [c.replace("_", " and ") for c in classes]
    to_class = dict(zip(phrases, classes, strict=True))
    hits = 0
    for i in range(0, len(texts), MAX_TEXTS):
        out = service.zero_shot(texts[i:i + MAX_TEXTS], phrases, hub_dir=None, cache_dir=cache,
                                template=template)
        hits += sum(to_class[r["ranking"][0]["label"]] == truth[i + r["index"]] for r in out["results"])
    return hits / len(texts)


def main() -> None:
    torch.set_num_threads(2)
    data = Path(os.environ.get("SHOPFLOOR_DATA_DIR", REPO.parent / "shared" / "data"))
    frame = pd.read_csv(data / "maintenance_text" / "excavators" / "excavators-cleaned.csv")
    texts = frame["OriginalShorttext"].dropna().astype(str).str.strip()
    sample = texts[texts != ""].drop_duplicates().sample(N_SENTENCES, random_state=0).tolist()
    speed: dict[tuple[str, int], float] = {}
    load_s: dict[str, float] = {}
    vectors: dict[str, np.ndarray] = {}
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp)
        for variant in VARIANTS:
            started = time.perf_counter()
            encoder = get_encoder(BUILTIN_NAME, variant, None, cache)
            load_s[variant] = time.perf_counter() - started
            for batch in (1, 64):
                speed[variant, batch] = throughput(encoder, sample, batch)
            vectors[variant] = encoder.embed(sample)
        cosine = {v: float(np.mean(np.sum(vectors[v] * vectors["torch"], axis=1))) for v in ("onnx", "int8")}
        labelled = frame.dropna(subset=["MajorSystem", "OriginalShorttext"])
        counts = labelled["MajorSystem"].value_counts()
        labelled = labelled[labelled["MajorSystem"].isin(counts[counts >= MIN_CLASS].index)]
        zs_texts = labelled["OriginalShorttext"].astype(str).tolist()
        truth = labelled["MajorSystem"].astype(str).tolist()
        accuracy = {t: zero_shot_accuracy(zs_texts, truth, t, cache) for t in TEMPLATES}
    majority = float(labelled["MajorSystem"].value_counts(normalize=True).iloc[0])
    speedup = speed["int8", 64] / speed["torch", 64]
    info = machine_info()
    rows = [f"| {v} | {speed[v, 1]:.0f} | {speed[v, 64]:.0f} | {speed[v, 64] / speed['torch', 64]:.2f}x | "
            f"{cosine.get(v, 1.0):.4f} | {load_s[v]:.1f} |" for v in VARIANTS]
    lines = [
        "## Pretrained text embeddings (`bench/text_embed.py`)",
        "",
        f"Command: `.venv/bin/python bench/text_embed.py`; {info['date']}, {info['nproc']} cores "
        f"({info['cpu']}), load average {info['loadavg']}; torch and ONNX Runtime on 2 threads.",
        f"Model `{BUILTIN_NAME}` (384-d); {N_SENTENCES:,} distinct `OriginalShorttext` values from the "
        "excavator work orders (seeded sample); int8 is ONNX Runtime dynamic quantisation, per channel.",
        "",
        "| variant | sentences/s, batch 1 | sentences/s, batch 64 | vs torch (b64) | mean cosine to torch "
        "| first load incl. export (s) |",
        "|---|---|---|---|---|---|",
        *rows,
        "",
        f"Zero-shot `MajorSystem` from class names only (`_` read as \"and\"): {len(truth):,} labelled "
        f"rows in {len(set(truth))} classes with at least {MIN_CLASS} examples; "
        f"majority-class share {majority:.3f}.",
        "",
        "| label phrase | accuracy |",
        "|---|---|",
        *[f"| `{t}` | {accuracy[t]:.3f} |" for t in TEMPLATES],
    ]
    write_section("text_embed", "\n".join(lines))
    print("\n".join(lines))
    for template in TEMPLATES:
        print(f"zero_shot_accuracy[{template}]: {accuracy[template]:.3f}")
    print(f"majority_share: {majority:.3f}")
    print(f"speedup_int8_b64: {speedup:.2f}")
    print(f"cosine_int8: {cosine['int8']:.4f}")


if __name__ == "__main__":
    main()
