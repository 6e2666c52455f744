"""Prometheus metrics for every process of a server: API workers and job processes.

prometheus_client's own multi-process mode writes to a memory-mapped file on
every increment (and checks the pid each time): on the predict path that cost
as much as the rest of the platform's overhead. Here each process adds to plain
in-memory counters and writes a snapshot file (``<pid>.json`` in the metrics
directory) about once a second; ``GET /metrics`` merges the snapshots of all
processes with its own live counters through a standard custom collector.
"""

from __future__ import annotations

import bisect
import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
JOB_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200)


class _Histogram:
    __slots__ = ("bounds", "counts", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)  # the last slot is +Inf
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.sum += value


class Recorder:
    """This process's counters. Recording is a few dict operations; no I/O, no lock."""

    def __init__(self) -> None:
        self.requests: dict[tuple[str, str, str], int] = {}
        self.latency: dict[tuple[str, str], _Histogram] = {}
        self.predictions: dict[tuple[str, str], int] = {}
        self.jobs: dict[tuple[str, str], int] = {}
        self.job_seconds: dict[tuple[str, str], _Histogram] = {}
        self.directory: Path | None = None
        self._flushed = 0.0
        self._lock = threading.Lock()

    def request(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, str(status))
        self.requests[key] = self.requests.get(key, 0) + 1
        hist = self.latency.get((method, route))
        if hist is None:
            hist = self.latency[(method, route)] = _Histogram(LATENCY_BUCKETS)
        hist.observe(seconds)

    def predicted(self, model: str, version: int, n: int) -> None:
        key = (model, str(version))
        self.predictions[key] = self.predictions.get(key, 0) + n

    def job(self, job_type: str, outcome: str, seconds: float) -> None:
        key = (job_type, outcome)
        self.jobs[key] = self.jobs.get(key, 0) + 1
        self.job_seconds.setdefault(key, _Histogram(JOB_BUCKETS)).observe(seconds)

    # ---- snapshots ------------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        def hists(d: dict[tuple[str, str], _Histogram]) -> list[Any]:
            return [[list(k), list(h.counts), h.sum] for k, h in list(d.items())]

        return {
            "requests": [[list(k), v] for k, v in list(self.requests.items())],
            "latency": hists(self.latency),
            "predictions": [[list(k), v] for k, v in list(self.predictions.items())],
            "jobs": [[list(k), v] for k, v in list(self.jobs.items())],
            "job_seconds": hists(self.job_seconds),
        }

    def flush(self) -> None:
        """Write this process's snapshot where ``/metrics`` of any process will find it."""
        if self.directory is None:
            return
        with self._lock:
            path = self.directory / f"{os.getpid()}.json"
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(self.snapshot()))
            os.replace(tmp, path)
            self._flushed = time.monotonic()

    def flush_if_due(self, every_s: float = 1.0) -> None:
        if self.directory is not None and time.monotonic() - self._flushed >= every_s:
            self.flush()


RECORDER = Recorder()


def share_through(directory: Path | None) -> None:
    """Make this process write snapshots to ``directory`` (set by ``shopfloor serve``)."""
    RECORDER.directory = directory
    if directory is not None:
        directory.mkdir(parents=True, exist_ok=True)


def _snapshots() -> Iterator[dict[str, Any]]:
    mine = os.getpid()
    yield RECORDER.snapshot()
    if RECORDER.directory is None:
        return
    for path in RECORDER.directory.glob("*.json"):
        if path.stem == str(mine):
            continue
        try:
            yield json.loads(path.read_text())
        except (OSError, ValueError):
            continue  # being replaced right now; the next scrape sees it


class _Collector:
    """A prometheus_client collector over the merged snapshots."""

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily

        requests = CounterMetricFamily(
            "shopfloor_http_requests", "HTTP requests", labels=["method", "route", "status"]
        )
        latency = HistogramMetricFamily(
            "shopfloor_http_request_duration_seconds", "HTTP request latency", labels=["method", "route"]
        )
        predictions = CounterMetricFamily(
            "shopfloor_predictions", "Records predicted", labels=["model", "version"]
        )
        jobs = CounterMetricFamily(
            "shopfloor_jobs", "Finished jobs by type and outcome", labels=["type", "outcome"]
        )
        job_seconds = HistogramMetricFamily(
            "shopfloor_job_duration_seconds", "Job wall time by type and outcome", labels=["type", "outcome"]
        )
        merged: dict[str, dict[tuple[str, ...], Any]] = {k: {} for k in ("requests", "predictions", "jobs")}
        merged_h: dict[str, dict[tuple[str, ...], list[Any]]] = {"latency": {}, "job_seconds": {}}
        for snap in _snapshots():
            for name, table in merged.items():
                for labels, value in snap.get(name, []):
                    table[tuple(labels)] = table.get(tuple(labels), 0) + value
            for name, htable in merged_h.items():
                for labels, counts, total in snap.get(name, []):
                    acc = htable.setdefault(tuple(labels), [[0] * len(counts), 0.0])
                    acc[0] = [a + b for a, b in zip(acc[0], counts, strict=True)]
                    acc[1] += total
        for family, name in ((requests, "requests"), (predictions, "predictions"), (jobs, "jobs")):
            for labels, value in merged[name].items():
                family.add_metric(list(labels), value)
        for hfamily, name, bounds in (
            (latency, "latency", LATENCY_BUCKETS),
            (job_seconds, "job_seconds", JOB_BUCKETS),
        ):
            for labels, (counts, total) in merged_h[name].items():
                cumulative: list[tuple[str, float]] = []
                running = 0
                for bound, count in zip((*map(str, bounds), "+Inf"), counts, strict=True):
                    running += count
                    cumulative.append((bound, running))
                hfamily.add_metric(list(labels), cumulative, total)
        yield from (requests, latency, predictions, jobs, job_seconds)


def exposition() -> tuple[bytes, str]:
    """The Prometheus text exposition of every process's metrics, and its content type."""
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector())  # type: ignore[arg-type]
    return generate_latest(registry), CONTENT_TYPE_LATEST
