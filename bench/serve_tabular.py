"""Online predict throughput and latency of a tabular model: Shopfloor against a bare FastAPI baseline.

Starts ``shopfloor serve --workers 2`` on a fresh home directory, trains the
AI4I 2020 failure model through the SDK, promotes version 1 to ``production``
and drives single-record ``POST /v1/models/{name}/predict`` (consumer API key)
with wrk at concurrency 1, 8 and 32, and the same record through the Open
Inference Protocol route ``POST /v2/models/{name}/infer`` (one input per column,
as ``tritonclient`` sends it) at concurrency 32 where the server has that route.
In the same run it serves the same stored model files from
``bench/baseline_app.py`` (FastAPI + uvicorn, 2 workers, no auth, no
validation, no metrics) and measures it interleaved with ours, so run-to-run
noise hits both alike; and it times ``estimator.predict([record])`` in-process
as the ceiling. Results go to docs/benchmarks.md (section
``serve_tabular``) and the last lines printed are the headline figures.

    make bench-serve            # or: .venv/bin/python bench/serve_tabular.py
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _common import (
    LOOPBACK,
    REPO,
    Process,
    WrkResult,
    ensure_wrk,
    exit_on_sigterm,
    free_port,
    machine_info,
    run_wrk,
    timed_loop,
    write_section,
    wrk_post_script,
)

SECTION = "serve_tabular"
MODEL = "ai4i"
TARGET = "Machine failure"
EXCLUDE = ("UDI", "Product ID", "TWF", "HDF", "PWF", "OSF", "RNF")
CONCURRENCY = (1, 8, 32)
WORKERS = 2
BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Side:
    name: str
    url: str  # the predict URL wrk hits
    script: Path  # wrk Lua script (body and headers)


def dataset_path() -> Path:
    root = os.environ.get("SHOPFLOOR_DATA_DIR")
    base = Path(root) if root else REPO.parent / "shared" / "data"
    path = base / "ai4i2020" / "ai4i2020.csv"
    if not path.exists():
        raise SystemExit(f"dataset not found: {path} (set SHOPFLOOR_DATA_DIR to the folder with ai4i2020/)")
    return path


def one_record(path: Path) -> dict[str, Any]:
    """The first data row without target and excluded columns, numbers as numbers."""
    with path.open(encoding="utf-8-sig", newline="") as fh:
        row = next(csv.DictReader(fh))
    record: dict[str, Any] = {}
    for key, raw in row.items():
        if key in EXCLUDE or key == TARGET:
            continue
        try:
            record[key] = int(raw)
        except ValueError:
            try:
                record[key] = float(raw)
            except ValueError:
                record[key] = raw
    return record


@contextmanager
def running(proc: Process) -> Iterator[Process]:
    try:
        yield proc.start()
    finally:
        proc.stop()


def start_shopfloor(home: Path, env: dict[str, str]) -> tuple[Process, str, str]:
    port = free_port()
    proc = Process([str(BIN / "shopfloor"), "serve", "--host", LOOPBACK, "--port", str(port),
                    "--workers", str(WORKERS)],
                   {**env, "SHOPFLOOR_HOME": str(home)}, home.parent / "shopfloor.log", "shopfloor serve")
    return proc, f"http://{LOOPBACK}:{port}", str(port)


def admin_key(proc: Process) -> str:
    found = re.findall(r"sfk_[0-9a-f]+_[A-Za-z0-9_\-]+", proc.log_tail(100_000))
    if not found:
        raise RuntimeError(f"no admin key printed by the server:\n{proc.log_tail()}")
    return str(found[0])


def train(url: str, key: str, data: Path, budget: float) -> tuple[str, dict[str, Any]]:
    """Upload, train, promote version 1 -> (consumer key secret, version view)."""
    from shopfloor import Client

    with Client(url, key, timeout=120) as c:
        ds = c.upload_dataset(data)
        job = c.train(ds["id"], target=TARGET, model_name=MODEL, exclude=EXCLUDE, time_budget_s=budget)
        c.wait(job["id"], timeout=budget * 4 + 120)
        c.set_alias(MODEL, "production", 1)
        consumer = c.create_key("consumer", name="bench")
        return str(consumer["secret"]), c.get_version(MODEL, 1)


def export_model(home: Path, dest: Path) -> str:
    """Export version 1's files (decrypted, digests checked) to ``dest`` -> the task name."""
    from baseline_app import TASK_FILE

    from shopfloor.context import Platform
    from shopfloor.settings import Settings

    platform = Platform.from_settings(Settings(home=home))
    try:
        mv = next(v for v in platform.store.list_versions("default", MODEL) if v.version == 1)
        dest.mkdir(parents=True)
        for fname, digest in mv.files.items():
            key = f"{mv.artifact}/{fname}"
            (dest / fname).write_bytes(platform.sealed.get(mv.tenant, key, expected_sha256=digest))
        (dest / TASK_FILE).write_text(mv.task)
        return mv.task
    finally:
        platform.close()


