"""The options a tabular training request may give: none (the search needs no settings)."""

from __future__ import annotations

from shopfloor.tasks.options import FamilyOptions


class TabularOptions(FamilyOptions):
    """Tabular classification and regression take no options: the models and their settings are
    searched within the request's time budget."""
