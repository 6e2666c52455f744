"""The threads one job's numeric work may use; every fit that starts threads asks here.

Set once per process from ``SHOPFLOOR_JOB_THREADS`` (:meth:`shopfloor.context.Platform.from_settings`).
The default, 2, suits one job at a time on a small server. A host that runs several jobs side by
side gives each its share, so that they do not fight for the same cores: a Dask worker started
with ``--nthreads 1`` on a host with as many workers as cores runs with ``SHOPFLOOR_JOB_THREADS=1``.
Serving (predictions, embeddings) keeps its own small thread counts and does not read this.
"""

from __future__ import annotations

DEFAULT = 2
_threads = DEFAULT


def configure(threads: int) -> None:
    """Set the threads a job may use in this process (at least 1)."""
    global _threads
    if threads < 1:
        raise ValueError(f"a job needs at least one thread, not {threads}")
    _threads = int(threads)


def job_threads() -> int:
    """The threads a fit may start (LightGBM's ``num_threads``, scikit-learn's ``n_jobs``, torch)."""
    return _threads
