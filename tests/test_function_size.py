"""No function in src/shopfloor is longer than 80 lines: a longer one is split into named steps
(validate, split, search, refit, report) so that it reads as the sequence of what it does."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "shopfloor"
MAX_LINES = 80


def long_functions(root: Path, limit: int = MAX_LINES) -> list[str]:
    """``path:line name (n lines)`` for every function or method under ``root`` longer than
    ``limit`` lines, counted from its ``def`` to its last line (decorators excluded)."""
    found = []
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                assert node.end_lineno is not None
                lines = node.end_lineno - node.lineno + 1
                if lines > limit:
                    where = path.relative_to(root.parent)
                    found.append(f"{where}:{node.lineno} {node.name} ({lines} lines)")
    return found


def test_no_function_is_longer_than_80_lines() -> None:
    assert SRC.is_dir(), SRC
    too_long = long_functions(SRC)
    assert not too_long, f"functions over {MAX_LINES} lines, split them into steps:\n" + "\n".join(too_long)


def test_the_check_sees_a_long_function(tmp_path: Path) -> None:
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_LINES))
    (tmp_path / "long.py").write_text(f"def short():\n    pass\n\n\nasync def long():\n{body}\n")
    assert long_functions(tmp_path) == [f"{tmp_path.name}/long.py:5 long ({MAX_LINES + 1} lines)"]
