"""The README documents the two set-up commands and every setting, and its snippets keep the
conventions the snippet runner (tests/e2e/test_readme_snippets.py) relies on."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from readme_blocks import Expected, mismatch, parse
from shopfloor.settings import Settings

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_two_commands_come_first() -> None:
    head = README[: README.index("## Five minutes")]
    assert "make serve" in head and "make test" in head


def test_every_setting_is_documented() -> None:
    for name in Settings.model_fields:
        assert f"SHOPFLOOR_{name.upper()}" in README, name


# -- the snippet conventions (the snippets themselves run in tests/e2e/test_readme_snippets.py) --

BLOCKS = parse(README)
SETUP = ("make serve", "make test")


def _commands(code: str) -> list[str]:
    return [line.split("#")[0].strip() for line in code.splitlines() if line.split("#")[0].strip()]


def test_only_the_two_setup_commands_are_not_run() -> None:
    skipped = [b for b in BLOCKS if b.skip_reason is not None]
    assert skipped, "the set-up block is marked <!-- not run: REASON -->"
    for block in skipped:
        assert block.skip_reason and len(block.skip_reason) > 10, block.id
        assert all(c.startswith(SETUP) for c in _commands(block.code)), (block.id, block.code)
    assert sum(1 for b in BLOCKS if b.skip_reason is None) >= 15


def test_stated_outputs_live_in_output_blocks() -> None:
    # a comment that shows a value ("# {'series': ...}", "# [..]", "# 0.87") would go unchecked
    for block in BLOCKS:
        for line in block.code.splitlines():
            comment = line.partition("#")[2].strip()
            assert comment[:1] not in {"{", "[", "'", '"'} and not comment[:1].isdigit(), (block.id, line)


def test_no_snippet_assumes_a_shared_folder() -> None:
    assert "../shared" not in "".join(b.code for b in BLOCKS)
    assert all("shared/data" not in line or "SHOPFLOOR_DATA_DIR" in line for line in README.splitlines())


def test_every_language_block_is_known() -> None:
    # a ```json or ```text block would be silently skipped: response shapes go in output blocks
    languages = set(re.findall(r"^```(\w+)", README, re.M))
    assert languages <= {"bash", "sh", "python", "output"}, languages


def test_output_matching() -> None:
    stated = Expected("version 2 ... 0.90\n[...] done", relative=0.05)
    assert mismatch(stated, "version 2 seeds 5 f1 0.92\n['a', 'b'] done") is None
    assert "stated 0.90" in (mismatch(stated, "version 2 f1 0.80\n[] done") or "")
    assert mismatch(stated, "version 3 f1 0.90\n[] done") is not None
    assert mismatch(Expected("ds_... 10 rows"), "ds_3fa 10 rows") is None
    assert mismatch(Expected("ds_... 10 rows"), "ds_3fa 11 rows") is not None
    assert mismatch(Expected("ids 81"), "ids 810") is not None


def test_an_output_block_must_follow_code() -> None:
    with pytest.raises(ValueError, match="must follow a code block"):
        parse("text\n\n```output\n1\n```\n")
    with pytest.raises(ValueError, match="needs a reason"):
        parse("<!-- not run: -->\n```bash\nmake serve\n```\n")


# README prose figure -> the line of docs/benchmarks.md it comes from (rounded there to more digits)
BENCHMARK_FIGURES = [
    ("RMSE 12.07 against the capped remaining life", "| RMSE vs RUL capped at 125 | 12.07 |"),
    ("0.987 mean hold-out accuracy over 3 seeds", "| mean | 0.9870 (std 0.0057) | | 361 |"),
    ("mean image AUROC is 0.91", "| **mean** | | **0.9104** |"),
    (
        "reaches MASE 1.144 against 1.344 for seasonal naive and 1.179 for AutoETS alone",
        "| chosen (`ensemble`) | 1.1436 |",
    ),
    ("1.344 for seasonal naive", "| seasonal naive (last week) | 1.3440 |"),
    ("1.179 for AutoETS alone", "| AutoETS alone | 1.1788 |"),
    ("cover 0.767 of the held-out weeks (95 %: 0.938)", "held-out weeks: 80 %: 0.767, 95 %: 0.938"),
    ("backtest and refit take about 75 s", "Training (backtest and refit) 75 s"),
    ("macro-F1 of 0.89 against 0.87", "| 0.8924 |"),
    ("0.87 for a TF-IDF + logistic-regression baseline", "| 0.8675 |"),
    ("zero-shot 0.42 accuracy against a majority share of 0.33", "| - | 0.4181 |"),
]


@pytest.mark.parametrize(("readme", "benchmarks"), BENCHMARK_FIGURES, ids=lambda x: x[:30])
def test_benchmark_figures_agree_with_docs(readme: str, benchmarks: str) -> None:
    docs = (Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md").read_text()
    assert readme in " ".join(README.split()), readme
    assert benchmarks in docs, benchmarks
