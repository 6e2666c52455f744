"""A real server with two API workers: a key's rate limit holds once, not once per worker."""

from __future__ import annotations

import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from shopfloor.registry.sql import SqlStore
from shopfloor.settings import Settings

sys.path.insert(0, str(Path(__file__).parent))
from server import Server  # noqa: E402

pytestmark = pytest.mark.e2e

LIMIT, BURST = 20, 60


def test_two_workers_share_the_key_rate_limit(tmp_path: Path) -> None:
    server = Server(tmp_path / "home", workers=2, SHOPFLOOR_RATE_LIMIT_PER_MINUTE=str(LIMIT)).start()
    try:
        key = server.admin_key()
        assert key
        headers = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=server.url, headers=headers, timeout=30) as http:
            with ThreadPoolExecutor(12) as pool:  # concurrent, so that both workers answer
                answers = list(pool.map(lambda _: http.get("/v1/models"), range(BURST)))
            codes = [a.status_code for a in answers]
            assert set(codes) <= {200, 429}, codes
            assert codes.count(200) <= LIMIT, codes.count(200)
            assert codes.count(200) >= LIMIT // 2  # the limit is enforced, not every request refused
            refused = next(a for a in answers if a.status_code == 429)
            assert 1 <= int(refused.headers["Retry-After"]) <= 120
        # The registry's shared counter, whichever worker answered: never past the limit.
        store = SqlStore(Settings(home=tmp_path / "home").resolved_database_url)
        window = int(time.time() // 60)
        bucket = f"key:key_{key.split('_')[1]}"
        counts = [store.rate_counts([bucket], w).get(bucket, 0) for w in (window - 1, window)]
        store.close()
        assert 0 < max(counts) <= LIMIT
    finally:
        server.stop()
