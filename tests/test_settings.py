"""Settings checks that refuse a dangerous configuration at start."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from shopfloor.settings import Settings


def test_a_short_metrics_token_is_refused() -> None:
    with pytest.raises(ValidationError, match="SHOPFLOOR_METRICS_TOKEN must be at least 32 characters"):
        Settings(metrics_token="short")  # type: ignore[arg-type]
    token = Settings(metrics_token="t" * 32).metrics_token  # type: ignore[arg-type]
    assert token is not None and token.get_secret_value() == "t" * 32
    assert "t" * 32 not in repr(Settings(metrics_token="t" * 32))  # type: ignore[arg-type]
