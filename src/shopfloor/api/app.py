"""``create_app(settings)``: routers, middleware, lifespan and the problem+json handler."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.middleware.cors import CORSMiddleware

from shopfloor import console, metrics
from shopfloor.api import docs, problems, request_context
from shopfloor.api.blocking import BlockingWork
from shopfloor.api.direct import DirectDispatch
from shopfloor.api.heavy import HeavyWork
from shopfloor.api.middleware import MetricsAndLimits
from shopfloor.api.routes import (
    alerts,
    audit,
    azure_common,
    azure_multivariate,
    azure_univariate,
    challenger,
    datasets,
    drift,
    forecast,
    hub,
    imports,
    jobs,
    keys,
    lookout,
    masking,
    models,
    monitoring,
    oip,
    openai_compat,
    optimize,
    plots,
    predict,
    retrain,
    sources,
    streams,
    synthesize,
    system,
)
from shopfloor.api.spool import keep_uploads_in_memory
from shopfloor.context import Platform
from shopfloor.lifecycle import die_with_parent
from shopfloor.schemas.common import Problem
from shopfloor.services import alerts as alert_service
from shopfloor.services import audit as audit_log
from shopfloor.services import lookout_inference, prediction_log
from shopfloor.serving.batching import MicroBatcher
from shopfloor.settings import Settings, get_settings, metrics_dir
from shopfloor.telemetry import tracing as traces
from shopfloor.version import __version__

MAX_JSON_BYTES = 10 * 1024 * 1024
PROBLEM_RESPONSES = {
    401: "Missing or invalid API key",
    403: "The key's role may not do this",
    404: "No such object in the caller's tenant",
    409: "The request conflicts with the current state (e.g. no version has the alias)",
    413: "The body, an upload or the number of records is over its limit",
    422: "Invalid input: problem+json with per-field errors",
    429: "Over a rate limit or quota; see Retry-After",
    503: "The registry or the artifact store does not answer; see Retry-After",
}

DESCRIPTION = """Self-hosted model-as-a-service for manufacturing.

Every route except `GET /healthz` and `GET /readyz` needs `Authorization: Bearer <API key>`.
Errors are RFC 9457 `application/problem+json` documents that say what was wrong and where.
"""


async def _flush_metrics(every_s: float = 1.0) -> None:
    while True:
        await asyncio.sleep(every_s)
        metrics.RECORDER.flush()


def _flush_log(platform: Platform) -> None:
    """Write the predictions this app buffered for the log (the platform outlives the app)."""
    found = vars(platform).get("prediction_log")
    if found is not None:
        found.flush()


def _background_tasks(platform: Platform) -> list[asyncio.Task[None]]:
    """The periodic work of every API process: shared metrics, the audit buffer, the prediction
    log's retention sweep, alert rules evaluated and webhooks sent in turn (settings alert_*), and
    the Lookout inference schedulers' due windows (lookout_scheduler_poll_s)."""
    return [
        asyncio.create_task(_flush_metrics()),
        asyncio.create_task(audit_log.flush_every(platform)),
        asyncio.create_task(prediction_log.sweep_every(platform)),
        asyncio.create_task(alert_service.watch(platform)),
        asyncio.create_task(lookout_inference.watch(platform)),
    ]


