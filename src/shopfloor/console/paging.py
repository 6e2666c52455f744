"""Server-side pages of a long list: ``?page=N`` (from 1), a fixed number of rows per page."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import Request

#: Rows per page of every console list.
PAGE_SIZE = 50


@dataclass(frozen=True)
class Page:
    items: Sequence[Any]
    number: int
    pages: int
    total: int

    @classmethod
    def of(cls, request: Request, items: Sequence[Any], size: int = PAGE_SIZE) -> Page:
        pages = max(1, -(-len(items) // size))
        return cls.slice(items, requested(request, pages), size)

    @classmethod
    def slice(cls, items: Sequence[Any], number: int, size: int = PAGE_SIZE) -> Page:
        pages = max(1, -(-len(items) // size))
        number = min(max(1, number), pages)
        return cls(items[(number - 1) * size : number * size], number, pages, len(items))


def requested(request: Request, pages: int | None = None) -> int:
    """The page number asked for (1 when absent or not a number)."""
    raw = request.query_params.get("page", "1")
    number = int(raw) if raw.isdigit() and len(raw) < 9 else 1
    return max(1, number if pages is None else min(number, pages))
