"""The stream states a process last wrote: all of a call's assets or none, bounded by bytes."""

from __future__ import annotations

from shopfloor.serving.stream_states import StreamStateCache


def test_a_call_takes_the_states_of_all_its_assets_or_none() -> None:
    cache = StreamStateCache(max_bytes=1000)
    cache.put("t", "m", 1, {"a": b"1", "b": b"2"})
    assert cache.take("t", "m", 1, ["a", "c"]) is None  # c was never written here
    assert cache.take("t", "m", 2, ["a"]) is None and cache.take("u", "m", 1, ["a"]) is None
    assert cache.take("t", "m", 1, ["a", "b"]) == {"a": b"1", "b": b"2"}
    assert cache.take("t", "m", 1, ["a"]) is None  # taken: a concurrent call reads the registry
    assert cache.take("t", "m", 1, []) is None
    assert len(cache) == 0


def test_the_least_recently_used_go_beyond_the_bound() -> None:
    cache = StreamStateCache(max_bytes=10)
    cache.put("t", "m", 1, {"a": b"1234", "b": b"1234"})
    cache.put("t", "m", 1, {"a": b"12345"})  # replaced: a is now the most recent
    cache.put("t", "m", 1, {"c": b"12"})  # 4 + 5 + 2 > 10: b goes
    assert cache.take("t", "m", 1, ["b"]) is None
    assert cache.take("t", "m", 1, ["a", "c"]) == {"a": b"12345", "c": b"12"}
    cache.put("t", "m", 1, {"big": b"x" * 11})  # larger than the bound: not kept
    assert len(cache) == 0
    off = StreamStateCache(max_bytes=0)
    off.put("t", "m", 1, {"a": b"1"})
    assert len(off) == 0


def test_a_reset_forgets_one_asset_or_every_asset_of_every_version() -> None:
    cache = StreamStateCache(max_bytes=1000)
    cache.put("t", "m", 1, {"a": b"1", "b": b"2"})
    cache.put("t", "m", 2, {"a": b"3"})
    cache.put("t", "other", 1, {"a": b"4"})
    cache.drop("t", "m", "a")
    assert cache.take("t", "m", 1, ["a"]) is None and cache.take("t", "m", 2, ["a"]) is None
    cache.drop("t", "m")
    assert cache.take("t", "m", 1, ["b"]) is None
    assert cache.take("t", "other", 1, ["a"]) == {"a": b"4"}
