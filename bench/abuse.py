"""Abuse: one tenant attacks the server while another sends steady predictions.

Starts ``shopfloor serve --workers 2`` on a fresh home (loopback only) with two tenants made
locally with ``shopfloor keys create``: ``victim`` and ``attacker``. Each trains a small AI4I
model (a subset, the smallest time budget) and promotes it; the attacker also trains a small
weekly-sales forecaster. Then the victim sends about 20 single-record predictions per second from
its own threads while the attacker runs the attack cases of issue 13, one phase after another and
several at once inside a phase:

- a masking pattern with catastrophic backtracking, ``(a|a)+b``, previewed on ``"a" * 27`` and
  applied to an uploaded 3-row CSV with a 27-character ``aaa...`` cell;
- a zero-shot template with a format spec, ``{label} {label:x>30000000}``;
- 4 concurrent LIME and 4 concurrent SHAP explanations of 1,000 records each;
- 4 concurrent optimisations with the most trials allowed in the response, a forecast with a huge
  horizon and series list;
- a synthesize with a huge row count, and synthesize jobs beyond the tenant's jobs quota;
- 100,000 levels of ``[`` on ``/predict``, and JSON bodies without a Content-Type header;
- 400 requests with made-up keys, and a 60-request burst against a key limited to 20 a minute.

Every request has a 30 s timeout and every attack a deadline: one that hangs is cut off and
reported so. The API worker processes (children of the master holding the listening socket) are
sampled from /proc all along. Writes section ``abuse`` of docs/benchmarks.md and ends with
``victim_errors``, ``victim_p99_ms`` and ``worker_restarts`` (targets: 0, under 250 ms, 0).

    .venv/bin/python bench/abuse.py
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
from _common import LOOPBACK, REPO, Process, exit_on_sigterm, free_port, machine_info, write_section

SECTION = "abuse"
MODEL = "line"
TARGET = "Machine failure"
EXCLUDE = ("UDI", "Product ID", "TWF", "HDF", "PWF", "OSF", "RNF")
SUBSET_ROWS = 1000
BUDGET_S = 5.0
VICTIM_RATE = 20.0  # predictions per second
VICTIM_IN_FLIGHT = 64
BASELINE_S = 5.0
QUIET = ("baseline", "after")  # the victim's phases without attacks
FORECAST_WAIT_S = 90.0
SUSTAIN_S = 30.0  # seconds of heavy requests inside their caps
REQUEST_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
HUB_MODEL = "all-MiniLM-L6-v2"



# ---------------------------------------------------------------------------------------- outcomes

def outcome(send: Callable[[], httpx.Response]) -> str:
    """The status code of one request as text, or what went wrong instead of an answer."""
    try:
        return str(send().status_code)
    except httpx.TimeoutException:
        return "timeout"
    except httpx.TransportError as exc:
        return f"connection error ({type(exc).__name__})"


@dataclass
class Attack:
    """One attack case: its answers (status or failure -> count), time, and whether it was cut off."""

    name: str
    answers: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    cut_off: bool = False
    note: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, answer: str) -> None:
        with self.lock:
            self.answers[answer] += 1

    def row(self) -> str:
        answers = ", ".join(f"{k} x{v}" for k, v in sorted(self.answers.items())) or "none"
        if self.cut_off:
            answers += "; **cut off at its deadline**"
        if self.note:
            answers += f"; {self.note}"
        cells = [cell.replace("|", "\\|") for cell in (self.name, answers)]  # pipes in a table cell
        return f"| {cells[0]} | {cells[1]} | {self.seconds:.1f} |"


AttackFn = Callable[[Attack, float], None]  # an attack case: (its record, deadline on the monotonic clock)


def run_phase(attacks: list[tuple[Attack, AttackFn]], deadline_s: float) -> None:
    """Run the attacks of one phase at once; each gets ``deadline_s``, after which it is cut off."""
    threads: list[tuple[Attack, threading.Thread, float]] = []
    for attack, fn in attacks:
        start = time.monotonic()
        end = start + deadline_s

        def body(a: Attack = attack, f: AttackFn = fn, e: float = end, s: float = start) -> None:
            try:
                f(a, e)
            except Exception as exc:  # noqa: BLE001 - reported in the table, never fatal
                a.note = f"script error: {type(exc).__name__}: {str(exc)[:120]}"
            finally:
                a.seconds = time.monotonic() - s

        thread = threading.Thread(target=body, daemon=True, name=attack.name)
        thread.start()
        threads.append((attack, thread, start))
    for attack, thread, start in threads:
        thread.join(max(0.0, start + deadline_s + 1 - time.monotonic()))
        if thread.is_alive():
            attack.cut_off = True
            attack.seconds = time.monotonic() - start
        print(f"  {attack.name}: {dict(attack.answers)}{' (cut off)' if attack.cut_off else ''} "
              f"{attack.seconds:.1f} s", flush=True)


def fan_out(
    attack: Attack, deadline: float, n: int, workers: int, send: Callable[[int], httpx.Response]
) -> None:
    """``n`` requests from ``workers`` threads, none started after ``deadline``."""

    def one(i: int) -> None:
        if time.monotonic() < deadline:
            attack.add(outcome(lambda: send(i)))

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(one, range(n)))
    if time.monotonic() >= deadline and sum(attack.answers.values()) < n:
        attack.cut_off = True


def together(attack: Attack, sends: list[tuple[str, Callable[[], httpx.Response]]]) -> None:
    """Send the labelled requests at once; each answer is counted under its label."""

    def one(item: tuple[str, Callable[[], httpx.Response]]) -> None:
        attack.add(f"{item[0]} {outcome(item[1])}".strip())

    with ThreadPoolExecutor(len(sends)) as pool:
        list(pool.map(one, sends))


# ------------------------------------------------------------------------------------------ victim

class Victim:
    """Steady single-record predictions: a clock thread starts one every 1/20 s on a pool of senders,
    so a hung answer does not slow the others down; at most ``VICTIM_IN_FLIGHT`` are outstanding (a
    slot finding that many is skipped and counted). Every request's phase, latency and outcome."""

    def __init__(self, url: str, key: str, record: dict[str, Any], max_seconds: float) -> None:
        self.url = f"{url}/v1/models/{MODEL}/predict"
        self.headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        self.body = json.dumps({"records": [record]})
        self.max_seconds = max_seconds
        self.stop = threading.Event()
        self.phase = "baseline"
        self.samples: list[tuple[str, float, bool]] = []  # (phase, latency ms, answered 2xx)
        self.failures: Counter[str] = Counter()
        self.skipped = 0
        self.in_flight = 0
        self.lock = threading.Lock()
        self.pool = ThreadPoolExecutor(VICTIM_IN_FLIGHT, thread_name_prefix="victim")
        self.client = httpx.Client(timeout=REQUEST_TIMEOUT, limits=httpx.Limits(
            max_connections=VICTIM_IN_FLIGHT, max_keepalive_connections=VICTIM_IN_FLIGHT))
        self.clock = threading.Thread(target=self._clock, daemon=True, name="victim-clock")
        self.started = self.ended = 0.0

    def start(self) -> None:
        self.started = time.monotonic()
        self.clock.start()

    def _clock(self) -> None:
        period = 1 / VICTIM_RATE
        for k in range(int(self.max_seconds * VICTIM_RATE)):  # bounded in count and in time
            due = self.started + k * period
            if self.stop.wait(max(0.0, due - time.monotonic())):
                return
            if time.monotonic() - due > period:
                continue  # the clock itself fell behind (a starved machine): skip, never burst
            with self.lock:
                if self.in_flight >= VICTIM_IN_FLIGHT:
                    self.skipped += 1
                    continue
                self.in_flight += 1
            self.pool.submit(self._send)

    def _send(self) -> None:
        t0 = time.perf_counter()
        answer = outcome(lambda: self.client.post(self.url, content=self.body, headers=self.headers))
        ms = (time.perf_counter() - t0) * 1000
        with self.lock:
            self.in_flight -= 1
            # counted in the phase it ended in: a request hung by an attack belongs to that attack
            self.samples.append((self.phase, ms, answer[0] == "2"))
            if answer[0] != "2":
                self.failures[answer] += 1

    def finish(self) -> None:
        self.stop.set()
        self.clock.join(5)
        self.pool.shutdown(wait=True)  # every request has its own timeout
        self.client.close()
        self.ended = time.monotonic()

    @property
    def errors(self) -> int:
        return sum(self.failures.values())

    def latencies(self, phase: str | None = None) -> list[float]:
        """Latencies of one phase; without a phase, of the attack phases (not the quiet ones around)."""
        if phase is None:
            return [ms for p, ms, _ in self.samples if p not in QUIET]
        return [ms for p, ms, _ in self.samples if p == phase]

    def p(self, q: float, phase: str | None = None) -> float:
        found = self.latencies(phase)
        return float(np.percentile(found, q)) if found else float("nan")

    def phase_row(self, phase: str) -> str:
        rows = [s for s in self.samples if s[0] == phase]
        failed = sum(1 for s in rows if not s[2])
        return (f"| {phase} | {len(rows)} | {failed} | {self.p(50, phase):.1f} | {self.p(99, phase):.1f} | "
                f"{max((s[1] for s in rows), default=0):.0f} |")


