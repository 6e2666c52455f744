"""Pydantic request and response models of the public API (never ORM rows)."""
