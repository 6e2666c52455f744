"""Two real servers with separate homes on one PostgreSQL registry (the README's multi-server recipe):
a key revoked, an alias moved, a challenger's mode set, a model deleted or a quota changed through one
of them holds on the other within 1 s; a key created or a masking policy replaced holds at once; rate
limits count once across both.

The changes go through server A (or, for quotas, through the CLI's code path on A's settings);
server B is asked first, so that its caches hold the old state, then polled until it agrees.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

from shopfloor import Client
from shopfloor.bootstrap import prepare
from shopfloor.security import limits
from shopfloor.security.keys import issue_key
from shopfloor.settings import Settings

sys.path.insert(0, str(Path(__file__).parent))
from server import Server  # noqa: E402

pytestmark = pytest.mark.e2e

PROPAGATION_S = 1.0
SHARED_ENV = {
    # Same secrets on every server (README, production step 4); generous limits so that only the
    # quota under test can refuse a request.
    "SHOPFLOOR_SECRET_KEY": "two-servers-test-secret-0123456789abcdef",
    "SHOPFLOOR_MASTER_KEY": "0e" * 32,
    "SHOPFLOOR_RATE_LIMIT_PER_MINUTE": "100000",
    "SHOPFLOOR_JOB_POLL_INTERVAL_S": "0.2",
}


@pytest.fixture()
def servers(tmp_path: Path, pg_database: str) -> Iterator[tuple[Server, Server, dict[str, str]]]:
    env = {
        **SHARED_ENV,
        "SHOPFLOOR_DATABASE_URL": pg_database,
        "SHOPFLOOR_ARTIFACTS_URL": f"file://{tmp_path / 'artifacts'}",
    }
    a = Server(tmp_path / "a", **env)
    b = Server(tmp_path / "b", **env)
    try:
        a.start()  # A migrates the empty database and prints the first admin key
        b.start()
        yield a, b, env
    finally:
        a.stop()
        b.stop()


def _until(check: Callable[[], bool]) -> float:
    """Seconds until ``check()`` holds; fails after PROPAGATION_S."""
    start = time.monotonic()
    while not check():
        elapsed = time.monotonic() - start
        assert elapsed < PROPAGATION_S, f"not seen by the other server after {elapsed:.2f} s"
        time.sleep(0.02)
    return time.monotonic() - start


def _csv(path: Path) -> Path:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x1": rng.normal(size=200), "x2": rng.normal(size=200)})
    frame["y"] = (frame["x1"] + frame["x2"] > 0).astype(int)
    frame.to_csv(path, index=False)
    return path


def test_revocation_alias_and_quota_reach_the_other_server_within_a_second(
    servers: tuple[Server, Server, dict[str, str]], tmp_path: Path
) -> None:
    a, b, env = servers
    admin = a.admin_key()
    assert admin
    auth = {"Authorization": f"Bearer {admin}"}
    with Client(a.url, admin) as ca, httpx.Client(base_url=b.url, timeout=10) as hb:
        # --- key revocation -------------------------------------------------------------------
        consumer = ca.create_key("consumer")
        mine = {"Authorization": f"Bearer {consumer['secret']}"}
        assert hb.get("/v1/models", headers=mine).status_code == 200  # cached on B
        ca.revoke_key(consumer["id"])
        took = _until(lambda: hb.get("/v1/models", headers=mine).status_code == 401)
        print(f"revocation seen on B after {took:.3f} s")

        # --- alias move -----------------------------------------------------------------------
        dataset = ca.upload_dataset(_csv(tmp_path / "tiny.csv"))
        for seed in (1, 2):
            job = ca.train(dataset["id"], "y", "tiny", time_budget_s=2, seed=seed)
            assert ca.wait(job["id"], timeout=120, poll=0.3)["status"] == "succeeded"
        ca.set_alias("tiny", "production", 1)
        body = {"records": [{"x1": 0.3, "x2": -0.1}]}

        def served() -> int:
            answer = hb.post("/v1/models/tiny/predict", json=body, headers=auth)
            assert answer.status_code == 200, answer.text
            return int(answer.json()["version"])

        assert served() == 1  # B has resolved production -> 1 and keeps it cached
        ca.set_alias("tiny", "production", 2)
        took = _until(lambda: served() == 2)
        print(f"alias move seen on B after {took:.3f} s")

        # --- challenger mode: a canary answering every request, then off again ----------------
        ca.set_challenger("tiny", "canary", share=1.0, version=1)
        took = _until(lambda: served() == 1)
        print(f"challenger canary seen on B after {took:.3f} s")
        ca.set_challenger("tiny", "off")
        took = _until(lambda: served() == 2)
        print(f"challenger off seen on B after {took:.3f} s")

        # --- model deletion: B has version 2 loaded and production resolved, then answers 404 ---
        by_number = "/v1/models/tiny/predict?version=2"
        assert hb.post(by_number, json=body, headers=auth).status_code == 200
        ca.delete_model("tiny")
        for url in ("/v1/models/tiny/predict", by_number):
            took = _until(lambda url=url: hb.post(url, json=body, headers=auth).status_code == 404)
            print(f"model deletion seen on B ({url}) after {took:.3f} s")
        assert hb.get("/v1/models/tiny", headers=auth).status_code == 404

    # --- quota change (the CLI's path, on A's settings: another process on the registry) ------
    settings = Settings(
        home=a.home,
        database_url=env["SHOPFLOOR_DATABASE_URL"],
        artifacts_url=env["SHOPFLOOR_ARTIFACTS_URL"],
        secret_key=env["SHOPFLOOR_SECRET_KEY"],
        master_key=env["SHOPFLOOR_MASTER_KEY"],
    )  # type: ignore[call-arg]
    with httpx.Client(base_url=b.url, timeout=10) as hb:
        assert hb.get("/v1/models", headers=auth).status_code == 200  # B holds the default quota
        platform = prepare(settings)
        try:
            limits.set_quotas(platform, "default", rpm=1)
        finally:
            platform.close()
        took = _until(lambda: hb.get("/v1/models", headers=auth).status_code == 429)
        print(f"quota change seen on B after {took:.3f} s")


def _platform_of(server: Server, env: dict[str, str]):  # type: ignore[no-untyped-def]
    """The registry as the CLI on ``server``'s host opens it: another process on the same registry."""
    return prepare(
        Settings(
            home=server.home,
            database_url=env["SHOPFLOOR_DATABASE_URL"],
            artifacts_url=env["SHOPFLOOR_ARTIFACTS_URL"],
            secret_key=env["SHOPFLOOR_SECRET_KEY"],
            master_key=env["SHOPFLOOR_MASTER_KEY"],
        )  # type: ignore[call-arg]
    )