# ----------------------------------------------------------------------------------------- workers

def _listen_inodes(port: int) -> set[str]:
    found: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            if len(parts) > 9 and parts[3] == "0A" and int(parts[1].rsplit(":", 1)[1], 16) == port:
                found.add(parts[9])
    return found


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                kids.append(int(stat.parent.name))
        except (OSError, IndexError, ValueError):
            continue
    return kids


def api_workers(master: int, port: int) -> set[int]:
    """Children of the master that hold the listening socket: the API workers (not the job runner)."""
    inodes = _listen_inodes(port)
    workers: set[int] = set()
    for child in _children(master):
        try:
            for fd in Path(f"/proc/{child}/fd").iterdir():
                link = os.readlink(fd)
                if link.startswith("socket:[") and link[8:-1] in inodes:
                    workers.add(child)
                    break
        except OSError:
            continue
    return workers


class WorkerWatch(threading.Thread):
    """Samples the API worker pids every 0.25 s; a pid seen once and gone later died or was replaced."""

    def __init__(self, master: int, port: int) -> None:
        super().__init__(daemon=True, name="worker-watch")
        self.master, self.port = master, port
        self.initial = api_workers(master, port)
        self.seen: set[int] = set(self.initial)
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.25):
            self.seen |= api_workers(self.master, self.port)

    def finish(self) -> tuple[int, set[int]]:
        self.stop.set()
        self.join(5)
        final = api_workers(self.master, self.port)
        self.seen |= final
        return len(self.seen - final), final