def create_app(settings: Settings | None = None, platform: Platform | None = None) -> FastAPI:
    """Build the API. The registry must already be migrated (``shopfloor.bootstrap.prepare``)."""
    settings = settings or get_settings()
    owned = platform is None
    keep_uploads_in_memory(settings)  # no upload plaintext in the system's temporary folder

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if app.state.platform is None:
            app.state.platform = Platform.from_settings(settings)
        metrics.share_through(metrics_dir(settings))
        background = _background_tasks(app.state.platform)
        # Start-up objects (libraries, the app) live as long as the process: keep them out of
        # the garbage collector's full passes, which otherwise rescan them under load.
        gc.collect()
        gc.freeze()
        yield
        for task in background:
            task.cancel()
        app.state.blocking.close()  # the transactions in flight end before the registry closes
        metrics.RECORDER.flush()
        audit_log.flush(app.state.platform, everything=True)
        if owned:
            app.state.platform.close()  # writes the predictions still buffered for the log first
        else:
            _flush_log(app.state.platform)
        if app.state.tracing is not None:
            app.state.tracing.shutdown()  # the spans still buffered go out

    app = FastAPI(
        title="Shopfloor",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        # A body without a Content-Type is read as JSON (FastAPI's strict default answers 422
        # "Input should be a valid dictionary"). Strict mode guards cookie sessions against
        # cross-site posts; this API authenticates by the Authorization header only, which a
        # cross-site form cannot send, so there is nothing for it to guard.
        strict_content_type=False,
        # Requests are traced and measured by the app's own layers (request_context, metrics), to
        # the OTLP endpoint of its settings; FastAPI's native telemetry, which would otherwise
        # look up the process's global OpenTelemetry providers on every request, stays off.
        telemetry={"tracing": False, "metrics": False, "logs": False},
        responses={
            status: {"model": Problem, "description": text, "content": {"application/problem+json": {}}}
            for status, text in PROBLEM_RESPONSES.items()
        },
    )
    app.state.platform = platform
    app.state.settings = settings
    # None without an OTLP endpoint: then nothing of OpenTelemetry is imported
    app.state.tracing = traces.configure(settings, "api")
    app.state.heavy = HeavyWork(settings.tenant_heavy_requests)
    batch_wait_s = settings.predict_batch_wait_ms / 1000
    # serving/batching.py: a shared call of as few records as the predict route scores inline stays inline
    app.state.batcher = MicroBatcher(batch_wait_s, settings.predict_batch_max_records, predict.INLINE_RECORDS)
    app.state.blocking = BlockingWork()
    # errors in the shape each client decodes: console pages, then each protocol on its own prefix
    shapes = (oip.oip_error, openai_compat.openai_error, azure_common.azure_problem, lookout.aws_problem)
    problems.install(app, shapes=(console.html_problem, *shapes))
    docs.install(app)
    # predict and stream scoring first: routes are matched in order, and they are the hot paths.
    app.include_router(predict.hot)
    app.include_router(streams.hot)
    app.include_router(oip.hot)
    routers = (predict, streams, system, datasets, synthesize, jobs, models, imports, plots, keys, masking)
    # the protocols other clients speak, each on its own prefix
    protocols = (openai_compat, azure_univariate, azure_multivariate, lookout)
    for module in (*routers, retrain, monitoring, challenger, hub, optimize, forecast, drift, *protocols):
        app.include_router(module.router)
    app.include_router(audit.router)
    app.include_router(alerts.router)
    app.include_router(sources.router)
    app.include_router(oip.router)
    console.install(app)  # the browser pages, at / (after the API: /v1 paths stay the API's)
    _add_middleware(app, settings)
    return app


def _add_middleware(app: FastAPI, settings: Settings) -> None:
    """From the innermost out: direct dispatch of the hot routes, CORS, metrics and limits, request id."""
    hot = (*predict.hot.routes, *streams.hot.routes, *oip.hot.routes)
    direct = [r for r in hot if isinstance(r, APIRoute)]
    app.add_middleware(DirectDispatch, routes=direct)
    if settings.cors_origins:
        # Closed unless configured. Added first so it runs inside MetricsAndLimits, whose
        # security headers then reach preflight answers too.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
            max_age=600,
        )
    app.add_middleware(
        MetricsAndLimits, max_json_bytes=MAX_JSON_BYTES, max_upload_bytes=settings.max_upload_bytes
    )
    request_context.install(app, app.state.tracing)  # outermost: a request id on every answer


def app_factory() -> FastAPI:
    """Entry point for uvicorn worker processes (``--factory``).

    Each worker stops when the serving process dies, even by SIGKILL, so that no orphan keeps
    serving the port (see :mod:`shopfloor.lifecycle`).
    """
    die_with_parent()
    return create_app(get_settings())
