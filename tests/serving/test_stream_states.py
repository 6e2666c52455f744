"""The stream states a process last wrote: all of a call's assets or none, bounded by bytes; a stream
whose attempts fail is sent to the registry for longer and longer."""

from __future__ import annotations

from shopfloor.serving.stream_states import MAX_BACKOFF, StreamStateCache


def test_a_call_takes_the_states_of_all_its_assets_or_none() -> None:
    cache = StreamStateCache(max_bytes=1000)
    cache.put("t", "m", 1, {"a": b"1", "b": b"2"}, swapped=False)
    assert cache.take("t", "m", 1, ["a", "c"]) is None  # c was never written here
    assert cache.take("t", "m", 2, ["a"]) is None and cache.take("u", "m", 1, ["a"]) is None
    assert cache.take("t", "m", 1, ["a", "b"]) == {"a": b"1", "b": b"2"}
    assert cache.take("t", "m", 1, ["a"]) is None  # taken: a concurrent call reads the registry
    assert cache.take("t", "m", 1, []) is None
    assert len(cache) == 0


def test_the_least_recently_used_go_beyond_the_bound() -> None:
    cache = StreamStateCache(max_bytes=10)
    cache.put("t", "m", 1, {"a": b"1234", "b": b"1234"}, swapped=True)
    cache.put("t", "m", 1, {"a": b"12345"}, swapped=True)  # replaced: a is now the most recent
    cache.put("t", "m", 1, {"c": b"12"}, swapped=True)  # 4 + 5 + 2 > 10: b goes
    assert cache.take("t", "m", 1, ["b"]) is None
    assert cache.take("t", "m", 1, ["a", "c"]) == {"a": b"12345", "c": b"12"}
    cache.put("t", "m", 1, {"big": b"x" * 11}, swapped=True)  # larger than the bound: not kept
    assert len(cache) == 0
    off = StreamStateCache(max_bytes=0)
    off.put("t", "m", 1, {"a": b"1"}, swapped=True)
    assert len(off) == 0


def test_a_reset_forgets_one_asset_or_every_asset_of_every_version() -> None:
    cache = StreamStateCache(max_bytes=1000)
    cache.put("t", "m", 1, {"a": b"1", "b": b"2"}, swapped=True)
    cache.put("t", "m", 2, {"a": b"3"}, swapped=True)
    cache.put("t", "other", 1, {"a": b"4"}, swapped=True)
    cache.drop("t", "m", "a")
    assert cache.take("t", "m", 1, ["a"]) is None and cache.take("t", "m", 2, ["a"]) is None
    cache.drop("t", "m")
    assert cache.take("t", "m", 1, ["b"]) is None
    assert cache.take("t", "other", 1, ["a"]) == {"a": b"4"}


def test_a_stream_whose_attempts_fail_goes_to_the_registry_for_longer_and_longer() -> None:
    cache = StreamStateCache(max_bytes=1000)

    def calls_until_an_attempt() -> int:
        """Calls (each through the registry's transaction, which puts its state) before the next attempt."""
        calls = 0
        while cache.take("t", "m", 1, ["a"]) is None:
            cache.put("t", "m", 1, {"a": b"s"}, swapped=False)
            calls += 1
        return calls

    cache.put("t", "m", 1, {"a": b"s"}, swapped=False)
    assert cache.take("t", "m", 1, ["a"]) is not None  # an attempt
    waits = []
    for _ in range(9):
        cache.stale("t", "m", 1, ["a"])  # it failed: another process had moved the stream on
        waits.append(calls_until_an_attempt())  # until the next attempt
    assert waits == [1, 2, 4, 8, 16, 32, MAX_BACKOFF, MAX_BACKOFF, MAX_BACKOFF]
    cache.put("t", "m", 1, {"a": b"s2"}, swapped=True)  # that attempt succeeded: no more waiting
    assert cache.take("t", "m", 1, ["a"]) == {"a": b"s2"}
    cache.put("t", "m", 1, {"a": b"s3", "b": b"x"}, swapped=True)
    cache.stale("t", "m", 1, ["b"])  # another asset's backoff holds back a call that has both
    assert cache.take("t", "m", 1, ["a", "b"]) is None
    assert cache.take("t", "m", 1, ["a"]) == {"a": b"s3"}