# ------------------------------------------------------------------------------------------- setup

def data_dir() -> Path:
    root = os.environ.get("SHOPFLOOR_DATA_DIR")
    return Path(root) if root else REPO.parent / "shared" / "data"


def cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "shopfloor.cli", *args], env=env, capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        raise RuntimeError(f"shopfloor {' '.join(args)} failed: {done.stderr[-2000:]}")
    return done.stdout.strip()


def train_tabular(url: str, key: str, subset: Path) -> dict[str, Any]:
    from shopfloor import Client

    with Client(url, key, timeout=120) as c:
        ds = c.upload_dataset(subset, name="ai4i-subset")
        job = c.train(ds["id"], target=TARGET, model_name=MODEL, exclude=EXCLUDE, time_budget_s=BUDGET_S)
        return {"dataset_id": ds["id"], "job_id": job["id"]}


def train_forecast(url: str, key: str, tmp: Path) -> str | None:
    """Start a small weekly-sales forecaster (20 products, 44 weeks, horizon 4) -> job id, or None."""
    from shopfloor import Client

    sales = data_dir() / "sales_weekly" / "Sales_Transactions_Dataset_Weekly.csv"
    if not sales.is_file():
        return None
    wide = pd.read_csv(sales).head(20)
    path = tmp / "sales-small.csv"
    wide[["Product_Code", *[f"W{k}" for k in range(44)]]].to_csv(path, index=False)
    with Client(url, key, timeout=120) as c:
        ds = c.upload_dataset(path, layout="wide")
        job = c.train(ds["id"], None, "demand", task="forecast", time_budget_s=BUDGET_S,
                      options={"horizon": 4})
        return str(job["id"])


