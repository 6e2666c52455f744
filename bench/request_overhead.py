"""What the request context (X-Request-ID, log context) and tracing cost on one predict call.

In-process, no network: the ASGI app is called directly with one JSON record, so the figure is
the app's own time per call, the part these layers can change. Three apps on one registry:

* ``without``: the app without the request-context layer (the server before it had one);
* ``with``: the app as it runs without an OTLP endpoint (request id, log context);
* ``traced``: with an OTLP endpoint (a loopback collector that accepts and drops the spans).

Rounds interleave the three; medians of the per-call CPU times are reported.
Run: ``.venv/bin/python bench/request_overhead.py`` (writes its section of docs/benchmarks.md).
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from _common import asgi_posts, machine_info, train_small_model, write_section  # noqa: E402

from shopfloor.api import app as app_module  # noqa: E402
from shopfloor.api import request_context  # noqa: E402
from shopfloor.bootstrap import prepare  # noqa: E402
from shopfloor.security.keys import issue_key  # noqa: E402
from shopfloor.settings import Settings  # noqa: E402

CALLS, ROUNDS = 2000, 11


class _Drop(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def _app(settings: Settings, platform: Any, context: bool) -> Any:
    install = request_context.install
    if not context:
        request_context.install = lambda app, tracing: None  # type: ignore[assignment]
    try:
        return app_module.create_app(settings, platform)
    finally:
        request_context.install = install


async def _per_call_us(app: Any, key: str, n: int) -> float:
    body = json.dumps({"records": [{"a": 0.1, "b": -0.3, "c": 0.7, "d": 0.2}]}).encode()
    # CPU time of the process (the exporter's thread included): the machine is shared, and other
    # processes' load would otherwise dominate the differences of a few microseconds
    _, took = await asgi_posts(app, "/v1/models/m/predict", body, key, n, query=b"version=1")
    return took / n * 1e6


async def _layer_alone_us(n: int) -> tuple[float, float]:
    """CPU µs per call of a bare ASGI app answering 200, and of the same inside the request-context
    layer (no endpoint): the layer's own cost, free of the predict path's noise."""

    async def bare(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"0")]})
        await send({"type": "http.response.body", "body": b""})

    async def drop(message: dict[str, Any]) -> None:
        pass

    scope = {"type": "http", "method": "POST", "path": "/v1/models/m/predict", "headers": [(b"a", b"b")]}
    found = []
    for app in (bare, request_context.RequestContext(bare, None)):
        start = time.process_time()
        for _ in range(n):
            await app(dict(scope), None, drop)
        found.append((time.process_time() - start) / n * 1e6)
    return found[0], found[1]


def main() -> None:
    collector = ThreadingHTTPServer(("127.0.0.1", 0), _Drop)
    threading.Thread(target=collector.serve_forever, daemon=True).start()
    with tempfile.TemporaryDirectory() as tmp:
        # no rate limit in the way of a tight loop
        limits = {"rate_limit_per_minute": 10**9, "tenant_requests_per_minute": 10**9}
        settings = Settings(home=Path(tmp) / "home", **limits)
        platform = prepare(settings)
        key = issue_key(platform.store, platform.secret, tenant="default", role="admin").secret
        train_small_model(settings, platform, key)
        traced = settings.model_copy(update={"otlp_endpoint": f"http://127.0.0.1:{collector.server_address[1]}"})
        apps = {
            "without": _app(settings, platform, context=False),
            "with": _app(settings, platform, context=True),
            "traced": _app(traced, platform, context=True),
        }
        loop = asyncio.new_event_loop()
        times: dict[str, list[float]] = {name: [] for name in apps}
        for app in apps.values():  # warm-up: caches, first model load
            loop.run_until_complete(_per_call_us(app, key, 200))
        before = machine_info()
        for r in range(ROUNDS):
            for name in list(apps)[r % 3 :] + list(apps)[: r % 3]:
                times[name].append(loop.run_until_complete(_per_call_us(apps[name], key, CALLS)))
        layer = [loop.run_until_complete(_layer_alone_us(100_000)) for _ in range(5)]
        after = machine_info()
        apps["traced"].state.tracing.shutdown()
        platform.close()
    collector.shutdown()
    med = {name: statistics.median(v) for name, v in times.items()}
    rows = "\n".join(
        f"| {name} | {med[name]:.1f} | {min(times[name]):.1f} | {max(times[name]):.1f} "
        f"| {med[name] / med['without']:.3f} | {min(times[name]) / min(times['without']):.3f} |"
        for name in apps
    )
    body = f"""## Request id, log context and tracing on one predict call (`bench/request_overhead.py`)

Run: `.venv/bin/python bench/request_overhead.py`, {before["date"]}; {before["nproc"]} CPUs ({before["cpu"]}),
Python {before["python"]}; load average {before["loadavg"]} before, {after["loadavg"]} after.
The ASGI app called in-process (no network) with one JSON record, `POST /v1/models/m/predict?version=1`
(a small `tabular_classification` model), {CALLS} calls per measurement, {ROUNDS} rounds interleaved.

| app | median µs per call (CPU) | fastest round | slowest round | median / without | fastest / without |
|---|---:|---:|---:|---:|---:|
{rows}

The layer alone (a bare ASGI app answering 200, 100,000 calls, best of 5):
{min(b for b, _ in layer):.2f} µs per call bare, {min(w for _, w in layer):.2f} µs inside the request-context
layer, so the layer costs about **{min(w for _, w in layer) - min(b for b, _ in layer):.1f} µs per request**
(a new id made each time: the client sent none).

- **without**: no request-context layer (the app before it had one).
- **with**: as served without an OTLP endpoint: `X-Request-ID` read or made, echoed, bound as the
  log context; nothing of OpenTelemetry loaded.
- **traced**: an OTLP endpoint set (loopback collector): a span per request, exported in batches.
"""
    write_section("request_overhead", body)
    print(body)


if __name__ == "__main__":
    main()
