"""What a process tells its operators: the log context of a request or job, JSON log lines, traces.

* :mod:`~shopfloor.telemetry.logcontext`: the request id, tenant and job id of the work in hand,
  in a context variable that every log line reads.
* :mod:`~shopfloor.telemetry.jsonlog`: the formatter of ``SHOPFLOOR_LOG_FORMAT=json``.
* :mod:`~shopfloor.telemetry.tracing`: OpenTelemetry spans, loaded only when an OTLP endpoint is set.

Imports only :mod:`shopfloor.settings`; every layer may use it.
"""
