"""README.md as a script: its code blocks in order, the ones marked not to run, and stated outputs.

Conventions (also written in README.md, section "About the snippets"):

- Every ```bash, ```sh and ```python block runs, in README order: bash blocks with
  ``bash -euo pipefail``, python blocks each as its own script, all in one working folder.
- A block preceded by ``<!-- not run: REASON -->`` is skipped; the reason is required.
- An ```output block right after a code block states what that block prints (stdout and stderr
  together): ``...`` stands for any text, whitespace runs compare equal, and numbers must match
  exactly unless the output block is preceded by ``<!-- numbers within N % -->`` (relative) or
  ``<!-- numbers within N -->`` (absolute).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

RUN_LANGUAGES = {"bash", "sh", "python"}
_FENCE = re.compile(r"^```([\w-]*)[^\n]*\n(.*?)^```[ \t]*$", re.M | re.S)
_NOT_RUN = re.compile(r"<!--\s*not run:\s*(.*?)\s*-->\s*$", re.S)
_TOLERANCE = re.compile(r"<!--\s*numbers within\s+([0-9.]+)\s*(%?)\s*-->\s*$")
_NUMBER = r"(?<![\w.])-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?(?![\w]|\.\d)"


@dataclass
class Expected:
    text: str
    relative: float = 0.0
    absolute: float = 0.0


@dataclass
class Block:
    language: str
    code: str
    line: int
    skip_reason: str | None = None
    expected: Expected | None = None

    @property
    def id(self) -> str:
        return f"L{self.line}-{self.language}"


def parse(text: str) -> list[Block]:
    """Every fenced block of the README that runs (or is marked not to), with its stated output."""
    blocks: list[Block] = []
    previous: Block | None = None
    previous_end = 0
    for match in _FENCE.finditer(text):
        language, body = match.group(1), match.group(2)
        before = text[previous_end : match.start()]
        line = text.count("\n", 0, match.start()) + 1
        if language == "output":
            if previous is None or before.strip() and not _TOLERANCE.search(before.strip()):
                raise ValueError(f"README line {line}: an output block must follow a code block directly")
            if previous.expected is not None:
                raise ValueError(f"README line {line}: a second output block for one code block")
            previous.expected = Expected(body, *_tolerance(before.strip()))
        elif language in RUN_LANGUAGES:
            skip = _NOT_RUN.search(before.rstrip())
            if skip is not None and not skip.group(1).strip():
                raise ValueError(f"README line {line}: `not run` needs a reason")
            previous = Block(language, body, line, skip.group(1).strip() if skip else None)
            blocks.append(previous)
            previous_end = match.end()
            continue
        else:
            previous = None
        previous_end = match.end()
    return blocks


def _tolerance(comment: str) -> tuple[float, float]:
    found = _TOLERANCE.search(comment)
    if not found:
        return 0.0, 0.0
    value = float(found.group(1))
    return (value / 100, 0.0) if found.group(2) else (0.0, value)


def mismatch(expected: Expected, actual: str) -> str | None:
    """Why ``actual`` does not read as ``expected`` (None when it does)."""
    pattern, numbers = _pattern(expected.text.strip())
    found = re.fullmatch(pattern, actual.strip(), re.S)
    if found is None:
        return f"output does not have the stated shape; stated:\n{expected.text}\nprinted:\n{actual}"
    for want, got in zip(numbers, found.groups(), strict=True):
        w, g = float(want), float(got)
        allowed = max(expected.absolute, expected.relative * abs(w))
        if not math.isclose(w, g, rel_tol=0, abs_tol=allowed + 1e-12):
            return f"stated {want}, printed {got} (allowed difference {allowed:g}); printed:\n{actual}"
    return None


def _pattern(text: str) -> tuple[str, list[str]]:
    parts: list[str] = []
    numbers: list[str] = []
    for piece in re.split(r"(\.\.\.|…|" + _NUMBER + r"|\s+)", text):
        if not piece:
            continue
        if piece in ("...", "…"):
            parts.append(r".*?")
        elif piece.isspace():
            parts.append(r"\s+")
        elif re.fullmatch(_NUMBER, piece):
            numbers.append(piece)
            parts.append(r"(" + _NUMBER + r")")
        else:
            parts.append(re.escape(piece))
    return "".join(parts), numbers


def readme_blocks(readme: Path) -> list[Block]:
    return parse(readme.read_text())
