"""The local cluster (scripts/cluster.sh): training jobs on 1 and 2 Dask workers, and failover.

1. Jobs: ``--jobs`` training jobs submitted at once through the load balancer (AI4I 2020 tabular
   classification with ``--budget`` seconds each, and one forecast of the weekly sales panel), first
   on a cluster with one Dask worker, then on one with two, each worker one thread. Wall time from
   the first submission to the last job's end: ``jobs_seconds_1w``, ``jobs_seconds_2w`` and
   ``speedup_2w`` (target at least 1.6 on 2 cores). Before them, on each cluster, one AI4I
   training alone, whose candidates, folds and stability refits fan out over the workers:
   ``one_job_seconds_1w``, ``one_job_seconds_2w``, and how many candidates each scored in its budget.
2. Failover: single-record predictions through HAProxy to the two API servers from ``--clients``
   threads for ``--seconds`` seconds; API server 1 is killed (SIGKILL) at a third of the time and
   started again at two thirds. ``failover_errors`` counts the requests that did not answer 200
   (only those in flight at the kill may fail; target at most 32); ``p99_ms`` is the latency of the
   successful ones.

Data: ``SHOPFLOOR_DATA_DIR`` (default ../shared/data): ai4i2020/ai4i2020.csv and
sales_weekly/Sales_Transactions_Dataset_Weekly.csv. Writes section ``cluster`` of docs/benchmarks.md;
the last lines printed are the headline figures.

    .venv/bin/python bench/cluster.py [--jobs 8] [--budget 20] [--seconds 30] [--clients 4]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from _common import REPO, exit_on_sigterm, machine_info, write_section

DATA = Path(os.environ.get("SHOPFLOOR_DATA_DIR", REPO.parent / "shared" / "data"))
AI4I = DATA / "ai4i2020" / "ai4i2020.csv"
SALES = DATA / "sales_weekly" / "Sales_Transactions_Dataset_Weekly.csv"
SCRIPT = REPO / "scripts" / "cluster.sh"
EXCLUDE = ["UDI", "Product ID", "TWF", "HDF", "PWF", "OSF", "RNF"]
RECORD = {
    "Type": "L",
    "Air temperature [K]": 302.3,
    "Process temperature [K]": 311.4,
    "Rotational speed [rpm]": 1333,
    "Torque [Nm]": 66.7,
    "Tool wear [min]": 205,
}


class Cluster:
    """One ``scripts/cluster.sh up`` in ``folder`` with ``workers`` Dask workers; ``down`` at exit."""

    def __init__(self, folder: Path, workers: int) -> None:
        self.folder, self.workers = folder, workers

    def __enter__(self) -> Cluster:
        env = {**os.environ, "CLUSTER_WORKERS": str(self.workers)}
        env["SHOPFLOOR_TENANT_MAX_CONCURRENT_JOBS"] = "64"  # every job queued at once
        # the failover run measures the cluster, not the per-key limit (6,000 a minute by default)
        env["SHOPFLOOR_RATE_LIMIT_PER_MINUTE"] = env["SHOPFLOOR_TENANT_REQUESTS_PER_MINUTE"] = "100000000"
        subprocess.run([str(SCRIPT), "up", str(self.folder)], check=True, env=env, stdout=subprocess.DEVNULL)
        self.env = _read_env(self.folder / "cluster.env")
        key = subprocess.run(
            [str(REPO / ".venv" / "bin" / "shopfloor"), "keys", "create", "--role", "admin"],
            check=True, capture_output=True, text=True, env={**os.environ, **self.env},
        ).stdout.strip()
        self.client = httpx.Client(base_url=self.env["LB_URL"], headers={"Authorization": f"Bearer {key}"},
                                   timeout=120)
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.close()
        subprocess.run([str(SCRIPT), "down", str(self.folder)], check=False, stdout=subprocess.DEVNULL)

    def upload(self, path: Path, **form: str) -> str:
        with path.open("rb") as fh:
            r = self.client.post("/v1/datasets", files={"file": (path.name, fh, "text/csv")},
                                 data={"name": path.stem, **form})
        r.raise_for_status()
        return str(r.json()["id"])

    def submit(self, body: dict[str, Any]) -> str:
        r = self.client.post("/v1/jobs", json={"type": "train", **body})
        r.raise_for_status()
        return str(r.json()["id"])

    def wait(self, job_ids: list[str], timeout: float = 1800) -> list[dict[str, Any]]:
        deadline, done = time.monotonic() + timeout, {}
        while len(done) < len(job_ids):
            if time.monotonic() > deadline:
                raise TimeoutError(f"jobs not finished: {sorted(set(job_ids) - set(done))}")
            for job_id in job_ids:
                if job_id not in done:
                    job = self.client.get(f"/v1/jobs/{job_id}").json()
                    if job["status"] in {"succeeded", "failed", "cancelled"}:
                        done[job_id] = job
            time.sleep(0.5)
        return [done[j] for j in job_ids]


def _read_env(path: Path) -> dict[str, str]:
    env = {}
    for line in path.read_text().splitlines():
        for part in line.removeprefix("export ").split():
            name, _, value = part.partition("=")
            env[name] = value
    return env


def run_jobs(cluster: Cluster, jobs: int, budget: float) -> tuple[float, list[dict[str, Any]]]:
    ai4i = cluster.upload(AI4I)
    sales = cluster.upload(SALES, layout="wide")
    bodies = [
        {"dataset_id": ai4i, "task": "tabular_classification", "target": "Machine failure",
         "model_name": f"ai4i-{i}", "exclude": EXCLUDE, "time_budget_s": budget}
        for i in range(jobs - 1)
    ]
    bodies.append({"dataset_id": sales, "task": "forecast", "model_name": "weekly-demand",
                   "time_budget_s": budget, "options": {"horizon": 8}})
    started = time.monotonic()
    ids = [cluster.submit(body) for body in bodies]
    finished = cluster.wait(ids)
    return time.monotonic() - started, finished


def one_job(cluster: Cluster, budget: float) -> dict[str, Any]:
    """One AI4I training alone on the cluster: its wall time, candidates scored and cuts."""
    ai4i = cluster.upload(AI4I)
    name = f"ai4i-alone-{time.monotonic_ns()}"
    started = time.monotonic()
    job_id = cluster.submit({"dataset_id": ai4i, "task": "tabular_classification",
                             "target": "Machine failure", "model_name": name, "exclude": EXCLUDE,
                             "time_budget_s": budget})
    (job,) = cluster.wait([job_id])
    wall = time.monotonic() - started
    if job["status"] != "succeeded":
        return {"seconds": wall, "status": job["status"], "candidates": 0, "cuts": 0, "refits": 0}
    version = cluster.client.get(f"/v1/models/{name}/versions/1").json()
    report = version["report"]
    return {"seconds": wall, "status": job["status"], "candidates": len(report["candidates"]),
            "cuts": len(report["budget"]["cuts"]), "refits": report["stability"]["n"]}


def failover(cluster: Cluster, seconds: float, clients: int) -> dict[str, Any]:
    """Predictions through the load balancer while API server 1 is killed and started again."""
    job = cluster.submit({
        "dataset_id": cluster.upload(AI4I), "task": "tabular_classification", "target": "Machine failure",
        "model_name": "failover", "exclude": EXCLUDE, "time_budget_s": 10})
    version = cluster.wait([job])[0]["result"]["version"]
    cluster.client.put("/v1/models/failover/aliases/production", json={"version": version}).raise_for_status()
    stop = threading.Event()
    latencies: list[float] = []
    errors: list[str] = []
    samples: dict[str, str] = {}
    lock = threading.Lock()

    def client_loop() -> None:
        headers = dict(cluster.client.headers)
        with httpx.Client(base_url=cluster.env["LB_URL"], headers=headers, timeout=10) as c:
            while not stop.is_set():
                t0 = time.perf_counter()
                try:
                    r = c.post("/v1/models/failover/predict", json={"records": [RECORD]})
                    ok, what = r.status_code == 200, str(r.status_code)
                    if not ok:
                        with lock:
                            samples.setdefault(what, r.text[:300])
                except httpx.HTTPError as exc:
                    ok, what = False, type(exc).__name__
                with lock:
                    (latencies.append((time.perf_counter() - t0) * 1000) if ok else errors.append(what))

    threads = [threading.Thread(target=client_loop) for _ in range(clients)]
    for t in threads:
        t.start()
    try:
        time.sleep(seconds / 3)
        pid = int((cluster.folder / "api-1.pid").read_text())
        os.killpg(pid, signal.SIGKILL)
        killed_at = time.monotonic()
        time.sleep(seconds / 3)
        restart = [str(SCRIPT), "start-api", "1", str(cluster.folder)]
        subprocess.run(restart, check=True, stdout=subprocess.DEVNULL)
        back_after = time.monotonic() - killed_at
        time.sleep(seconds / 3)
    finally:
        stop.set()
        for t in threads:
            t.join()
    kinds: dict[str, int] = {}
    for e in errors:
        kinds[e] = kinds.get(e, 0) + 1
    return {"requests": len(latencies) + len(errors), "errors": len(errors), "kinds": kinds,
            "p99_ms": float(np.percentile(latencies, 99)), "p50_ms": float(np.percentile(latencies, 50)),
            "restart_s": back_after, "samples": samples}


def _failed_answers(samples: dict[str, str]) -> str:
    """The first answer of each failed status, for the reader to see who refused (HAProxy or a server)."""
    if not samples:
        return ""
    lines = [f"- `{status}`: `{' '.join(text.split())[:200]}`" for status, text in sorted(samples.items())]
    return "\nFirst answer of each failed status:\n\n" + "\n".join(lines) + "\n"


def main() -> None:
    exit_on_sigterm()
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=8)
    parser.add_argument("--budget", type=float, default=20, help="time budget of each training job (s)")
    parser.add_argument("--seconds", type=float, default=30, help="length of the failover run")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--folder", type=Path, default=REPO / ".cluster-bench")
    parser.add_argument("--failover-only", action="store_true", help="skip the jobs (a trial run)")
    args = parser.parse_args()
    walls: dict[int, float] = {}
    alone: dict[int, dict[str, Any]] = {}
    states: dict[int, list[str]] = {}
    if args.failover_only:
        with Cluster(args.folder, 2) as cluster:
            fo = failover(cluster, args.seconds, args.clients)
        print(fo)
        return
    for workers in (1, 2):
        with Cluster(args.folder, workers) as cluster:
            alone[workers] = one_job(cluster, args.budget)
            walls[workers], finished = run_jobs(cluster, args.jobs, args.budget)
            states[workers] = [j["status"] for j in finished]
            if workers == 2:
                fo = failover(cluster, args.seconds, args.clients)
    speedup = walls[1] / walls[2]
    info = machine_info()
    body = f"""## Local cluster: jobs on Dask workers, API failover (`bench/cluster.py`)

