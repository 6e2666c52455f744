"""Failed calls of a served model, logged for the ``error_rate`` alert signal.

A call fails when the model was asked and did not answer: its version could not be loaded (a 5xx),
or it raised on records that had passed its input schema (whatever the status). Requests refused
before that (an unknown model or version, records the schema or the record limit refuses) are no
failure of the model and are not logged. The failure goes to the prediction log like an answer
(:meth:`shopfloor.serving.prediction_log.PredictionLog.add_failure`), under the source the answer
would have had, and the error goes on to the caller unchanged.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from shopfloor.context import Platform
from shopfloor.errors import ShopfloorError
from shopfloor.registry.entities import ModelVersion
from shopfloor.serving.cache import LoadedModel
from shopfloor.serving.challenger import side_of
from shopfloor.telemetry.logcontext import current_request_id


def loaded_model(
    platform: Platform,
    tenant: str,
    name: str,
    version: int | str | None,
    source: str,
    records: Any,
    started: float,
) -> LoadedModel:
    """The model to serve; a version that resolves but fails to load (a 5xx) is logged as a failed
    call of ``source`` before the error goes on (an unknown model or version is not)."""
    try:
        return platform.models.get(tenant, name, version)
    except Exception as exc:
        if isinstance(exc, ShopfloorError) and exc.status < 500:
            raise
        try:
            mv = platform.models.resolve(tenant, name, version)
        except ShopfloorError:
            raise exc from None
        log_failure(platform, tenant, mv, source, records, started, exc)
        raise


@contextmanager
def failures_logged(
    platform: Platform, tenant: str, mv: ModelVersion, source: str | None, records: Any, started: float
) -> Iterator[None]:
    """Log any error of the block as a failed call of ``mv`` (``source`` None: a run nobody was
    answered by, such as a challenger's shadow, is not a call), then let it go on."""
    try:
        yield
    except Exception as exc:
        if source is not None:
            log_failure(platform, tenant, mv, source, records, started, exc)
        raise


def log_failure(
    platform: Platform,
    tenant: str,
    mv: ModelVersion,
    source: str,
    records: Any,
    started: float,
    exc: BaseException,
) -> None:
    """Log a failed call of ``mv`` (sampled at the model's rate like its answers) with its status
    and code; the error's text is not kept (5xx details stay in the server's own log)."""
    status = exc.status if isinstance(exc, ShopfloorError) else 500
    code = exc.code if isinstance(exc, ShopfloorError) else "internal-error"
    platform.prediction_log.add_failure(
        tenant,
        mv.model,
        mv.version,
        source,
        schema=mv.input_schema,
        records=records if isinstance(records, list) else [],
        latency_s=time.perf_counter() - started,
        request_id=current_request_id(),
        error={"status": status, "code": code},
        always=side_of(source) is not None,  # a challenger's trial logs every answer, and so every failure
    )