def test_keys_masking_and_rate_limits_are_shared_by_both_servers(
    servers: tuple[Server, Server, dict[str, str]],
) -> None:
    a, b, env = servers
    admin = a.admin_key()
    assert admin
    with Client(a.url, admin) as ca, Client(b.url, admin) as cb:
        # --- a key created through A works on B at once -----------------------------------------
        consumer = ca.create_key("consumer")
        mine = {"Authorization": f"Bearer {consumer['secret']}"}
        with httpx.Client(base_url=b.url, timeout=10) as hb:
            assert hb.get("/v1/models", headers=mine).status_code == 200

        # --- a masking policy replaced through A applies on B at once ----------------------------
        text = {"text": "Call Jane Roe about the press"}
        assert "Jane Roe" in cb.preview_masking(**text)["text"]
        ca.set_masking_policy(names=["Jane Roe"])
        took = _until(lambda: "Jane Roe" not in cb.preview_masking(**text)["text"])
        print(f"masking policy seen on B after {took:.3f} s")
        assert cb.masking_policy()["names"] == ["Jane Roe"]

        # --- a key's limit, requests sent alternately to A and B: cut at the limit in all --------
        platform = _platform_of(a, env)
        try:
            limits.set_quotas(platform, "default", key_rpm=KEY_RPM)
            other = ensure_other_tenant(platform)
            limits.set_quotas(platform, OTHER, rpm=TENANT_RPM)
        finally:
            platform.close()
        time.sleep(0.3)  # both servers past the generation's max age: the new quotas hold
        with httpx.Client(base_url=a.url, timeout=10) as ha, httpx.Client(base_url=b.url, timeout=10) as hb:
            codes = [(ha, hb)[i % 2].get("/v1/models", headers=mine).status_code for i in range(3 * KEY_RPM)]
            assert set(codes) <= {200, 429}, codes
            # The key answered one request on B above: 1 + 9 make the limit (weighted the same if
            # a minute began in between).
            assert codes.count(200) == KEY_RPM - 1, codes
            assert 200 in codes[0::2] and 200 in codes[1::2]  # both servers answered some

            # /v1/quotas tells the same shared count on either server.
            auth = {"Authorization": f"Bearer {admin}"}
            seen = [
                h.get("/v1/quotas", headers=auth).json()["rates"]["keys"][consumer["id"]] for h in (ha, hb)
            ]
            for found in seen:
                assert found["limit"] == KEY_RPM
                assert found["used"] + found["previous_window"] == KEY_RPM, found
            assert {k: v for k, v in seen[0].items() if k != "allowed_now"} == {
                k: v for k, v in seen[1].items() if k != "allowed_now"
            }

            # --- a tenant's limit over all its keys, alternately on A and B: cut at the limit ----
            theirs = {"Authorization": f"Bearer {other}"}
            codes = [
                (ha, hb)[i % 2].get("/v1/models", headers=theirs).status_code for i in range(3 * TENANT_RPM)
            ]
            assert codes.count(200) == TENANT_RPM, codes
            refused = hb.get("/v1/models", headers=theirs)
            assert refused.status_code == 429
            assert f"over its {TENANT_RPM} requests per minute" in refused.json()["detail"]


KEY_RPM, TENANT_RPM, OTHER = 10, 12, "plant2"


def ensure_other_tenant(platform: Any) -> str:
    """A second tenant with one consumer key, made on the registry as ``shopfloor tenants`` does."""
    platform.store.ensure_tenant(OTHER)
    return issue_key(platform.store, platform.secret, tenant=OTHER, role="consumer").secret
