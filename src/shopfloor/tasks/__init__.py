"""Task families behind one estimator protocol (see :mod:`shopfloor.tasks.base`)."""