def inprocess_rate(model_dir: Path, record: dict[str, Any], seconds: float) -> float:
    from baseline_app import load_estimator

    estimator = load_estimator(model_dir)
    return timed_loop(lambda: estimator.predict([record]), seconds)


def oip_body(record: dict[str, Any], schema: list[dict[str, Any]]) -> dict[str, Any]:
    """The infer request of ``record``: one input per column of the input schema, shape ``[1]``,
    FP64 for numbers and BYTES for the rest (what ``tritonclient`` sends for a table)."""
    inputs = []
    for column in schema:
        value = record[column["name"]]
        numeric = column.get("type") == "numeric"
        inputs.append({"name": column["name"], "shape": [1], "datatype": "FP64" if numeric else "BYTES",
                       "data": [float(value) if numeric else str(value)]})
    return {"id": "bench", "inputs": inputs}


def check_oip(url: str, key: str, body: dict[str, Any], expected: dict[str, Any]) -> bool:
    """Whether the server has the infer route (404 for the route itself: no) and it gives the same
    label as ``/predict``."""
    import httpx

    answer = httpx.post(url, json=body, headers={"Authorization": f"Bearer {key}"}, timeout=30)
    if answer.status_code == 404 and "error" not in answer.text:
        return False
    answer.raise_for_status()
    outputs = {o["name"]: o["data"] for o in answer.json()["outputs"]}
    if outputs.get("label") != [str(expected["label"])]:
        raise RuntimeError(f"/v2 infer answers {outputs}, /predict {expected}")
    return True


def check_same_answer(url_ours: str, key: str, url_base: str, record: dict[str, Any]) -> dict[str, Any]:
    import httpx

    auth = {"Authorization": f"Bearer {key}"}
    ours = httpx.post(url_ours, json={"records": [record]}, headers=auth, timeout=30)
    base = httpx.post(url_base, json={"records": [record]}, timeout=30)
    ours.raise_for_status()
    base.raise_for_status()
    a, b = ours.json()["predictions"], base.json()["predictions"]
    if a != b:
        raise RuntimeError(f"the two servers disagree: ours {a} baseline {b}")
    return dict(a[0])


def measure(wrk: str, side: Side, c: int, seconds: float, warmup: float) -> WrkResult:
    if warmup > 0:
        run_wrk(wrk, side.url, side.script, c, warmup)
    result = run_wrk(wrk, side.url, side.script, c, seconds)
    if result.non2xx or result.socket_errors or not result.requests:
        raise RuntimeError(f"{side.name} c={c}: {result.non2xx} non-2xx, {result.socket_errors} socket "
                           f"errors, {result.requests} requests")
    print(f"  {side.name:9s} c={c:<3d} {result.rps:8.0f} req/s  p50 {result.p50_ms:6.2f} ms  "
          f"p99 {result.p99_ms:7.2f} ms", flush=True)
    return result