def wait_jobs(url: str, key: str, jobs: list[str], timeout: float) -> dict[str, str]:
    from shopfloor import Client

    status: dict[str, str] = {}
    deadline = time.monotonic() + timeout
    with Client(url, key, timeout=60) as c:
        while time.monotonic() < deadline:
            status = {j: str(c.get_job(j)["status"]) for j in jobs}
            if all(s in ("succeeded", "failed", "cancelled") for s in status.values()):
                break
            time.sleep(1)
    return status


# ----------------------------------------------------------------------------------------- attacks

class Attacker:
    def __init__(self, url: str, keys: dict[str, str], record: dict[str, Any], dataset_id: str,
                 env: dict[str, str], forecast: str | None) -> None:
        self.url, self.keys, self.record, self.dataset_id = url, keys, record, dataset_id
        self.env, self.forecast_model = env, forecast
        self.client = httpx.Client(base_url=url, timeout=REQUEST_TIMEOUT,
                                   limits=httpx.Limits(max_connections=64, max_keepalive_connections=0))

    def h(self, role: str, json_body: bool = True) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.keys[role]}"}
        if json_body:
            headers["Content-Type"] = "application/json"
        return headers

    def post(self, path: str, role: str, body: Any, json_body: bool = True) -> httpx.Response:
        return self.client.post(path, content=json.dumps(body), headers=self.h(role, json_body))

    # -- phase 1: the masking regex
    def masking(self, a: Attack, deadline: float) -> None:
        policy = {"names": [], "patterns": [{"name": "EVIL", "regex": "(a|a)+b"}], "reversible": False}
        body = json.dumps(policy)
        put = outcome(lambda: self.client.put("/v1/masking", content=body, headers=self.h("admin")))
        a.add(f"PUT {put}")
        csv = "id,note\n1,hello\n2," + "a" * 27 + "\n3,world\n"
        files = {"file": ("notes.csv", csv.encode(), "text/csv")}
        together(a, [
            ("preview", lambda: self.post("/v1/masking/preview", "admin", {"text": "a" * 27})),
            ("upload", lambda: self.client.post("/v1/datasets", files=files, data={"name": "notes"},
                                                headers=self.h("admin", json_body=False))),
        ])
        # put a harmless policy back so later uploads of the run are not affected
        clean = json.dumps({"names": [], "patterns": [], "reversible": False})
        outcome(lambda: self.client.put("/v1/masking", content=clean, headers=self.h("admin"), timeout=5))

    # -- phase 2: template, nesting, missing header
    def zero_shot(self, a: Attack, deadline: float) -> None:
        body = {"texts": ["hydraulic pump leaks oil"], "labels": ["hydraulic", "electrical"],
                "template": "{label} {label:x>30000000}", "variant": "torch"}
        a.add(outcome(lambda: self.post(f"/v1/hub/{HUB_MODEL}/classify", "consumer", body)))

    def nested_json(self, a: Attack, deadline: float) -> None:
        body = "[" * 100_000
        path = f"/v1/models/{MODEL}/predict"
        fan_out(a, deadline, 3, 3, lambda i: self.client.post(path, content=body, headers=self.h("consumer")))

    def no_content_type(self, a: Attack, deadline: float) -> None:
        records = {"records": [self.record]}
        together(a, [
            ("predict", lambda: self.post(f"/v1/models/{MODEL}/predict", "consumer", records, False)),
            ("explain", lambda: self.post(f"/v1/models/{MODEL}/explain", "consumer", records, False)),
            ("masking", lambda: self.client.put("/v1/masking", content=json.dumps({"names": []}),
                                                headers=self.h("admin", json_body=False))),
        ])

    # -- phase 3: explanations
    def explain(self, method: str) -> AttackFn:
        records = {"records": [self.record] * 1000}

        def run(a: Attack, deadline: float) -> None:
            path = f"/v1/models/{MODEL}/explain?method={method}"
            fan_out(a, deadline, 4, 4, lambda i: self.post(path, "consumer", records))

        return run

    def sustained(self, a: Attack, deadline: float) -> None:
        """Heavy requests inside their caps, from 6 clients in a loop for SUSTAIN_S: what a tenant
        may send without being refused, so the load the other tenant must be shielded from."""
        fixed = {k: v for k, v in self.record.items() if k not in ("Rotational speed [rpm]", "Torque [Nm]")}
        sends: list[tuple[str, str, dict[str, Any]]] = [
            ("lime", f"/v1/models/{MODEL}/explain?method=lime", {"records": [self.record] * 50}),
            ("shap", f"/v1/models/{MODEL}/explain?method=shap", {"records": [self.record] * 1000}),
            ("optimize", f"/v1/models/{MODEL}/optimize",
             {"controls": {"Rotational speed [rpm]": {"min": 1200, "max": 2800},
                           "Torque [Nm]": {"min": 10, "max": 70}},
              "fixed": fixed, "objective": "minimize", "trials": 300}),
        ]
        end = min(deadline, time.monotonic() + SUSTAIN_S)

        def loop(i: int) -> None:
            n = i
            while time.monotonic() < end:
                label, path, body = sends[n % len(sends)]
                a.add(f"{label} {outcome(lambda p=path, b=body: self.post(p, 'consumer', b))}")
                n += 1

        with ThreadPoolExecutor(6) as pool:
            list(pool.map(loop, range(6)))

    # -- phase 4: optimisation and forecast
    def optimize(self, a: Attack, deadline: float) -> None:
        fixed = {k: v for k, v in self.record.items() if k not in ("Rotational speed [rpm]", "Torque [Nm]")}
        body = {"controls": {"Rotational speed [rpm]": {"min": 1200, "max": 2800},
                             "Torque [Nm]": {"min": 10, "max": 70}},
                "fixed": fixed, "objective": "minimize", "trials": 300}
        fan_out(a, deadline, 4, 4, lambda i: self.post(f"/v1/models/{MODEL}/optimize", "consumer",
                                                        {**body, "seed": i}))

    def forecast(self, a: Attack, deadline: float) -> None:
        if self.forecast_model is None:
            a.note = "skipped: no forecast model could be trained in time"
            return
        series = [f"P{i}" for i in range(1, 100_001)]
        path = f"/v1/models/{self.forecast_model}/forecast"
        together(a, [
            ("horizon", lambda: self.post(path, "consumer", {"series": "all", "horizon": 10_000_000})),
            ("series", lambda: self.post(path, "consumer", {"series": series, "levels": [80]})),
        ])

    # -- phase 5: synthesize
    def synthesize(self, a: Attack, deadline: float) -> None:
        path = f"/v1/datasets/{self.dataset_id}/synthesize"
        jobs = [("job", lambda s=i: self.post(path, "builder", {"rows": 100, "seed": s})) for i in range(10)]
        together(a, [("huge rows", lambda: self.post(path, "builder", {"rows": 1_000_000_000})), *jobs])
        accepted = self.cancel_jobs()
        a.note = (f"{accepted} synthesize jobs were queued or running (quota 2), then cancelled"
                  if accepted >= 0 else "the job list did not answer, so the jobs could not be counted")

    def cancel_jobs(self) -> int:
        found = 0
        try:
            jobs = self.client.get("/v1/jobs", headers=self.h("admin")).json()["items"]
        except (httpx.HTTPError, ValueError, KeyError):
            return -1
        for job in jobs:
            if job.get("type") == "synthesize" and job.get("status") in ("queued", "running"):
                found += 1
                outcome(lambda j=job: self.client.post(f"/v1/jobs/{j['id']}/cancel", headers=self.h("admin")))
        return found

    # -- phase 6: keys and rates
    def made_up_keys(self, a: Attack, deadline: float) -> None:
        rng = np.random.default_rng(13)

        def send(i: int) -> httpx.Response:
            fake = f"sfk_{rng.bytes(6).hex()}_{rng.bytes(18).hex()}"
            return self.client.get("/v1/models", headers={"Authorization": f"Bearer {fake}"})

        fan_out(a, deadline, 400, 8, send)

    def burst(self, a: Attack, deadline: float) -> None:
        fan_out(a, deadline, 60, 8, lambda i: self.client.get("/v1/models", headers=self.h("burst")))


