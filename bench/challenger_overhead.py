"""What a challenger costs the caller of predict: mode off, shadow and canary, in-process.

No network: the ASGI app is called directly with one JSON record, ``POST /v1/models/m/predict``
(no version: the requests a challenger takes part in), so the figures are the app's own time per
call. One small ``tabular_classification`` model trained twice (version 1 in production, version 2
the challenger). Rounds interleave the three modes; each measurement reports the caller's wall time
per call (what a client waits) and the process's CPU time per call (the challenger's run off the
request path included: the work the host does). Medians over the rounds.

Also, without the app: the decision the predict path makes when the mode is off (one cached lookup)
and the read of the ``X-Canary-Key`` header, per request.

Run: ``.venv/bin/python bench/challenger_overhead.py`` (writes its section of docs/benchmarks.md).
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import tempfile
import timeit
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from _common import asgi_posts, machine_info, train_small_model, write_section  # noqa: E402

from shopfloor.api import app as app_module  # noqa: E402
from shopfloor.api.routes.views import canary_key  # noqa: E402
from shopfloor.bootstrap import prepare  # noqa: E402
from shopfloor.security.keys import issue_key  # noqa: E402
from shopfloor.services import challenger  # noqa: E402
from shopfloor.settings import Settings  # noqa: E402

CALLS, ROUNDS, PACED, PAUSE_S = 1000, 7, 300, 0.001
MODES = {"off": ("off", None), "shadow": ("shadow", None), "canary 0.5": ("canary", 0.5)}


BODY = json.dumps({"records": [{"a": 0.1, "b": -0.3, "c": 0.7, "d": 0.2}]}).encode()


async def _per_call_us(app: Any, key: str, n: int) -> tuple[float, float]:
    """Wall and CPU µs per call of ``n`` predict calls with no version, back to back."""
    walls, cpu = await asgi_posts(app, "/v1/models/m/predict", BODY, key, n)
    return sum(walls) / n * 1e6, cpu / n * 1e6


async def _paced_us(app: Any, key: str, n: int) -> float:
    """Median wall µs of ``n`` predict calls, one every millisecond or so (the process idle between)."""
    walls, _ = await asgi_posts(app, "/v1/models/m/predict", BODY, key, n, pause_s=PAUSE_S)
    return statistics.median(walls) * 1e6


def _micro_us(platform: Any) -> tuple[float, float]:
    """Per request, with the mode off: the challenger decision, and the canary key's header read."""
    headers = [(b"host", b"127.0.0.1:8000"), (b"content-type", b"application/json"),
               (b"authorization", b"Bearer sfk_0123456789abcdef_" + b"x" * 43), (b"content-length", b"80")]
    scope = {"headers": headers}
    trials = platform.challengers
    trials.trial("default", "m", None, None)
    n, found = 200_000, []
    for fn in (lambda: trials.trial("default", "m", None, None), lambda: canary_key(scope)):
        empty = min(timeit.repeat(lambda: None, number=n, repeat=5))
        found.append((min(timeit.repeat(fn, number=n, repeat=5)) - empty) / n * 1e6)
    return found[0], found[1]


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        limits = {"rate_limit_per_minute": 10**9, "tenant_requests_per_minute": 10**9}
        settings = Settings(home=Path(tmp) / "home", **limits)
        platform = prepare(settings)
        key = issue_key(platform.store, platform.secret, tenant="default", role="admin").secret
        train_small_model(settings, platform, key, seeds=(0, 1))
        platform.store.set_alias("default", "m", "production", 1)
        app = app_module.create_app(settings, platform)
        queue = platform.challengers.queue
        loop = asyncio.new_event_loop()
        wall: dict[str, list[float]] = {m: [] for m in MODES}
        cpu: dict[str, list[float]] = {m: [] for m in MODES}
        paced: dict[str, list[float]] = {m: [] for m in MODES}
        dropped = {m: 0 for m in MODES}
        for mode, share in MODES.values():  # warm-up: caches, both models loaded
            challenger.set_mode(platform, "default", "m", mode, share, version=2 if mode != "off" else None)
            loop.run_until_complete(_per_call_us(app, key, 200))
            queue.wait_idle(30)
        before = machine_info()
        for r in range(ROUNDS):
            names = list(MODES)[r % 3 :] + list(MODES)[: r % 3]
            for name in names:
                mode, share = MODES[name]
                challenger.set_mode(platform, "default", "m", mode, share)
                was = queue.dropped
                w, c = loop.run_until_complete(_per_call_us(app, key, CALLS))
                queue.wait_idle(30)  # the next measurement starts with an empty queue
                paced[name].append(loop.run_until_complete(_paced_us(app, key, PACED)))
                queue.wait_idle(30)
                wall[name].append(w)
                cpu[name].append(c)
                dropped[name] += queue.dropped - was
        challenger.set_mode(platform, "default", "m", "off")
        decision, header = _micro_us(platform)
        after = machine_info()
        platform.close()
    med_wall = {m: statistics.median(v) for m, v in wall.items()}
    med_cpu = {m: statistics.median(v) for m, v in cpu.items()}
    med_paced = {m: statistics.median(v) for m, v in paced.items()}
    rows = "\n".join(
        f"| {m} | {med_wall[m]:.1f} | {med_wall[m] / med_wall['off']:.2f} | {med_cpu[m]:.1f} "
        f"| {med_cpu[m] / med_cpu['off']:.2f} | {med_paced[m]:.1f} | {med_paced[m] / med_paced['off']:.2f} "
        f"| {dropped[m]} of {(CALLS + PACED) * ROUNDS} |"
        for m in MODES
    )
    body = f"""## A challenger's cost to the caller of predict (`bench/challenger_overhead.py`)

Run: `.venv/bin/python bench/challenger_overhead.py`, {before["date"]}; {before["nproc"]} CPUs
({before["cpu"]}), Python {before["python"]}; load average {before["loadavg"]} before,
{after["loadavg"]} after.
The ASGI app called in-process (no network) with one JSON record, `POST /v1/models/m/predict` (no
version), a small `tabular_classification` model trained twice (version 2 the challenger),
{ROUNDS} rounds interleaved, medians; per round and mode {CALLS} calls back to back (caller's wall
time and the process's CPU time per call), then {PACED} calls about {PAUSE_S * 1000:g} ms apart (the
caller's median wall time per call: a moderate load, the process idle between requests).

| mode | back to back: µs per call | / off | CPU µs per call | / off | paced: µs per call | / off | dropped |
|---|---:|---:|---:|---:|---:|---:|---:|
{rows}

With the mode off the predict path adds **{decision:.2f} µs** per request to decide (one cached lookup,
`Challengers.trial`) and **{header:.2f} µs** to look for an `X-Canary-Key` header
(best of 5 × 200,000 calls each).

- **off**: no challenger: the plain path plus the decision above.
- **shadow**: the champion answers; the challenger runs the same record on the process's challenger
  thread and both answers go to the prediction log (every request, whatever the sampling rate).
- **canary 0.5**: half the requests (by a hash of the request id) are answered by the challenger, the
  other side runs off the request path; the same recording.
- The caller never waits for the side run off the request path, but in one process that side's
  work shares the CPU and Python's interpreter lock with the requests. Back to back (a process
  saturated with requests) the challenger's work is paid between the calls: the time per call rises
  with the CPU per call. With idle time between requests (paced) it runs in the gaps; the caller
  then pays what stays on the request path: logging the served answer (the mode off logs nothing at
  sampling rate 0), handing the run to the challenger thread, and the interpreter lock taken back from
  it. A queue that is full drops the run (counted in
  `shopfloor_challenger_requests_total{{outcome="dropped"}}`).
"""
    write_section("challenger_overhead", body)
    print(body)
    for m in MODES:
        label = m.replace(" ", "_").replace(".", "")
        print(f"back_to_back_us_{label}: {med_wall[m]:.1f}")
        print(f"cpu_us_{label}: {med_cpu[m]:.1f}")
        print(f"paced_us_{label}: {med_paced[m]:.1f}")
    print(f"decision_off_us: {decision:.2f}")
    print(f"canary_key_read_us: {header:.2f}")


if __name__ == "__main__":
    main()
