"""No API key secret and no personal data reach the server log, whatever the route, the outcome or
the API worker process (access log on)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from shopfloor.bootstrap import create_key
from shopfloor.settings import Settings

sys.path.insert(0, str(Path(__file__).parent))
from server import Server  # noqa: E402

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, dict[str, str]]]:
    home = tmp_path_factory.mktemp("secrets") / "home"
    # Keys made before the first start: the server then prints no first admin key of its own.
    keys = {
        role: create_key(Settings(home=home), role=role)["secret"]
        for role in ("admin", "builder", "consumer")
    }
    srv = Server(home, SHOPFLOOR_ACCESS_LOG="true").start()
    try:
        yield srv, keys
    finally:
        srv.stop()


def test_no_secret_in_the_server_log(setup: tuple[Server, dict[str, str]]) -> None:
    srv, keys = setup
    with httpx.Client(base_url=srv.url, timeout=30) as http:

        def call(method: str, path: str, key: str, **kwargs: object) -> httpx.Response:
            return http.request(method, path, headers={"Authorization": f"Bearer {key}"}, **kwargs)  # type: ignore[arg-type]

        made = call("POST", "/v1/keys", keys["admin"], json={"role": "consumer", "name": "e2e"})
        assert made.status_code == 201
        keys["made"] = made.json()["secret"]
        upload = call(
            "POST", "/v1/datasets", keys["builder"], files={"file": ("t.csv", b"a,b\n1,2\n3,4\n", "text/csv")}
        )
        assert upload.status_code == 201, upload.text
        assert call("GET", "/v1/models", keys["made"]).status_code == 200
        assert (
            call("POST", "/v1/models/none/predict", keys["consumer"], json={"records": [{}]}).status_code
            == 404
        )
        assert call("GET", "/v1/keys", keys["consumer"]).status_code == 403
        assert call("GET", "/v1/audit?format=jsonl", keys["admin"]).status_code == 200
        wrong = keys["builder"][:-6] + "XXXXXX"
        assert call("GET", "/v1/datasets", wrong).status_code == 401
        assert call("GET", "/v1/jobs", "sfk_00_not-a-real-secret").status_code == 401
        # a key in a query string (a client mistake) is not echoed either
        assert http.get("/v1/models", params={"api_key": "x"}).status_code == 401
        assert http.get("/v1/models", params={"api_key": keys["consumer"]}).status_code == 401
        assert call("DELETE", f"/v1/keys/{made.json()['id']}", keys["admin"]).status_code == 204
        assert call("GET", "/v1/models", keys["made"]).status_code == 401
    srv.stop()  # flushes the audit buffer and the log
    log = srv.log.read_text()
    assert '"GET /v1/models HTTP/1.1" 200' in log  # the access log is on and written
    assert "/v1/models?api_key=sfk_" in log  # the query string is logged with the secret cut
    for key in [*keys.values(), wrong, "sfk_00_not-a-real-secret"]:
        assert key not in log
        assert key.split("_", 2)[2] not in log


def test_personal_data_is_masked_in_the_log_of_every_api_worker(tmp_path: Path) -> None:
    srv = Server(tmp_path / "home", workers=2, SHOPFLOOR_ACCESS_LOG="true").start()
    try:
        with httpx.Client(base_url=srv.url, timeout=30) as http:
            for i in range(12):  # new connections: both workers take some
                with httpx.Client(base_url=srv.url, timeout=30) as fresh:
                    contact = {"contact": f"anna.berg{i}@example.com", "phone": "+49 89 1234567"}
                    assert fresh.get("/healthz", params=contact).status_code == 200
            assert http.get("/v1/models", params={"owner": "kurt.weber@example.de"}).status_code == 401
    finally:
        srv.stop()
    log = srv.log.read_text()
    lines = [line for line in log.splitlines() if "uvicorn.access" in line and "?" in line]
    assert len(lines) == 13, log
    assert all("[EMAIL]" in line for line in lines)
    assert sum("[PHONE]" in line for line in lines) == 12
    assert "example.com" not in log and "example.de" not in log and "1234567" not in log
