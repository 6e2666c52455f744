"""Prometheus metrics for every process of a server: API workers and job processes.

prometheus_client's own multi-process mode writes to a memory-mapped file on
every increment (and checks the pid each time): on the predict path that cost
as much as the rest of the platform's overhead. Here each process adds to plain
in-memory counters and writes a snapshot file (``<pid>.json`` in the metrics
directory) about once a second; ``GET /metrics`` merges the snapshots of all
processes with its own live counters through a standard custom collector.

Who sees what: every series about a tenant's work carries a ``tenant`` label
(requests and latency once the caller's key is known, predictions, jobs, queued
and running jobs, loaded models). A tenant's scrape (an admin or ``metrics``
key) gets only the series of its own tenant. The operator's scrape
(``SHOPFLOOR_METRICS_TOKEN``) gets every tenant, requests without a known
tenant (``tenant=""``: refused keys, health checks) and the standard
``process_*`` metrics of each live API worker, one series per process labelled
``pid`` (sum them for the server's total, as with any multi-process exporter).
"""

from __future__ import annotations

import bisect
import functools
import json
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shopfloor.lifecycle import process_alive

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
JOB_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200)
#: Bumped when the label layout of the snapshots changes: older snapshot files are not merged.
SNAPSHOT_FORMAT = 2


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
    """This process's counters. Recording is a few dict operations; no I/O, no lock.

    Every key starts with the tenant (``""`` where none is known).
    """

    def __init__(self) -> None:
        self.requests: dict[tuple[str, str, str, str], int] = {}
        self.latency: dict[tuple[str, str, str], _Histogram] = {}
        self.predictions: dict[tuple[str, str, str], int] = {}
        self.jobs: dict[tuple[str, str, str], int] = {}
        self.job_seconds: dict[tuple[str, str, str], _Histogram] = {}
        self.loaded: dict[str, int] = {}  # tenant -> models in this process's cache
        self.logged: dict[tuple[str, str, str], int] = {}  # (tenant, model, outcome) -> entries
        self.challenger: dict[tuple[str, str, str], int] = {}  # (tenant, model, outcome) -> requests
        self.directory: Path | None = None
        self._flushed = 0.0
        self._lock = threading.Lock()

    def request(self, method: str, route: str, status: int, seconds: float, tenant: str = "") -> None:
        key = (tenant, method, route, str(status))
        self.requests[key] = self.requests.get(key, 0) + 1
        hist = self.latency.get((tenant, method, route))
        if hist is None:
            hist = self.latency[(tenant, method, route)] = _Histogram(LATENCY_BUCKETS)
        hist.observe(seconds)

    def predicted(self, tenant: str, model: str, version: int, n: int) -> None:
        key = (tenant, model, str(version))
        self.predictions[key] = self.predictions.get(key, 0) + n

    def prediction_log(self, tenant: str, model: str, outcome: str, n: int) -> None:
        """Entries of the prediction log ``written``, ``dropped`` (buffer full) or ``failed`` (the
        registry refused them twice)."""
        key = (tenant, model, outcome)
        self.logged[key] = self.logged.get(key, 0) + n

    def challenger_run(self, tenant: str, model: str, outcome: str, n: int = 1) -> None:
        """Requests a challenger ran off the request path (``run``), could not take because its queue
        was full (``dropped``) or failed on (``failed``)."""
        key = (tenant, model, outcome)
        self.challenger[key] = self.challenger.get(key, 0) + n

    def job(self, tenant: str, job_type: str, outcome: str, seconds: float) -> None:
        key = (tenant, job_type, outcome)
        self.jobs[key] = self.jobs.get(key, 0) + 1
        self.job_seconds.setdefault(key, _Histogram(JOB_BUCKETS)).observe(seconds)

    def loaded_models(self, per_tenant: dict[str, int]) -> None:
        """The model cache's size now, per tenant (set by the cache when it loads or evicts)."""
        self.loaded = dict(per_tenant)

    # ---- snapshots ------------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        def hists(d: dict[Any, _Histogram]) -> list[Any]:
            return [[list(k), list(h.counts), h.sum] for k, h in list(d.items())]

        return {
            "format": SNAPSHOT_FORMAT,
            "pid": os.getpid(),
            "requests": [[list(k), v] for k, v in list(self.requests.items())],
            "latency": hists(self.latency),
            "predictions": [[list(k), v] for k, v in list(self.predictions.items())],
            "jobs": [[list(k), v] for k, v in list(self.jobs.items())],
            "job_seconds": hists(self.job_seconds),
            "loaded": [[[tenant], n] for tenant, n in list(self.loaded.items())],
            "logged": [[list(k), v] for k, v in list(self.logged.items())],
            "challenger": [[list(k), v] for k, v in list(self.challenger.items())],
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


#: A snapshot older than this is a dead process's (live ones write every second), even if its pid
#: now belongs to another process: its gauges and process metrics are left out, its counters kept.
FRESH_S = 10.0


def _snapshots() -> Iterator[tuple[dict[str, Any], bool]]:
    """Every process's snapshot, and whether that process is alive."""
    mine = os.getpid()
    yield RECORDER.snapshot(), True
    if RECORDER.directory is None:
        return
    for path in RECORDER.directory.glob("*.json"):
        if path.stem == str(mine):
            continue
        try:
            fresh = time.time() - path.stat().st_mtime < FRESH_S
            snap = json.loads(path.read_text())
        except (OSError, ValueError):
            continue  # being replaced right now; the next scrape sees it
        if isinstance(snap, dict) and snap.get("format") == SNAPSHOT_FORMAT:
            yield snap, fresh and process_alive(int(snap["pid"]))


@dataclass(frozen=True)
class GaugeSample:
    """One gauge value read from the registry at scrape time; every sample of one ``name`` has the
    same label names, and the first label is ``tenant``."""

    name: str
    documentation: str
    labels: tuple[tuple[str, str], ...]
    value: float


@dataclass(frozen=True)
class Registry:
    """What the registry says at scrape time: unfinished jobs per (tenant, status), the tenants,
    and gauges kept there (the monitored signals of models, as the alert rules last read them)."""

    jobs: dict[tuple[str, str], int] = field(default_factory=dict)
    tenants: tuple[str, ...] = ()
    gauges: tuple[GaugeSample, ...] = ()


class _Collector:
    """A prometheus_client collector over the merged snapshots, for one tenant or (None) all."""

    def __init__(self, tenant: str | None, registry: Registry) -> None:
        self.tenant = tenant
        self.registry = registry

    def _mine(self, labels: list[str] | tuple[str, ...]) -> bool:
        return self.tenant is None or labels[0] == self.tenant

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

        requests = CounterMetricFamily(
            "shopfloor_http_requests", "HTTP requests", labels=["tenant", "method", "route", "status"]
        )
        latency = HistogramMetricFamily(
            "shopfloor_http_request_duration_seconds",
            "HTTP request latency",
            labels=["tenant", "method", "route"],
        )
        predictions = CounterMetricFamily(
            "shopfloor_predictions", "Records predicted", labels=["tenant", "model", "version"]
        )
        jobs = CounterMetricFamily(
            "shopfloor_jobs", "Finished jobs by type and outcome", labels=["tenant", "type", "outcome"]
        )
        job_seconds = HistogramMetricFamily(
            "shopfloor_job_duration_seconds",
            "Job wall time by type and outcome",
            labels=["tenant", "type", "outcome"],
        )
        loaded = GaugeMetricFamily(
            "shopfloor_loaded_models", "Model versions loaded in a process's cache", labels=["tenant", "pid"]
        )
        logged = CounterMetricFamily(
            "shopfloor_prediction_log_records",
            "Prediction log entries written, dropped (buffer full) or failed (registry refused)",
            labels=["tenant", "model", "outcome"],
        )
        challenger = CounterMetricFamily(
            "shopfloor_challenger_requests",
            "Requests a challenger ran off the request path, dropped (queue full) or failed on",
            labels=["tenant", "model", "outcome"],
        )
        merged: dict[str, dict[tuple[str, ...], Any]] = {
            k: {} for k in ("requests", "predictions", "jobs", "logged", "challenger")
        }
        merged_h: dict[str, dict[tuple[str, ...], list[Any]]] = {"latency": {}, "job_seconds": {}}
        pids: list[int] = []
        for snap, live in _snapshots():
            pid = int(snap["pid"])
            if live:
                pids.append(pid)
            for name, table in merged.items():
                for labels, value in snap.get(name, []):
                    if self._mine(labels):
                        table[tuple(labels)] = table.get(tuple(labels), 0) + value
            for name, htable in merged_h.items():
                for labels, counts, total in snap.get(name, []):
                    if self._mine(labels):
                        acc = htable.setdefault(tuple(labels), [[0] * len(counts), 0.0])
                        acc[0] = [a + b for a, b in zip(acc[0], counts, strict=True)]
                        acc[1] += total
            for labels, n in snap.get("loaded", []) if live else ():
                if self._mine(labels):
                    loaded.add_metric([labels[0], str(pid)], n)
        families: tuple[tuple[Any, str], ...] = ((requests, "requests"), (predictions, "predictions"))
        families += ((jobs, "jobs"), (logged, "logged"), (challenger, "challenger"))
        for family, name in families:
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
        yield from (requests, latency, predictions, jobs, job_seconds, loaded, logged, challenger)
        yield from self._job_gauges()
        yield from self._registry_gauges()
        if self.tenant is None:
            yield from _process_metrics(sorted(set(pids)))

    def _job_gauges(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        tenants = [self.tenant] if self.tenant is not None else list(self.registry.tenants)
        for tenant, _ in self.registry.jobs:
            if tenant not in tenants and self.tenant is None:
                tenants.append(tenant)
        for status in ("queued", "running"):
            gauge = GaugeMetricFamily(
                f"shopfloor_jobs_{status}", f"Jobs {status} now, from the registry", labels=["tenant"]
            )
            for tenant in sorted(tenants):
                gauge.add_metric([tenant], self.registry.jobs.get((tenant, status), 0))
            yield gauge


    def _registry_gauges(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        families: dict[str, Any] = {}
        for sample in self.registry.gauges:
            labels = dict(sample.labels)
            if self.tenant is not None and labels.get("tenant") != self.tenant:
                continue
            family = families.get(sample.name)
            if family is None:
                family = families[sample.name] = GaugeMetricFamily(
                    sample.name, sample.documentation, labels=list(labels)
                )
            family.add_metric(list(labels.values()), sample.value)
        yield from families.values()


def _process_metrics(pids: list[int]) -> Iterator[Any]:
    """prometheus_client's standard ``process_*`` families for each live process, labelled ``pid``."""
    from prometheus_client import Metric, ProcessCollector

    families: dict[str, Any] = {}
    for pid in pids:
        collector = ProcessCollector(pid=functools.partial(int, pid), registry=None)
        for family in collector.collect():
            out = families.get(family.name)
            if out is None:
                out = families[family.name] = Metric(family.name, family.documentation, family.type)
            for sample in family.samples:
                out.add_sample(sample.name, {"pid": str(pid), **sample.labels}, sample.value)
    yield from families.values()


def exposition(tenant: str | None, registry: Registry | None = None) -> tuple[bytes, str]:
    """The Prometheus text exposition, and its content type: the series of ``tenant`` only, or
    (``None``, the operator's scrape) every tenant's plus the process metrics."""
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

    collectors = CollectorRegistry(auto_describe=False)
    collectors.register(_Collector(tenant, registry or Registry()))  # type: ignore[arg-type]
    return generate_latest(collectors), CONTENT_TYPE_LATEST
