"""The window arithmetic of the shared rate limits: lease size, sliding ceiling, when room comes back."""

from __future__ import annotations

from shopfloor.security.rates import WINDOW_S, ceiling, free_at, lease_size

START = 1000 * WINDOW_S  # the start of some window


def test_lease_is_a_small_fraction_of_the_limit() -> None:
    assert [lease_size(n) for n in (1, 20, 99, 100, 6000, 30000, 10**9)] == [1, 1, 1, 1, 60, 100, 100]


def test_ceiling_weights_the_previous_window_and_never_rounds_up() -> None:
    assert ceiling(20, 0, START) == 20
    assert ceiling(20, 20, START + 0.5) == 0  # a full previous window: no burst at the edge
    assert ceiling(20, 20, START + 30) == 10  # half of it still inside the last minute
    assert ceiling(20, 20, START + 59.9) == 19  # 0.03 of a request still counts as one
    assert ceiling(20, 500, START + 30) == 10  # over-counted windows weigh as the limit
    # A burst across the edge: 20 just before it leave no room just after it.
    assert ceiling(20, 20, START + 1) == 0


def test_free_at_is_when_the_ceiling_grows_enough() -> None:
    # This window is full: room comes back in the next one, once the previous one weighs less.
    at = free_at(20, 0, 20, 1, START + 10)
    assert START + WINDOW_S < at <= START + 2 * WINDOW_S
    assert ceiling(20, 20, at + 1e-6) >= 1 and ceiling(20, 20, at - 0.5) < 1
    # Room within this window as the previous one fades.
    at = free_at(20, 20, 5, 1, START + 1)
    assert START < at < START + WINDOW_S
    assert ceiling(20, 20, at + 1e-6) >= 6 and ceiling(20, 20, at - 0.5) < 6
    assert free_at(20, 0, 5, 1, START + 1) == START + 1  # room now
