"""The README documents the two set-up commands and every setting."""

from __future__ import annotations

from pathlib import Path

from shopfloor.settings import Settings

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_two_commands_come_first() -> None:
    head = README[: README.index("## Five minutes")]
    assert "make serve" in head and "make test" in head


def test_every_setting_is_documented() -> None:
    for name in Settings.model_fields:
        assert f"SHOPFLOOR_{name.upper()}" in README, name