# -------------------------------------------------------------------------------------------- main

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deadline", type=float, default=45, help="seconds each attack may take")
    parser.add_argument("--keep", action="store_true", help="keep the temporary home and server log")
    args = parser.parse_args()
    exit_on_sigterm()
    t_start = time.monotonic()
    ai4i = data_dir() / "ai4i2020" / "ai4i2020.csv"
    if not ai4i.is_file():
        raise SystemExit(f"dataset not found: {ai4i} (set SHOPFLOOR_DATA_DIR to the folder with ai4i2020/)")
    tmp = Path(tempfile.mkdtemp(prefix="shopfloor-abuse-"))
    home = tmp / "home"
    src = str(REPO / "src")
    env = {
        **os.environ,
        "SHOPFLOOR_HOME": str(home),
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": os.pathsep.join([src, *filter(None, [os.environ.get("PYTHONPATH")])]),
    }
    frame = pd.read_csv(ai4i, encoding="utf-8-sig")
    subset = tmp / "ai4i-subset.csv"
    frame.head(SUBSET_ROWS).to_csv(subset, index=False)
    record = {k: (v.item() if hasattr(v, "item") else v)
              for k, v in frame.drop(columns=[*EXCLUDE, TARGET]).iloc[0].to_dict().items()}
    admin = {t: cli(env, "keys", "create", "--role", "admin", "--tenant", t, "--name", "bench")
             for t in ("victim", "attacker")}
    port = free_port()
    url = f"http://{LOOPBACK}:{port}"
    server = Process([sys.executable, "-m", "shopfloor.cli", "serve", "--host", LOOPBACK, "--port", str(port),
                      "--workers", "2"], env, tmp / "server.log", "shopfloor serve")
    server.start()
    victim: Victim | None = None
    watch: WorkerWatch | None = None
    attacks: list[Attack] = []
    try:
        server.wait_http(f"{url}/healthz")
        from shopfloor import Client

        # -- set-up: a model per tenant, keys per role, the attacker's forecaster and jobs quota
        trained = {t: train_tabular(url, admin[t], subset) for t in ("victim", "attacker")}
        forecast_job = train_forecast(url, admin["attacker"], tmp)
        status = wait_jobs(url, admin["victim"], [trained["victim"]["job_id"]], 240)
        jobs_a = [trained["attacker"]["job_id"]]
        status |= wait_jobs(url, admin["attacker"], jobs_a[:1], 240)
        if forecast_job:  # a forecaster only if it is quick to make; the forecast case is skipped otherwise
            status |= wait_jobs(url, admin["attacker"], [forecast_job], FORECAST_WAIT_S)
            if status[forecast_job] != "succeeded":
                with Client(url, admin["attacker"]) as c:
                    c.cancel_job(forecast_job)
        if any(status[trained[t]["job_id"]] != "succeeded" for t in trained):
            raise RuntimeError(f"training failed: {status}\n{server.log_tail()}")
        keys: dict[str, str] = {"admin": admin["attacker"]}
        with Client(url, admin["victim"]) as c:
            c.set_alias(MODEL, "production", 1)
            victim_key = str(c.create_key("consumer", name="steady")["secret"])
        forecast_model: str | None = None
        with Client(url, admin["attacker"]) as c:
            c.set_alias(MODEL, "production", 1)
            for role in ("builder", "consumer"):
                keys[role] = str(c.create_key(role, name=role)["secret"])
            keys["burst"] = str(c.create_key("consumer", name="burst")["secret"])
            if forecast_job and status.get(forecast_job) == "succeeded":
                c.set_alias("demand", "production", 1)
                forecast_model = "demand"
        cli(env, "tenants", "quotas", "set", "attacker", "--jobs", "2")
        # both workers load both models before the clock starts
        with httpx.Client(timeout=30) as warm:
            for key in (victim_key, keys["consumer"]):
                for _ in range(6):
                    warm.post(f"{url}/v1/models/{MODEL}/predict", json={"records": [record]},
                              headers={"Authorization": f"Bearer {key}"}).raise_for_status()
        setup_s = time.monotonic() - t_start
        print(f"set-up done in {setup_s:.0f} s; forecast model: {forecast_model}", flush=True)

        assert server.proc is not None
        watch = WorkerWatch(server.proc.pid, port)
        initial_workers = sorted(watch.initial)
        watch.start()
        attacker = Attacker(url, keys, record, trained["attacker"]["dataset_id"], env, forecast_model)
        max_victim_s = 7 * args.deadline + 60
        victim = Victim(url, victim_key, record, max_victim_s)
        load_before = machine_info()["loadavg"]
        victim.start()
        time.sleep(BASELINE_S)  # a few seconds without attacks first

        def case(name: str, fn: AttackFn) -> tuple[Attack, AttackFn]:
            attack = Attack(name)
            attacks.append(attack)
            return attack, fn

        def set_burst_quota() -> None:
            cli(env, "tenants", "quotas", "set", "attacker", "--key-rpm", "20")

        phases: list[tuple[str, list[tuple[Attack, AttackFn]]]] = [
            ("masking", [case("masking `(a|a)+b`: PUT, preview `a`x27, upload 3-row CSV", attacker.masking)]),
            ("requests", [
                case("zero-shot template `{label} {label:x>30000000}`", attacker.zero_shot),
                case("100,000 levels of `[` on /predict (x3)", attacker.nested_json),
                case("JSON without Content-Type (predict, explain, masking)", attacker.no_content_type),
            ]),
            ("explain", [
                case("LIME, 1,000 records, 4 at once", attacker.explain("lime")),
                case("SHAP, 1,000 records, 4 at once", attacker.explain("shap")),
            ]),
            ("optimize", [
                case("optimize, 300 trials (most in the response), 4 at once", attacker.optimize),
                case("forecast: horizon 10,000,000; 100,000 series", attacker.forecast),
            ]),
            ("heavy", [case(f"LIME 50 records, SHAP 1,000 records, optimize 300 trials: 6 clients in a loop "
                            f"for {SUSTAIN_S:.0f} s (inside every cap)", attacker.sustained)]),
            ("synthesize", [case("synthesize 10^9 rows; 10 jobs against a quota of 2", attacker.synthesize)]),
            ("keys", [
                case("400 requests with made-up keys", attacker.made_up_keys),
                case("60-request burst, key limited to 20/min", attacker.burst),
            ]),
        ]
        for label, phase in phases:
            if label == "keys":
                set_burst_quota()
            print(f"phase {label} (victim so far: {len(victim.samples)} requests, "
                  f"{victim.errors} errors; API workers {sorted(watch.seen)})", flush=True)
            victim.phase = label
            run_phase(phase, args.deadline)
        victim.phase = "after"
        time.sleep(BASELINE_S)
        victim.finish()
        restarts, final_workers = watch.finish()
        watch = None
        total_s = time.monotonic() - t_start
        load = f"{load_before} / {machine_info()['loadavg']}"
        report(args, attacks, victim, restarts, initial_workers, sorted(final_workers),
               [label for label, _ in phases], load, setup_s, total_s)
        victim = None
    finally:
        if victim is not None:
            victim.stop.set()
            victim.pool.shutdown(wait=False, cancel_futures=True)
        if watch is not None:
            watch.stop.set()
        server.stop()
        if not args.keep:
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"kept {tmp}")


