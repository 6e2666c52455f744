"""Prometheus metrics shared by API processes and job processes.

With several processes, ``shopfloor serve`` points PROMETHEUS_MULTIPROC_DIR at a
folder under the home directory before any process imports this module.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import Counter, Histogram

REQUESTS = Counter("shopfloor_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram(
    "shopfloor_http_request_duration_seconds",
    "HTTP request latency",
    ["method", "route"],
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
PREDICTIONS = Counter("shopfloor_predictions_total", "Records predicted", ["model", "version"])
JOB_DURATION = Histogram(
    "shopfloor_job_duration_seconds",
    "Job wall time by type and outcome",
    ["type", "outcome"],
    buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200),
)
JOBS = Counter("shopfloor_jobs_total", "Finished jobs by type and outcome", ["type", "outcome"])


_prediction_children: dict[tuple[str, int], Any] = {}


def predictions(model: str, version: int) -> Any:
    """The predictions counter of one model version (children cached: ``labels()`` takes a lock)."""
    key = (model, version)
    child = _prediction_children.get(key)
    if child is None:
        child = _prediction_children[key] = PREDICTIONS.labels(model, str(version))
    return child
