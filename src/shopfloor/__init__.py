"""Shopfloor: self-hosted model-as-a-service for manufacturing.

The public facade is small and imports nothing heavy: ``from shopfloor import Client``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shopfloor.version import __version__

__all__ = ["Client", "__version__"]

if TYPE_CHECKING:
    from shopfloor.client import Client


def __getattr__(name: str) -> Any:
    # Lazy so that `import shopfloor` stays cheap for the CLI and the server.
    if name == "Client":
        from shopfloor.client import Client

        return Client
    raise AttributeError(name)