def report(args: argparse.Namespace, attacks: list[Attack], victim: Victim, restarts: int,
           initial: list[int], final: list[int], phases: list[str], load: str, setup_s: float,
           total_s: float) -> None:
    info = machine_info()
    sent = len(victim.samples)
    span = victim.ended - victim.started
    failures = ", ".join(f"{k} x{v}" for k, v in victim.failures.most_common()) or "none"
    lines = [
        "## Abuse: one tenant attacks, another predicts (`bench/abuse.py`)",
        "",
        f"Command: `.venv/bin/python bench/abuse.py`; {info['date']}, {info['nproc']} cores ({info['cpu']}). "
        "`shopfloor serve --workers 2` on 127.0.0.1 with two tenants. The victim tenant sends "
        f"{VICTIM_RATE:.0f} single-record predictions per second (each from its own thread, at most "
        f"{VICTIM_IN_FLIGHT} outstanding) for the whole run; the attacker tenant runs the cases of issue 13 "
        f"in {len(phases)} phases, the cases of a phase at once, after {BASELINE_S:.0f} s without attacks. "
        f"Every request has a 30 s timeout and every case a {args.deadline:.0f} s deadline. "
        f"Models: AI4I, first {SUBSET_ROWS} rows, {BUDGET_S:.0f} s budget, one per tenant. "
        f"Set-up {setup_s:.0f} s, whole run {total_s:.0f} s; load average (1, 5, 15 min) before the attacks "
        f"and after: {load}.",
        "",
        "| attack | answers (status x count) | seconds |",
        "|---|---|---:|",
        *[a.row() for a in attacks],
        "",
        f"- Victim: {sent} predictions in {span:.0f} s; failed: {victim.errors} ({failures}); "
        f"latency during the attacks p50 {victim.p(50):.1f} ms, p99 {victim.p(99):.1f} ms, "
        f"max {max(victim.latencies(), default=0):.0f} ms (failed requests counted with the time they "
        f"took); {victim.skipped} slots skipped with {VICTIM_IN_FLIGHT} requests outstanding.",
        f"- API workers at the start {initial}, at the end {final}: {restarts} died or were replaced.",
        "",
        "Victim by phase (each request counted in the phase it ended in; latency in ms):",
        "",
        "| phase | predictions | failed | p50 | p99 | max |",
        "|---|---:|---:|---:|---:|---:|",
        *[victim.phase_row(phase) for phase in ["baseline", *phases, "after"]],
        "",
        "| headline | measured | target |",
        "|---|---:|---:|",
        f"| victim_errors | {victim.errors} | 0 |",
        f"| victim_p99_ms | {victim.p(99):.1f} | < 250 |",
        f"| worker_restarts | {restarts} | 0 |",
    ]
    write_section(SECTION, "\n".join(lines))
    print(f"victim_errors: {victim.errors}")
    print(f"victim_p99_ms: {victim.p(99):.1f}")
    print(f"worker_restarts: {restarts}")


if __name__ == "__main__":
    main()