Runs = dict[tuple[str, int], list[WrkResult]]


def measure_all(wrk: str, sides: tuple[Side, ...], args: argparse.Namespace) -> Runs:
    """Every side at every concurrency (the Open Inference Protocol side at the highest only),
    ``args.repeats`` times, the order of the sides turning from one measurement to the next."""
    runs: Runs = {}
    for rep in range(args.repeats):
        print(f"repeat {rep + 1}/{args.repeats}", flush=True)
        for c in CONCURRENCY:
            here = [s for s in sides if s.name != "oip" or c == CONCURRENCY[-1]]
            turn = (rep + c) % len(here)
            for side in here[turn:] + here[:turn]:
                runs.setdefault((side.name, c), []).append(measure(wrk, side, c, args.seconds, args.warmup))
    return runs


def median_of(results: list[WrkResult]) -> dict[str, float]:
    return {"rps": statistics.median(r.rps for r in results),
            "p50": statistics.median(r.p50_ms for r in results),
            "p99": statistics.median(r.p99_ms for r in results)}


def render(table: dict[int, dict[str, dict[str, float]]], inproc: float, info: dict[str, str],
           meta: dict[str, Any], args: argparse.Namespace, runs: Runs) -> str:
    rows = ["| concurrency | ours req/s | ours p50 ms | ours p99 ms | baseline req/s | baseline p50 ms "
            "| baseline p99 ms | ours / baseline |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for c, t in table.items():
        o, b = t["ours"], t["baseline"]
        rows.append(f"| {c} | {o['rps']:.0f} | {o['p50']:.2f} | {o['p99']:.2f} | {b['rps']:.0f} "
                    f"| {b['p50']:.2f} | {b['p99']:.2f} | {o['rps'] / b['rps']:.2f} |")
    top = CONCURRENCY[-1]
    each = "; ".join(
        f"{name} " + ", ".join(f"{r.rps:.0f}" for r in runs[(name, top)])
        for name in ("ours", "baseline", "oip") if (name, top) in runs
    )
    ratios = ", ".join(f"{o.rps / b.rps:.2f}" for o, b in zip(runs[("ours", top)], runs[("baseline", top)],
                                                              strict=True))
    oip = table[top].get("oip")
    if oip is not None:
        share, of_base = oip["rps"] / table[top]["ours"]["rps"], oip["rps"] / table[top]["baseline"]["rps"]
        oip_line = (f"Open Inference Protocol, `POST /v2/models/{MODEL}/infer` with the same record as one "
                    f"input per column (FP64, `Type` as BYTES), concurrency {top}: "
                    f"**{oip['rps']:.0f} req/s**, p50 {oip['p50']:.2f} ms, p99 {oip['p99']:.2f} ms: "
                    f"**{share:.2f}** of `/predict` in the same run ({of_base:.2f} of the baseline).")
    else:
        oip_line = ("The server has no Open Inference Protocol route (`/v2/models/{name}/infer`): "
                    "not measured.")
    batching = ("off (`SHOPFLOOR_PREDICT_BATCH_WAIT_MS=0`)" if args.batch_wait_ms == 0
                else f"on, at most {args.batch_wait_ms:g} ms")
    return f"""## Online predict, one tabular record (`bench/serve_tabular.py`)

Run: `make bench-serve` (or `.venv/bin/python bench/serve_tabular.py`), {info['date']};
{info['nproc']} CPUs ({info['cpu']}), Python {info['python']}, {info['platform']};
load average {info['loadavg']} before the measurements, {info['loadavg_after']} after.
Model: AI4I 2020 `{TARGET}`, task `{meta['task']}`, chosen family `{meta['chosen']}`
(training budget {args.budget:g} s). wrk on 127.0.0.1, one connection per concurrency level,
{args.seconds:g} s per measurement after a {args.warmup:g} s warm-up; ours and the baseline
interleaved, {args.repeats} repeats, medians shown. Micro-batching {batching}.

{chr(10).join(rows)}

Each run at concurrency {top}, req/s: {each}; ours / baseline per repeat: {ratios}.

{oip_line}

In-process limit, `estimator.predict([record])` in a tight loop, one thread: **{inproc:.0f} calls/s**
({1000 / inproc:.3f} ms per call).

- **Ours**: `shopfloor serve --workers {WORKERS}` (uvicorn, `OMP_NUM_THREADS=1`, access log off),
  `POST /v1/models/{MODEL}/predict` with `{{"records": [one row]}}` and a consumer API key: bearer
  key check (HMAC-SHA-256, cached per registry generation), rate limits, role check, alias
  `production` resolved from the per-process cache, records validated against the input schema,
  predict, request and prediction counters and latency histogram (per-process, merged at
  `/metrics`), audit count, JSON written directly (the route skips FastAPI's dependency solving;
  see `api/routes/predict.py`). Requests for the same model version that a worker reads together
  share one model call (adaptive micro-batching, `serving/batching.py`): a request alone calls
  the model at once; the others of the same turn of the event loop are scored together off the
  loop, each keeping its own validation, errors, log entry and counters.
- **Baseline**: `bench/baseline_app.py`, FastAPI + uvicorn with {WORKERS} workers, one `async def`
  endpoint: `await request.json()`, `estimator.predict(records)` on the same stored artifact files,
  dict returned; no authentication, validation, metrics or access log.
- Both share the {info['nproc']} CPUs with wrk itself (1 thread at concurrency 1, else 2), so
  absolute figures are lower than on a machine with a separate load generator; the ratio is what
  this benchmark tracks. Only one server is loaded at a time; run-to-run noise is 15 to 30 %.
- Targets on 2 cores: ours p50 under 2 ms at concurrency 1; at concurrency {top} at least the
  baseline's throughput (ratio 1.0), and the Open Inference Protocol route at least 0.9 of `/predict`.
- History of ours / baseline at concurrency 32: 0.84 to 0.88 with the direct dispatch of the hot
  routes and one model call per request; 0.79 on 2026-12-04 04:11 UTC (same code, a busier
  machine); micro-batching and the leaner hot path since.
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8, help="length of each measurement")
    parser.add_argument("--warmup", type=float, default=1, help="warm-up before each measurement")
    parser.add_argument("--repeats", type=int, default=2, help="interleaved repeats (the median is kept)")
    parser.add_argument("--budget", type=float, default=45, help="training time budget, seconds")
    parser.add_argument("--inprocess-seconds", type=float, default=4)
    parser.add_argument("--batch-wait-ms", type=float, default=1.0,
                        help="the server's SHOPFLOOR_PREDICT_BATCH_WAIT_MS (0: no micro-batching)")
    parser.add_argument("--no-docs", action="store_true", help="do not write docs/benchmarks.md")
    args = parser.parse_args()
    exit_on_sigterm()
    os.environ["OMP_NUM_THREADS"] = "1"  # before anything imports LightGBM in this process
    wrk = ensure_wrk()
    data = dataset_path()
    record = one_record(data)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env = {k: v for k, v in env.items() if not k.startswith("SHOPFLOOR_") or k == "SHOPFLOOR_DATA_DIR"}
    # one key drives all the load: lift the per-key and per-tenant request limits (they stay on and checked)
    env.update(SHOPFLOOR_RATE_LIMIT_PER_MINUTE="100000000", SHOPFLOOR_TENANT_REQUESTS_PER_MINUTE="100000000")
    env["SHOPFLOOR_PREDICT_BATCH_WAIT_MS"] = f"{args.batch_wait_ms:g}"
    started = time.monotonic()

    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp_name:
        tmp = Path(tmp_name)
        home = tmp / "home"
        ours_proc, ours_url, _ = start_shopfloor(home, env)
        base_port = free_port()
        model_dir = tmp / "model"
        base_proc = Process([sys.executable, str(REPO / "bench" / "baseline_app.py"),
                             "--model-dir", str(model_dir), "--host", LOOPBACK, "--port", str(base_port),
                             "--workers", str(WORKERS)],
                            env, tmp / "baseline.log", "baseline")
        base_url = f"http://{LOOPBACK}:{base_port}"
        with running(ours_proc):
            ours_proc.wait_http(f"{ours_url}/healthz")
            print(f"shopfloor serve up at {ours_url}; training (budget {args.budget:g} s) ...", flush=True)
            consumer, version = train(ours_url, admin_key(ours_proc), data, args.budget)
            print(f"trained {time.monotonic() - started:.0f} s after start; chosen: {version.get('chosen')}",
                  flush=True)
            task = export_model(home, model_dir)
            meta = {"task": task, "chosen": version.get("chosen")}
            inproc = inprocess_rate(model_dir, record, args.inprocess_seconds)
            print(f"in-process: {inproc:.0f} calls/s", flush=True)

            body = json.dumps({"records": [record]})
            headers = {"Content-Type": "application/json"}
            ours_script, base_script = tmp / "ours.lua", tmp / "baseline.lua"
            ours_script.write_text(wrk_post_script(body, {**headers, "Authorization": f"Bearer {consumer}"}))
            base_script.write_text(wrk_post_script(body, headers))
            ours = Side("ours", f"{ours_url}/v1/models/{MODEL}/predict", ours_script)
            base = Side("baseline", f"{base_url}/predict", base_script)
            oip_script = tmp / "oip.lua"
            oip_request = oip_body(record, version["input_schema"])
            oip_script.write_text(wrk_post_script(json.dumps(oip_request),
                                                  {**headers, "Authorization": f"Bearer {consumer}"}))
            oip = Side("oip", f"{ours_url}/v2/models/{MODEL}/infer", oip_script)

            with running(base_proc):
                base_proc.wait_http(f"{base_url}/healthz")
                answer = check_same_answer(ours.url, consumer, base.url, record)
                print(f"both answer {answer}", flush=True)
                with_oip = check_oip(oip.url, consumer, oip_request, answer)
                print("/v2 infer: " + ("same answer" if with_oip else "not served"), flush=True)
                sides = (ours, base, oip) if with_oip else (ours, base)
                for side in sides:  # every worker loads its model and warms up
                    run_wrk(wrk, side.url, side.script, 8, 3)
                info = machine_info()  # the load average just before measuring
                runs = measure_all(wrk, sides, args)

    table = {c: {s.name: median_of(runs[(s.name, c)]) for s in sides if (s.name, c) in runs}
             for c in CONCURRENCY}
    info["loadavg_after"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    if not args.no_docs:
        write_section(SECTION, render(table, inproc, info, meta, args, runs))
        print(f"wrote section {SECTION!r} of docs/benchmarks.md", flush=True)
    print(f"total {time.monotonic() - started:.0f} s", flush=True)
    top = table[CONCURRENCY[-1]]
    print(f"p50_ms_c1: {table[1]['ours']['p50']:.2f}")
    print(f"rps_c32: {top['ours']['rps']:.0f}")
    print(f"baseline_rps_c32: {top['baseline']['rps']:.0f}")
    print(f"ratio_c32: {top['ours']['rps'] / top['baseline']['rps']:.2f}")
    print(f"inprocess_rps: {inproc:.0f}", flush=True)
    if "oip" in top:
        print(f"oip_rps_c32: {top['oip']['rps']:.0f}")
        print(f"oip_ratio_c32: {top['oip']['rps'] / top['ours']['rps']:.2f}", flush=True)


if __name__ == "__main__":
    main()
