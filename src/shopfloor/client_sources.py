"""The SDK's calls about a tenant's S3-compatible sources, a mixin of :class:`shopfloor.client.Client`.

    with Client() as c:
        c.add_source(
            "plant-minio", "https://minio.plant.local:9000", "plant-reader", secret,
            buckets=["line-data", "results"],
        )
        c.list_sources()                      # never the secrets
        c.remove_source("plant-minio")
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote


class SourcesClient:
    """A tenant's sources; needs the ``_json`` and ``_items`` of :class:`~shopfloor.client.Client`."""

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:  # pragma: no cover - Client's
        raise NotImplementedError

    def _items(self, path: str) -> list[dict[str, Any]]:  # pragma: no cover - Client's
        raise NotImplementedError

    def add_source(
        self,
        name: str,
        endpoint_url: str,
        access_key_id: str,
        secret_access_key: str,
        *,
        buckets: list[str],
        region: str = "us-east-1",
    ) -> dict[str, Any]:
        """Register an S3-compatible source serving ``buckets`` with its own credentials -> the
        source (without the secret, which the server keeps encrypted). Raises ``InvalidInput`` naming
        the field, ``TargetNotAllowed`` for an endpoint the server's operator does not allow,
        ``Conflict`` for a taken name or a bucket another source already serves."""
        body = {
            "name": name,
            "endpoint_url": endpoint_url,
            "region": region,
            "access_key_id": access_key_id,
            "secret_access_key": secret_access_key,
            "buckets": list(buckets),
        }
        return dict(self._json("POST", "/v1/sources", json=body))

    def list_sources(self) -> list[dict[str, Any]]:
        return self._items("/v1/sources")

    def get_source(self, name: str) -> dict[str, Any]:
        return dict(self._json("GET", f"/v1/sources/{quote(name, safe='')}"))

    def remove_source(self, name: str) -> None:
        self._json("DELETE", f"/v1/sources/{quote(name, safe='')}")
