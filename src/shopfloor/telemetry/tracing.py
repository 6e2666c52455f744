"""OpenTelemetry traces, sent over OTLP/HTTP when an endpoint is configured.

Nothing here imports OpenTelemetry until :func:`configure` is called with an endpoint set
(``SHOPFLOOR_OTLP_ENDPOINT`` or the standard ``OTEL_EXPORTER_OTLP_ENDPOINT``): a server without
one loads none of it, and its request path checks a single ``None``.

* A request span (kind server) per HTTP request, named ``METHOD /route/{template}``, continuing a
  ``traceparent`` the client sent. Attributes: method, route template, status, tenant, model
  name when the route has one, request id; never a path's values, a query, a header or a body.
* The request's trace context (W3C ``traceparent``) is stored with the job the request queues
  (:func:`carrier`), and the job process opens its span as a child of it (:meth:`Tracing.job_span`):
  the job shows in the request's trace however long it waited in the queue.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from shopfloor.settings import Settings

# Set once a process has configured tracing: until then carrier() needs no import at all.
_ACTIVE = False


def traces_url(endpoint: str) -> str:
    """The traces URL of an OTLP/HTTP base endpoint, as the OpenTelemetry specification derives it."""
    return endpoint.rstrip("/") + "/v1/traces"


class Tracing:
    """One process's tracer provider (batched export to the collector) and tracer."""

    def __init__(self, settings: Settings, role: str) -> None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        assert settings.otlp_endpoint is not None
        resource = Resource.create({"service.name": settings.otel_service_name, "shopfloor.process": role})
        self.provider = TracerProvider(resource=resource)
        exporter = OTLPSpanExporter(endpoint=traces_url(settings.otlp_endpoint), timeout=5)
        self.provider.add_span_processor(BatchSpanProcessor(exporter))
        self.tracer = self.provider.get_tracer("shopfloor")
        # W3C trace context only: no baggage from clients travels into jobs
        self.propagator = TraceContextTextMapPropagator()

    def start_request(self, method: str, traceparent: str | None) -> tuple[Any, Any]:
        """Open and make current the span of a request; returns ``(span, token)`` for :meth:`end_request`."""
        from opentelemetry import context, trace
        from opentelemetry.trace import SpanKind

        parent = self.propagator.extract({"traceparent": traceparent}) if traceparent else None
        span = self.tracer.start_span(
            method, context=parent, kind=SpanKind.SERVER, attributes={"http.request.method": method}
        )
        return span, context.attach(trace.set_span_in_context(span, parent))

    def end_request(self, span: Any, token: Any, route: str | None, status: int, **attributes: Any) -> None:
        from opentelemetry import context
        from opentelemetry.trace import Status, StatusCode

        if route is not None:
            span.update_name(f"{span.name} {route}")
            span.set_attribute("http.route", route)
        span.set_attribute("http.response.status_code", status)
        for name, value in attributes.items():
            if value is not None:
                span.set_attribute(f"shopfloor.{name}", value)
        if status >= 500:
            span.set_status(Status(StatusCode.ERROR))
        span.end()
        context.detach(token)

    @contextmanager
    def job_span(self, parent: Mapping[str, str] | None, name: str, **attributes: Any) -> Iterator[Any]:
        """The span of one job run, a child of the request's span when ``parent`` (the job's stored
        trace context) names one; an exception marks it failed and goes on."""
        from opentelemetry.trace import SpanKind

        found = self.propagator.extract(dict(parent)) if parent else None
        attrs = {f"shopfloor.{k}": v for k, v in attributes.items() if v is not None}
        with self.tracer.start_as_current_span(
            name, context=found, kind=SpanKind.CONSUMER, attributes=attrs
        ) as span:
            yield span

    def shutdown(self) -> None:
        """Send the spans still buffered, then stop (bounded by the exporter's timeout)."""
        self.provider.shutdown()


def configure(settings: Settings, role: str) -> Tracing | None:
    """The process's :class:`Tracing` when an OTLP endpoint is set, else None (nothing imported)."""
    global _ACTIVE
    if not settings.otlp_endpoint:
        return None
    _ACTIVE = True
    return Tracing(settings, role)


def carrier() -> dict[str, str] | None:
    """The current trace context as W3C headers (``traceparent``), to store with a job; None when
    tracing is off or no span is current."""
    if not _ACTIVE:
        return None
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    found: dict[str, str] = {}
    TraceContextTextMapPropagator().inject(found)
    return found or None
