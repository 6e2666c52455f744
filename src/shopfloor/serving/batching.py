"""Adaptive micro-batching of online predictions: requests for one model version that wait at the
same time are answered by one model call.

A model answers one record in about the time it answers a dozen (the call's fixed cost, building
the feature matrix, the booster's own call, dominates a tabular prediction), so when a server is
loaded the requests that reach the model together are cheaper scored together. The batcher lives
on the API process's event loop, one per process; requests are grouped by a key (the route uses
tenant, model, version and artifact: never across tenants or versions).

* A request that finds no other predict request entering or finishing in the same turn of the
  event loop is alone: it calls the model at once, on the event loop, and never waits.
* Otherwise it joins the open batch of its key, or opens one. The requests the server has read
  together run one after the other in the same turn of the loop, so a batch starts its model call
  at the next turn, when every one of them has joined; earlier once it holds ``max_rows``
  records, and it takes no request that arrives ``max_wait_s`` or more after it opened (that one
  opens the next batch): no request waits longer than that for its batch to start.
* The model call runs over the batch's records in one list, and each request gets back its own
  slice of the answers. A batch of at most ``inline_records`` records is scored on the event loop,
  as one request of that many records is (the thread hand-over would cost more than it frees); a
  larger one off the loop, in the default executor, so the loop stays free meanwhile. If the call
  fails, each request of the batch is answered by a call of its own: one request's bad records
  fail that request alone.

Only families that declare ``Capabilities.batched`` (each record answered on its own, whatever else
is in the list) are batched. Their answers are the same scored together or alone, but for the last
bits of a probability or a value (a product over several rows may round them differently).

Each request keeps everything else to itself (its validation before it joins, its log entry,
metrics and audit count after): the batcher only shares the model call.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

#: The model call of a batch: records in, one answer per record out, in order.
ModelCall = Callable[[list[Any]], Sequence[Any]]


@dataclass
class _Batch:
    key: Hashable
    call: ModelCall
    opened: float  # the loop's clock when the batch opened
    parts: list[tuple[list[Any], asyncio.Future[list[Any]]]] = field(default_factory=list)
    rows: int = 0


class MicroBatcher:
    """Groups model calls of requests that wait at once; see the module's description.

    ``max_wait_s`` 0 turns batching off (every request calls the model itself, at once). A request
    that calls the model alone, and one that gets its answers from a batch, mark their turn of the
    event loop (:meth:`stir`): a request that comes after them in the same turn is not alone.
    """

    def __init__(self, max_wait_s: float, max_rows: int, inline_records: int = 0) -> None:
        self.max_wait_s = max_wait_s
        self.max_rows = max_rows
        self.inline_records = inline_records
        self._open: dict[Hashable, _Batch] = {}
        self._stirred = False  # a request entered or was answered in this turn of the loop
        #: model calls made for batches of more than one request, and the requests they answered
        self.batches = 0
        self.batched_requests = 0

    def stir(self) -> None:
        """A request called the model, or was answered, in this turn of the event loop."""
        if not self._stirred and self.max_wait_s > 0:
            self._stirred = True
            asyncio.get_running_loop().call_soon(self._settle)

    def _settle(self) -> None:
        self._stirred = False

    async def predict(self, key: Hashable, records: list[Any], call: ModelCall) -> list[Any]:
        """The answers for ``records`` from ``call``, made alone or with other requests of ``key``."""
        batch = self._open.get(key)
        if batch is None and not self._stirred:
            self.stir()  # alone in its turn: no wait, on the event loop as before
            return list(call(records))
        loop = asyncio.get_running_loop()
        if batch is not None and loop.time() - batch.opened >= self.max_wait_s:
            self._start(batch)  # waited its bound: it goes, and this request opens the next one
            batch = None
        if batch is None:
            batch = self._open[key] = _Batch(key, call, loop.time())
            loop.call_soon(self._start, batch)  # the next turn: every request read with this one joined
        future: asyncio.Future[list[Any]] = loop.create_future()
        batch.parts.append((records, future))
        batch.rows += len(records)
        if batch.rows >= self.max_rows:
            self._start(batch)
        answers = await future
        self.stir()  # answered in this turn: a request read now is not alone
        return answers

    def _start(self, batch: _Batch) -> None:
        if self._open.get(batch.key) is not batch:
            return  # started already (its size or its bound, before the next turn)
        del self._open[batch.key]
        asyncio.get_running_loop().create_task(self._run(batch))

    async def _run(self, batch: _Batch) -> None:
        if len(batch.parts) == 1:  # nobody joined: answered as a lone request is
            records, future = batch.parts[0]
            _settle_future(future, batch.call, records)
            return
        self.batches += 1
        self.batched_requests += len(batch.parts)
        together = [r for records, _ in batch.parts for r in records]
        try:
            if batch.rows <= self.inline_records:
                answers = batch.call(together)
            else:
                answers = await asyncio.get_running_loop().run_in_executor(None, batch.call, together)
            if len(answers) != len(together):
                raise RuntimeError(f"{len(answers)} answers for {len(together)} records")
        except Exception as exc:  # noqa: BLE001 - each request is answered on its own instead
            log.info("a batch of %d requests failed (%s); each is scored alone", len(batch.parts), exc)
            for records, future in batch.parts:
                _settle_future(future, batch.call, records)
            return
        start = 0
        for records, future in batch.parts:
            if not future.done():  # a request given up (its client went away) takes nothing
                future.set_result(list(answers[start : start + len(records)]))
            start += len(records)


def _settle_future(future: asyncio.Future[list[Any]], call: ModelCall, records: list[Any]) -> None:
    """Answer one request with a model call of its own (on the event loop: one small request)."""
    try:
        answers = list(call(records))
    except Exception as exc:  # noqa: BLE001 - the request's own error goes to that request
        if not future.done():
            future.set_exception(exc)
        return
    if not future.done():
        future.set_result(answers)
