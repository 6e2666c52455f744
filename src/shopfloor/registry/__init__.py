"""The registry: tenants, keys, datasets, jobs, models, versions and aliases.

All SQL lives in :mod:`shopfloor.registry.sql`; everything else talks to the
:class:`~shopfloor.registry.store.Store` protocol and gets frozen entities back.
"""

from shopfloor.registry.store import Store, open_store

__all__ = ["Store", "open_store"]