Command: `.venv/bin/python bench/cluster.py --jobs {args.jobs} --budget {args.budget:g} \
--seconds {args.seconds:g} --clients {args.clients}`; {info["date"]}, {info["nproc"]} cores ({info["cpu"]}), \
load average {info["loadavg"]}.
Topology of `scripts/cluster.sh up`: PostgreSQL, moto's S3 server, a Dask scheduler, 1 or 2 Dask
workers (one thread each, libraries preloaded), two API servers (`serve --role api`), one
dispatcher (`serve --role worker`) and HAProxy, all on loopback.

| figure | value |
|---|---|
| jobs ({args.jobs - 1} AI4I trainings, {args.budget:g} s budget each, and one weekly-sales forecast) \
on 1 worker | {walls[1]:.1f} s |
| the same on 2 workers | {walls[2]:.1f} s |
| **speedup_2w** (target at least 1.6) | **{speedup:.2f}** |
| job states (1 worker / 2 workers) | {", ".join(sorted(set(states[1])))} / \
{", ".join(sorted(set(states[2])))} |
| one AI4I training alone ({args.budget:g} s budget): wall time on 1 / 2 workers | \
{alone[1]["seconds"]:.1f} s / {alone[2]["seconds"]:.1f} s |
| its candidates scored, stability refits, budget cuts (1 worker / 2 workers) | \
{alone[1]["candidates"]}, {alone[1]["refits"]}, {alone[1]["cuts"]} / {alone[2]["candidates"]}, \
{alone[2]["refits"]}, {alone[2]["cuts"]} |
| failover: predictions through HAProxy, {args.clients} clients, {args.seconds:g} s; API server 1 killed at \
{args.seconds / 3:g} s | {fo["requests"]} requests |
| **failover_errors** (target at most 32) | **{fo["errors"]}** {fo["kinds"] or ""} |
| p50 / **p99_ms** of the answered ones | {fo["p50_ms"]:.1f} / **{fo["p99_ms"]:.1f}** |
| API server 1 ready again after | {fo["restart_s"]:.1f} s |
{_failed_answers(fo["samples"])}"""
    write_section("cluster", body)
    print(f"one_job_seconds_1w: {alone[1]['seconds']:.1f}")
    print(f"one_job_seconds_2w: {alone[2]['seconds']:.1f}")
    print(f"jobs_seconds_1w: {walls[1]:.1f}")
    print(f"jobs_seconds_2w: {walls[2]:.1f}")
    print(f"speedup_2w: {speedup:.2f}")
    print(f"failover_errors: {fo['errors']}")
    print(f"p99_ms: {fo['p99_ms']:.1f}")


if __name__ == "__main__":
    main()
