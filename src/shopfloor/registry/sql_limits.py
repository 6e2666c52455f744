"""SQL for the shared rate counters: tokens claimed per bucket and time window by every API process.

A mixin of :class:`~shopfloor.registry.sql.SqlStore`. The claim is one atomic upsert
(``INSERT ... ON CONFLICT DO UPDATE ... WHERE ... RETURNING``, SQLite 3.35+ and PostgreSQL):
it adds ``n`` to the window's count only if the sum stays within the caller's ceiling, so the
tokens handed out in a window never exceed it, whatever the number of processes or hosts.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from shopfloor.registry.orm import RateWindowRow


class LimitTables:
    """Needs ``self._session()`` and ``self.url``, as SqlStore provides."""

    url: str

    def _session(self) -> AbstractContextManager[Session]:  # pragma: no cover - provided by SqlStore
        raise NotImplementedError

    def claim_rate(self, bucket: str, window: int, n: int, ceiling: int) -> int | None:
        """Add ``n`` tokens to ``bucket``'s count in ``window`` if the count stays at most ``ceiling``.

        Returns the new count, or ``None`` (nothing added) when ``n`` more would pass the ceiling.
        """
        return self.claim_rates([(bucket, window, n, ceiling)])[0]

    def claim_rates(self, claims: list[tuple[str, int, int, int]]) -> list[int | None]:
        """:meth:`claim_rate` for each ``(bucket, window, n, ceiling)``, in one transaction (one
        commit for a key and its tenant). Each claim is its own atomic upsert: one refused leaves
        the others as they are. Callers list a key before its tenant, so that the row locks are
        always taken in one order."""
        dialect: Any = postgresql if self.url.startswith("postgresql") else sqlite
        table = RateWindowRow.__table__
        out: list[int | None] = []
        with self._session() as s:
            for bucket, window, n, ceiling in claims:
                if n <= 0 or n > ceiling:
                    out.append(None)
                    continue
                stmt = dialect.insert(table).values(bucket=bucket, window=window, count=n)
                stmt = stmt.on_conflict_do_update(
                    index_elements=[table.c.bucket, table.c.window],
                    set_={"count": table.c.count + stmt.excluded.count},
                    where=table.c.count + stmt.excluded.count <= ceiling,
                ).returning(table.c.count)
                found = s.execute(stmt).scalar()
                out.append(None if found is None else int(found))
        return out

    def rate_counts(self, buckets: list[str], window: int) -> dict[str, int]:
        """The tokens claimed in ``window`` per bucket (buckets without a row are left out)."""
        if not buckets:
            return {}
        with self._session() as s:
            rows = s.execute(
                select(RateWindowRow.bucket, RateWindowRow.count).where(
                    RateWindowRow.window == window, RateWindowRow.bucket.in_(buckets)
                )
            )
            return {bucket: int(count) for bucket, count in rows}

    def prune_rate_windows(self, before: int) -> int:
        """Delete the counts of windows older than ``before``; returns how many rows went."""
        with self._session() as s:
            done = s.execute(delete(RateWindowRow).where(RateWindowRow.window < before))
            return int(done.rowcount)  # type: ignore[attr-defined]


__all__ = ["LimitTables"]
