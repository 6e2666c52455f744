"""The CLI with typer's CliRunner; the SDK client talks to an httpx.MockTransport."""

from __future__ import annotations

import json
import subprocess
import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

import shopfloor
from shopfloor import cli_common
from shopfloor.cli import app
from shopfloor.client import Client

URL = "http://shopfloor.test"
JOB = {
    "id": "job_1",
    "type": "train",
    "status": "queued",
    "progress": 0.0,
    "created_at": "2024-01-01T00:00:00Z",
}
runner = CliRunner()

Handler = Callable[[httpx.Request], httpx.Response]


@pytest.fixture
def serve_api(monkeypatch: pytest.MonkeyPatch) -> Callable[[Handler], list[httpx.Request]]:
    """Point the CLI's client at a MockTransport handler; returns the list of requests it saw."""

    def install(handler: Handler) -> list[httpx.Request]:
        seen: list[httpx.Request] = []

        def recording(request: httpx.Request) -> httpx.Response:
            request.read()
            seen.append(request)
            return handler(request)

        monkeypatch.setattr(
            cli_common,
            "make_client",
            lambda: Client(URL, "sk_test", transport=httpx.MockTransport(recording)),
        )
        return seen

    return install


def problem(status: int, title: str, detail: str, errs: list[dict[str, Any]] | None = None) -> httpx.Response:
    code = title.lower().replace(" ", "-")
    body = {"type": f"urn:shopfloor:problem:{code}", "title": title, "status": status, "detail": detail}
    body["errors"] = errs or []
    return httpx.Response(status, json=body, headers={"content-type": "application/problem+json"})


def jobs_then(*states: dict[str, Any]) -> Handler:
    remaining = list(states)

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "GET" and request.url.path == "/v1/jobs/job_1":
            state = remaining.pop(0) if len(remaining) > 1 else remaining[0]
            return httpx.Response(200, json={**JOB, **state})
        return problem(404, "Not found", f"no route {request.url.path}")

    return handler


@pytest.fixture(autouse=True)
def _fast_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    original = cli_common.watch_job
    monkeypatch.setattr(
        cli_common, "watch_job", lambda client, job_id, poll=0.5: original(client, job_id, poll=0)
    )


# -- help and import cost -----------------------------------------------------------------------


def test_help_lists_commands() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in (
        "serve",
        "train",
        "predict",
        "explain",
        "rules",
        "batch",
        "keys",
        "datasets",
        "jobs",
        "models",
    ):
        assert command in result.stdout
    for group in ("keys", "datasets", "jobs", "models"):
        assert runner.invoke(app, [group, "--help"]).exit_code == 0


def test_version_flag() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and shopfloor.__version__ in result.stdout


def test_cli_import_stays_light() -> None:
    code = (
        "import sys, shopfloor.cli; "
        "heavy = [m for m in ('httpx', 'pandas', 'sklearn', 'shopfloor.server') if m in sys.modules]; "
        "assert not heavy, heavy"
    )
    src = str(Path(shopfloor.__file__).resolve().parents[1])
    subprocess.run([sys.executable, "-c", code], check=True, env={"PYTHONPATH": src})  # noqa: S603


# -- keys ---------------------------------------------------------------------------------------


def test_keys_create_prints_only_the_secret(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls: list[dict[str, Any]] = []

    def create_key(settings: Any, *, role: str, tenant: str, name: str | None, aws: bool) -> dict[str, Any]:
        calls.append({"home": settings.home, "role": role, "tenant": tenant, "name": name})
        assert aws is False
        return {"id": "key_abc", "secret": "sk_live_secret", "tenant": tenant, "role": role}

    fake = types.ModuleType("shopfloor.bootstrap")
    fake.create_key = create_key  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "shopfloor.bootstrap", fake)
    monkeypatch.setattr(shopfloor, "bootstrap", fake, raising=False)
    monkeypatch.setenv("SHOPFLOOR_HOME", str(tmp_path))

    result = runner.invoke(app, ["keys", "create", "--role", "admin", "--name", "ops"])
    assert result.exit_code == 0, result.output
    assert result.stdout == "sk_live_secret\n"
    assert "key_abc" in result.stderr and "tenant default" in result.stderr and "admin" in result.stderr
    assert calls == [{"home": tmp_path, "role": "admin", "tenant": "default", "name": "ops"}]

    result = runner.invoke(app, ["keys", "create", "--role", "root"])
    assert result.exit_code != 0


def test_keys_create_aws_prints_the_pair_once(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SHOPFLOOR_HOME", str(tmp_path))
    result = runner.invoke(app, ["keys", "create", "--role", "builder", "--aws"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert all(line.startswith("export ") for line in lines), lines  # for eval, seen by child programs
    printed = dict(line.removeprefix("export ").split("=", 1) for line in lines)
    assert set(printed) == {"SHOPFLOOR_API_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
    assert printed["SHOPFLOOR_API_KEY"].startswith("sfk_") and printed["AWS_ACCESS_KEY_ID"].startswith("SFAK")

    from shopfloor.bootstrap import prepare
    from shopfloor.security.access_keys import open_secret
    from shopfloor.settings import Settings

    platform = prepare(Settings(home=tmp_path))
    try:
        stored = platform.store.get_access_key(printed["AWS_ACCESS_KEY_ID"])
        assert stored is not None and stored.active
        data_key = platform.sealed.tenant_key(stored.tenant)
        assert open_secret(data_key, stored) == printed["AWS_SECRET_ACCESS_KEY"]
    finally:
        platform.close()


def test_keys_create_remote_list_revoke(serve_api: Any) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            body = json.loads(request.content)
            return httpx.Response(201, json={"id": "key_9", "tenant": "acme", "secret": "sk_9", **body})
        if request.method == "DELETE":
            return httpx.Response(204)
        items = [{"id": "key_9", "tenant": "acme", "role": "consumer", "created_at": "2024-01-01T10:00:00Z"}]
        return httpx.Response(200, json={"items": items})

    seen = serve_api(handler)
    result = runner.invoke(app, ["keys", "create", "--role", "consumer", "--remote"])
    assert result.exit_code == 0 and result.stdout == "sk_9\n"
    assert json.loads(seen[-1].content) == {"role": "consumer"}
    result = runner.invoke(app, ["keys", "list"])
    assert result.exit_code == 0 and "key_9" in result.stdout and "consumer" in result.stdout
    result = runner.invoke(app, ["keys", "revoke", "key_9"])
    assert result.exit_code == 0 and seen[-1].method == "DELETE" and seen[-1].url.path == "/v1/keys/key_9"


# -- errors -------------------------------------------------------------------------------------


def test_server_problem_is_shown_in_red_on_stderr_without_traceback(serve_api: Any) -> None:
    errs = [{"loc": ["columns", "Machine failure"], "msg": "column not found"}]
    serve_api(lambda request: problem(422, "Invalid input", "the target is not a column", errs))
    result = runner.invoke(app, ["train", "--dataset", "ds_1", "--target", "Machine failure", "--name", "m"])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "Invalid input" in result.stderr and "the target is not a column" in result.stderr
    assert "columns.Machine failure: column not found" in result.stderr
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)  # a clean exit, not an uncaught error


def test_connection_refused_names_shopfloor_url(serve_api: Any) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    serve_api(refuse)
    result = runner.invoke(app, ["models", "list"])
    assert result.exit_code == 1
    assert "SHOPFLOOR_URL" in result.stderr and URL in result.stderr


# -- jobs ---------------------------------------------------------------------------------------


def test_jobs_watch_exit_zero_on_success(serve_api: Any) -> None:
    serve_api(
        jobs_then(
            {"status": "running", "progress": 0.3, "stage": "searching"},
            {"status": "succeeded", "progress": 1.0, "result": {"model": "m", "version": 2}},
        )
    )
    result = runner.invoke(app, ["jobs", "watch", "job_1"])
    assert result.exit_code == 0, result.output
    assert "succeeded" in result.stderr
    assert "version" in result.stdout


@pytest.mark.parametrize("status", ["failed", "cancelled"])
def test_jobs_watch_exit_one_otherwise(serve_api: Any, status: str) -> None:
    serve_api(jobs_then({"status": "running", "progress": 0.5}, {"status": status, "error": "out of memory"}))
    result = runner.invoke(app, ["jobs", "watch", "job_1"])
    assert result.exit_code == 1
    assert status in result.stderr
    if status == "failed":
        assert "out of memory" in result.stderr


def test_jobs_show_list_cancel_result(serve_api: Any, tmp_path: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/v1/jobs":
            return httpx.Response(200, json={"items": [{**JOB, "status": "running", "progress": 0.25}]})
        if path.endswith("/cancel"):
            return httpx.Response(200, json={**JOB, "status": "cancelled"})
        if path.endswith("/result"):
            return httpx.Response(200, content=b"a,prediction\n1,0\n", headers={"content-type": "text/csv"})
        return httpx.Response(200, json={**JOB, "params": {"target": "y"}})

    serve_api(handler)
    result = runner.invoke(app, ["jobs", "list"])
    assert result.exit_code == 0 and "job_1" in result.stdout and "25%" in result.stdout
    result = runner.invoke(app, ["jobs", "show", "job_1"])
    assert result.exit_code == 0 and "params.target" in result.stdout
    result = runner.invoke(app, ["jobs", "cancel", "job_1"])
    assert result.exit_code == 0 and "cancelled" in result.stderr
    result = runner.invoke(app, ["jobs", "result", "job_1"])
    assert result.exit_code == 0 and result.stdout == "a,prediction\n1,0\n"
    out = tmp_path / "r.csv"
    result = runner.invoke(app, ["jobs", "result", "job_1", "-o", str(out)])
    assert result.exit_code == 0 and out.read_bytes() == b"a,prediction\n1,0\n"


def test_train_no_watch_prints_job_id_and_splits_exclude(serve_api: Any) -> None:
    seen = serve_api(lambda request: httpx.Response(202, json=JOB))
    args = ["train", "--dataset", "ds_1", "--target", "y", "--name", "m", "--no-watch", "--time-budget", "30"]
    result = runner.invoke(app, [*args, "--exclude", "UDI", "--exclude", "Product ID, TWF,"])
    assert result.exit_code == 0, result.output
    assert result.stdout == "job_1\n"
    body = json.loads(seen[0].content)
    assert body["exclude"] == ["UDI", "Product ID", "TWF"]
    assert (
        body["time_budget_s"] == 30 and body["model_name"] == "m" and body["task"] == "tabular_classification"
    )


def test_train_watches_and_fails_with_exit_one(serve_api: Any) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(202, json=JOB)
        return httpx.Response(200, json={**JOB, "status": "failed", "error": "target has one class"})

    serve_api(handler)
    result = runner.invoke(app, ["train", "--dataset", "ds_1", "--target", "y", "--name", "m"])
    assert result.exit_code == 1
    assert result.stdout.startswith("job_1\n")
    assert "target has one class" in result.stderr


# -- datasets and models ------------------------------------------------------------------------

DATASET = {
    "id": "ds_1",
    "name": "press",
    "version": 1,
    "rows": 2,
    "sha256": "ab" * 32,
    "size_bytes": 1234,
    "format": "csv",
    "created_at": "2024-01-01T00:00:00Z",
    "columns": [
        {
            "name": "temp",
            "type": "numeric",
            "missing": 1,
            "stats": {"mean": 300.25, "min": 290.0, "max": 310.0},
        },
        {"name": "kind", "type": "categorical", "missing": 0, "stats": {"unique": 3}},
    ],
}


def test_datasets_upload_list_show(serve_api: Any, tmp_path: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(201, json=DATASET)
        if request.url.path == "/v1/datasets":
            return httpx.Response(200, json={"items": [DATASET]})
        return httpx.Response(200, json=DATASET)

    seen = serve_api(handler)
    csv = tmp_path / "press.csv"
    csv.write_text("temp,kind\n1,a\n")
    result = runner.invoke(app, ["datasets", "upload", str(csv), "--name", "press"])
    assert result.exit_code == 0, result.output
    assert seen[0].headers["content-type"].startswith("multipart/form-data")
    assert "ds_1" in result.stderr
    result = runner.invoke(app, ["datasets", "list"])
    assert result.exit_code == 0 and "press" in result.stdout
    result = runner.invoke(app, ["datasets", "show", "ds_1"])
    assert result.exit_code == 0
    assert "temp" in result.stdout and "numeric" in result.stdout and "mean=300.2" in result.stdout
    assert "1.2 kB" in result.stdout
    assert runner.invoke(app, ["datasets", "upload", str(tmp_path / "missing.csv")]).exit_code == 2


VERSION = {
    "model": "m",
    "version": 2,
    "task": "tabular_classification",
    "status": "ready",
    "created_at": "2024-01-01T00:00:00Z",
    "aliases": ["production"],
    "metrics": {"test": {"f1": 0.8123, "roc_auc": 0.95}},
    "stability": {"f1_std": 0.01, "warnings": ["f1 varies across seeds"]},
    "chosen": "lightgbm",
    "candidates": [{"name": "lightgbm", "score": 0.81}, {"name": "logreg", "score": 0.7}],
    "report": {"warnings": ["class imbalance 3%"]},
}


def test_models_delete_asks_first(serve_api: Any) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "DELETE" and request.url.path == "/v1/models/m":
            return httpx.Response(204)
        return problem(404, "Not found", "model 'x' not found")

    seen = serve_api(handler)
    result = runner.invoke(app, ["models", "delete", "m"], input="n\n")
    assert result.exit_code == 1 and seen == []  # declined: nothing sent
    result = runner.invoke(app, ["models", "delete", "m"], input="y\n")
    assert result.exit_code == 0 and "m: deleted" in result.stderr
    assert [(r.method, r.url.path) for r in seen] == [("DELETE", "/v1/models/m")]
    result = runner.invoke(app, ["models", "delete", "x", "--yes"])
    assert result.exit_code == 1 and "model 'x' not found" in result.stderr


def test_models_list_show_promote(serve_api: Any) -> None:
    model = {"name": "m", "task": "tabular_classification", "created_at": "2024", "latest_version": 2}

    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/v1/models":
            about = {"aliases": {"production": 2}, "description": "Tool wear, line 1\nsecond line"}
            return httpx.Response(200, json={"items": [{**model, **about}]})
        if path == "/v1/models/m" and request.method == "PATCH":
            return httpx.Response(200, json={**model, **json.loads(request.content)})
        if path == "/v1/models/m":
            return httpx.Response(200, json={**model, "versions": []})
        if path.startswith("/v1/models/m/versions/"):
            return httpx.Response(200, json=VERSION)
        if request.method == "PUT":
            return httpx.Response(200, json={"model": "m", "alias": "staging", "version": 1})
        return problem(404, "Not found", "no such model")

    seen = serve_api(handler)
    result = runner.invoke(app, ["models", "list"])
    assert result.exit_code == 0 and "production→v2" in result.stdout
    assert "Tool" in result.stdout and "second" not in result.stdout  # the first line, wrapped
    result = runner.invoke(app, ["models", "describe", "m", "Spindle [wear] <b>"])
    assert result.exit_code == 0 and "description set (18 characters)" in result.stderr
    assert seen[-1].method == "PATCH"
    assert json.loads(seen[-1].content) == {"description": "Spindle [wear] <b>"}
    result = runner.invoke(app, ["models", "show", "m"])
    assert result.exit_code == 0, result.output
    assert seen[-1].url.path == "/v1/models/m/versions/2"
    for text in ("test.f1", "0.8123", "logreg", "f1_std", "class imbalance 3%", "f1 varies across seeds"):
        assert text in result.stdout
    result = runner.invoke(app, ["models", "show", "m", "--version", "1", "--json"])
    assert result.exit_code == 0 and json.loads(result.stdout)["chosen"] == "lightgbm"
    assert seen[-1].url.path == "/v1/models/m/versions/1"
    result = runner.invoke(app, ["models", "promote", "m", "1", "--alias", "staging"])
    assert result.exit_code == 0 and json.loads(seen[-1].content) == {"version": 1}
    assert seen[-1].url.path == "/v1/models/m/aliases/staging"
    result = runner.invoke(app, ["models", "show", "nope"])
    assert result.exit_code == 1 and "no such model" in result.stderr


# -- serving ------------------------------------------------------------------------------------


def test_predict_csv_table_and_json(serve_api: Any, tmp_path: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        n = len(json.loads(request.content)["records"])
        preds = [{"prediction": i % 2, "probability": 0.25} for i in range(n)]
        return httpx.Response(
            200, json={"model": "m", "version": 3, "predictions": preds, "warnings": ["drift"]}
        )

    seen = serve_api(handler)
    csv = tmp_path / "rows.csv"
    csv.write_bytes("\ufefftemp,kind\n300.5,L\n,M\n".encode())  # BOM, as Excel writes it
    result = runner.invoke(app, ["predict", "m", str(csv), "--version", "3"])
    assert result.exit_code == 0, result.output
    assert json.loads(seen[0].content) == {
        "records": [{"temp": 300.5, "kind": "L"}, {"temp": None, "kind": "M"}]
    }
    assert seen[0].url.params["version"] == "3"
    assert "prediction" in result.stdout and "0.25" in result.stdout
    assert "drift" in result.stderr

    result = runner.invoke(app, ["predict", "m", str(csv), "--json"])
    assert result.exit_code == 0 and len(json.loads(result.stdout)["predictions"]) == 2
    assert "version" not in seen[-1].url.params

    js = tmp_path / "rows.json"
    js.write_text(json.dumps({"records": [{"temp": 1}]}))
    assert runner.invoke(app, ["predict", "m", str(js), "--version", "production"]).exit_code == 0
    assert json.loads(seen[-1].content) == {"records": [{"temp": 1}]}
    assert seen[-1].url.params["version"] == "production"

    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    result = runner.invoke(app, ["predict", "m", str(bad)])
    assert result.exit_code == 1 and "not valid JSON" in result.stderr


def test_explain_shows_signed_contributions(serve_api: Any, tmp_path: Path) -> None:
    expl = {
        "prediction": 1,
        "base_value": 0.03,
        "contributions": [
            {"feature": "torque", "value": 60.1, "contribution": 0.4},
            {"feature": "speed", "value": 1400, "contribution": -0.2},
            {"feature": "temp", "value": 300, "contribution": 0.01},
        ],
    }
    seen = serve_api(
        lambda r: httpx.Response(
            200, json={"model": "m", "version": 1, "method": "lime", "explanations": [expl]}
        )
    )
    js = tmp_path / "one.json"
    js.write_text(json.dumps([{"torque": 60.1, "speed": 1400, "temp": 300}]))
    result = runner.invoke(app, ["explain", "m", str(js), "--method", "lime", "--top", "2"])
    assert result.exit_code == 0, result.output
    assert seen[0].url.params["method"] == "lime"
    assert "torque" in result.stdout and "+0.4" in result.stdout and "-0.2" in result.stdout
    assert "temp " not in result.stdout.split("record 0", 1)[1]  # cut by --top 2
    assert "█" in result.stdout


def test_rules_table_with_fidelity(serve_api: Any) -> None:
    rules = [
        {"rule": "torque > 55 AND speed < 1380", "prediction": 1, "support": 0.02, "precision": 0.91},
        {"rule": "otherwise", "prediction": 0, "support": 0.98, "precision": 0.99},
    ]
    serve_api(
        lambda r: httpx.Response(
            200, json={"model": "m", "version": 1, "fidelity": 0.97, "depth": 3, "rules": rules}
        )
    )
    result = runner.invoke(app, ["rules", "m"])
    assert result.exit_code == 0, result.output
    for text in ("torque > 55", "support", "precision", "0.91", "fidelity 0.97", "depth 3"):
        assert text in result.stdout


def test_rules_show_precision_beside_model_agreement_and_balanced_fidelity(serve_api: Any) -> None:
    rules = [
        {"rule": "torque > 55", "prediction": 1, "support": 40, "precision": 0.62, "model_agreement": 0.95},
    ]
    body = {"model": "m", "version": 1, "fidelity": 0.99, "balanced_fidelity": 0.81, "depth": 7,
            "undescribed_classes": ["1"], "rules": rules}
    serve_api(lambda r: httpx.Response(200, json=body))
    result = runner.invoke(app, ["rules", "m"])
    assert result.exit_code == 0, result.output
    for text in ("0.62", "0.95", "balanced (per class) 0.81", "poorly described: 1"):
        assert text in result.stdout


def test_batch_watches_and_downloads(serve_api: Any, tmp_path: Path) -> None:
    states = iter([{"status": "running", "progress": 0.5}, {"status": "succeeded", "progress": 1.0}])

    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/v1/models/m/batch":
            return httpx.Response(202, json={**JOB, "type": "batch_predict"})
        if path == "/v1/jobs/job_1":
            return httpx.Response(200, json={**JOB, "type": "batch_predict", **next(states)})
        if path == "/v1/jobs/job_1/result":
            return httpx.Response(
                200, content=b"temp,prediction\n1,0\n", headers={"content-type": "text/csv"}
            )
        return problem(404, "Not found", path)

    seen = serve_api(handler)
    src = tmp_path / "shift.csv"
    src.write_text("temp\n1\n")
    result = runner.invoke(app, ["batch", "m", str(src), "--version", "2"])
    assert result.exit_code == 0, result.output
    assert result.stdout == "job_1\n"
    assert seen[0].url.params["version"] == "2"
    assert (tmp_path / "shift.scored.csv").read_bytes() == b"temp,prediction\n1,0\n"


# -- serve --------------------------------------------------------------------------------------


def test_serve_passes_overridden_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    got: list[Any] = []
    fake = types.ModuleType("shopfloor.server")
    fake.serve = got.append  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "shopfloor.server", fake)
    monkeypatch.setattr(shopfloor, "server", fake, raising=False)
    monkeypatch.setenv("SHOPFLOOR_HOME", str(tmp_path))
    monkeypatch.setenv("SHOPFLOOR_HOST", "0.0.0.0")  # noqa: S104

    result = runner.invoke(app, ["serve", "--port", "9001", "--workers", "2"])
    assert result.exit_code == 0, result.output
    (settings,) = got
    assert (settings.host, settings.port, settings.workers, settings.home) == ("0.0.0.0", 9001, 2, tmp_path)  # noqa: S104

    monkeypatch.setenv("SHOPFLOOR_MODE", "production")
    result = runner.invoke(app, ["serve"])
    assert result.exit_code == 1 and "SHOPFLOOR_SECRET_KEY" in result.stderr


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("s3://", "names no valid bucket"),
        ("s3:///plant-a", "names no valid bucket"),
        ("azure://container/plant-a", "unsupported scheme 'azure'"),
    ],
)
def test_serve_refuses_an_artifact_store_it_cannot_use(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, url: str, words: str
) -> None:
    started: list[Any] = []
    fake = types.ModuleType("shopfloor.server")
    fake.serve = started.append  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "shopfloor.server", fake)
    monkeypatch.setattr(shopfloor, "server", fake, raising=False)
    monkeypatch.setenv("SHOPFLOOR_HOME", str(tmp_path))
    monkeypatch.setenv("SHOPFLOOR_ARTIFACTS_URL", url)
    result = runner.invoke(app, ["serve"])
    assert result.exit_code == 1 and started == []
    said = " ".join(result.stderr.split())  # rich wraps long lines
    assert "artifacts_url: Value error, SHOPFLOOR_ARTIFACTS_URL" in said and words in said, said


# -- sensor families ----------------------------------------------------------------------------


def test_train_sensor_family_sends_layout_and_options(serve_api: Any) -> None:
    seen = serve_api(lambda request: httpx.Response(202, json=JOB))
    args = ["train", "--dataset", "ds_1", "--name", "fd001", "--task", "rul", "--no-watch"]
    more = ["--asset-column", "unit", "--time-column", "cycle", "--option", "cap=130",
            "--option", 'candidates=["lightgbm"]', "--option", "note=plain text"]
    result = runner.invoke(app, [*args, *more])
    assert result.exit_code == 0, result.output
    body = json.loads(seen[0].content)
    assert "target" not in body and body["task"] == "rul"
    assert body["asset_column"] == "unit" and body["time_column"] == "cycle"
    assert body["options"] == {"cap": 130, "candidates": ["lightgbm"], "note": "plain text"}
    result = runner.invoke(app, [*args, "--option", "cap"])
    assert result.exit_code != 0 and "KEY=VALUE" in result.output


def test_score_streams_points_and_shows_events(serve_api: Any, tmp_path: Path) -> None:
    event = {"start": 40, "end": 44, "peak": 42, "peak_score": 9.1, "severity": "high",
             "contributions": {"vib": 81.0, "temp": 12.0, "pressure": 7.0}, "open": True}
    answer = {"model": "press", "version": 1, "results": [
        {"asset": 2, "points": [{"time": 40, "score": 9.1, "flagged": True}], "events": [event]},
        {"asset": 3, "points": [{"time": 40, "score": 0.2, "flagged": False}], "events": []},
    ]}
    seen = serve_api(lambda request: httpx.Response(200, json=answer))
    csv = tmp_path / "newest.csv"
    csv.write_text("unit,cycle,vib\n2,40,7.5\n3,40,0.1\n")
    result = runner.invoke(app, ["score", "press", str(csv)])
    assert result.exit_code == 0, result.output
    assert seen[0].url.path == "/v1/models/press/score"
    assert json.loads(seen[0].content)["records"][0] == {"unit": 2, "cycle": 40, "vib": 7.5}
    assert "vib 81%" in result.stdout and "no event" in result.stdout


# -- progress without a terminal ----------------------------------------------------------------


def test_watch_prints_a_line_per_stage_or_progress_step_when_not_a_terminal(serve_api: Any) -> None:
    training = {"status": "running", "stage": "training"}
    serve_api(
        jobs_then(
            {"status": "queued"},
            {**training, "progress": 0.10},
            {**training, "progress": 0.12},  # under a 10-point step: no line
            {**training, "progress": 0.12},  # unchanged: no call at all
            {**training, "progress": 0.40},
            {"status": "running", "stage": "evaluating", "progress": 0.42},
            {"status": "succeeded", "progress": 1.0, "result": {"model": "m", "version": 1}},
        )
    )
    result = runner.invoke(app, ["jobs", "watch", "job_1"])  # CliRunner's stderr is no terminal
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert [line.split(" (")[0] for line in lines[:-1]] == [
        "queued 0%",
        "training 10%",
        "training 40%",
        "evaluating 42%",
        "succeeded 100%",
    ]
    assert lines[-1] == "Job job_1 succeeded"


# -- commands added for every family ------------------------------------------------------------


def test_train_task_takes_every_trainable_family_from_the_catalog(serve_api: Any) -> None:
    from shopfloor.tasks import catalog

    seen = serve_api(lambda request: httpx.Response(202, json=JOB))
    trainable = [t for t in catalog.tasks() if catalog.trainable(t)]
    assert {"forecast", "image_classification", "image_anomaly", "text_classification"} <= set(trainable)
    for task in trainable:
        args = ["train", "--dataset", "ds_1", "--name", "m", "--task", task, "--no-watch"]
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        assert json.loads(seen[-1].content)["task"] == task
    result = runner.invoke(app, ["train", "--dataset", "ds_1", "--name", "m", "--task", "tabular"])
    assert result.exit_code == 2 and "forecast" in result.output


def test_datasets_upload_wide_layout(serve_api: Any, tmp_path: Path) -> None:
    answer = {**DATASET, "conversion": {"layout": "wide", "series": 2, "periods": 3}}
    seen = serve_api(lambda request: httpx.Response(201, json=answer))
    csv = tmp_path / "sales.csv"
    csv.write_text("Product_Code,W0,W1,W2\nP1,1,2,3\nP2,4,5,6\n")
    args = ["datasets", "upload", str(csv), "--layout", "wide", "--series-column", "Product_Code"]
    result = runner.invoke(app, [*args, "--period-prefix", "W"])
    assert result.exit_code == 0, result.output
    body = seen[0].content.decode()
    for field, value in (("layout", "wide"), ("series_column", "Product_Code"), ("period_prefix", "W")):
        assert f'name="{field}"\r\n\r\n{value}\r\n' in body
    assert "long form" in result.stderr


def test_models_plot_horizon(serve_api: Any, tmp_path: Path) -> None:
    seen = serve_api(
        lambda request: httpx.Response(200, content=b"\x89PNG", headers={"content-type": "image/png"})
    )
    out = tmp_path / "h.png"
    result = runner.invoke(
        app, ["models", "plot", "sales", "--kind", "horizon", "--version", "1", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert seen[0].url.path == "/v1/models/sales/versions/1/plots/horizon" and out.read_bytes() == b"\x89PNG"


FORECAST = {
    "model": "sales",
    "version": 1,
    "chosen": "ets",
    "horizon": 2,
    "levels": [80.0],
    "forecasts": [
        {
            "series": "P1",
            "periods": [52, 53],
            "forecast": [10.5, 11.25],
            "intervals": {"80": {"lower": [9.0, 9.5], "upper": [12.0, 13.0]}},
        }
    ],
}


def test_forecast_sends_series_horizon_levels_and_prints_a_table(serve_api: Any) -> None:
    seen = serve_api(lambda request: httpx.Response(200, json=FORECAST))
    args = ["forecast", "sales", "--series", "P1,P2", "--horizon", "2", "--levels", "80,95"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert seen[0].url.path == "/v1/models/sales/forecast"
    assert json.loads(seen[0].content) == {"series": ["P1", "P2"], "horizon": 2, "levels": [80.0, 95.0]}
    assert "11.25" in result.stdout and "80% low" in result.stdout and "P1" in result.stdout
    result = runner.invoke(app, ["forecast", "sales", "--json"])
    assert json.loads(seen[-1].content)["series"] == "all" and json.loads(result.stdout) == FORECAST


def test_optimize_reads_the_request_from_a_file(serve_api: Any, tmp_path: Path) -> None:
    answer = {
        "status": "optimal",
        "objective": "minimize",
        "best": {"settings": {"Torque [Nm]": 31.5}, "record": {}, "predicted": 0.0123, "derived": {}},
    }
    seen = serve_api(lambda request: httpx.Response(200, json=answer))
    request = tmp_path / "request.json"
    body = {"controls": {"Torque [Nm]": {"min": 10, "max": 70}}, "fixed": {"Type": "L"}, "trials": 50}
    request.write_text(json.dumps(body))
    result = runner.invoke(app, ["optimize", "ai4i", str(request)])
    assert result.exit_code == 0, result.output
    sent = json.loads(seen[0].content)
    assert sent["controls"] == body["controls"] and sent["fixed"] == {"Type": "L"} and sent["trials"] == 50
    assert "settings.Torque [Nm]" in result.stdout and "31.5" in result.stdout and "0.0123" in result.stdout
    request.write_text(json.dumps({**body, "trails": 5}))
    result = runner.invoke(app, ["optimize", "ai4i", str(request)])
    assert result.exit_code == 1 and "trails" in result.stderr and len(seen) == 1


def test_predict_part_images(serve_api: Any, tmp_path: Path) -> None:
    answer = {"model": "parts", "version": 1, "predictions": [{"label": "scratch", "score": 0.9}] * 2}
    seen = serve_api(lambda request: httpx.Response(200, json=answer))
    images = [tmp_path / "a.png", tmp_path / "b.jpg"]
    for image in images:
        image.write_bytes(b"\x89PNG fake")
    result = runner.invoke(app, ["predict", "parts", *map(str, images)])
    assert result.exit_code == 0, result.output
    assert seen[0].headers["content-type"].startswith("multipart/form-data")
    assert b'filename="a.png"' in seen[0].content and b'filename="b.jpg"' in seen[0].content
    assert "scratch" in result.stdout and "b.jpg" in result.stdout
    csv = tmp_path / "r.csv"
    csv.write_text("a\n1\n")
    result = runner.invoke(app, ["predict", "parts", str(images[0]), str(csv)])
    assert result.exit_code == 2 and "mixed" in result.output


def test_hub_list_embed_classify(serve_api: Any) -> None:
    hub = {"items": [{"name": "all-MiniLM-L6-v2", "modality": "text", "dimension": 384}]}
    ranked = {
        "model": "all-MiniLM-L6-v2",
        "variant": "onnx",
        "template": "{label}",
        "results": [
            {"index": 0, "ranking": [{"label": "hydraulic", "score": 0.8}, {"label": "engine", "score": 0.2}]}
        ],
        "warnings": [],
    }

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/hub":
            return httpx.Response(200, json=hub)
        if request.url.path.endswith("/embed"):
            return httpx.Response(200, json={"model": "m", "dimension": 2, "embeddings": [[0.6, 0.8]]})
        return httpx.Response(200, json=ranked)

    seen = serve_api(handler)
    result = runner.invoke(app, ["hub", "list"])
    assert result.exit_code == 0 and "all-MiniLM-L6-v2" in result.stdout and "384" in result.stdout
    result = runner.invoke(app, ["hub", "embed", "oil leak at the boom"])
    assert result.exit_code == 0 and json.loads(result.stdout)["embeddings"] == [[0.6, 0.8]]
    assert json.loads(seen[-1].content) == {"texts": ["oil leak at the boom"]}
    result = runner.invoke(app, ["hub", "classify", "oil leak", "--labels", "hydraulic,engine"])
    assert result.exit_code == 0, result.output
    assert json.loads(seen[-1].content)["labels"] == ["hydraulic", "engine"]
    assert "hydraulic" in result.stdout and "0.8" in result.stdout


def test_masking_show_set_preview(serve_api: Any, tmp_path: Path) -> None:
    policy = {
        "names": ["Anna Berg"],
        "patterns": [{"name": "BADGE", "regex": "B-\\d{5}"}],
        "reversible": False,
    }

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/masking/preview":
            return httpx.Response(200, json={"text": "[NAME] at [BADGE]", "counts": {"NAME": 1}, "spans": []})
        if request.method == "PUT":
            return httpx.Response(200, json=json.loads(request.content))
        return httpx.Response(200, json=policy)

    seen = serve_api(handler)
    result = runner.invoke(app, ["masking", "show"])
    assert result.exit_code == 0 and json.loads(result.stdout) == policy
    file = tmp_path / "policy.json"
    file.write_text(json.dumps(policy))
    result = runner.invoke(app, ["masking", "set", str(file)])
    assert result.exit_code == 0, result.output
    assert seen[-1].method == "PUT" and json.loads(seen[-1].content) == policy
    result = runner.invoke(app, ["masking", "preview", "Anna Berg at B-12345"])
    assert result.exit_code == 0 and result.stdout.strip() == "[NAME] at [BADGE]"
    assert json.loads(seen[-1].content) == {"text": "Anna Berg at B-12345"} and "NAME: 1" in result.stderr
    file.write_text(json.dumps({"nmes": []}))
    result = runner.invoke(app, ["masking", "set", str(file)])
    assert result.exit_code == 1 and "nmes" in result.stderr


def test_predict_recording_files(serve_api: Any, tmp_path: Path) -> None:
    predictions = [
        {"file": "B007_2.mat", "label": "B", "probabilities": {"B": 0.875, "IR": 0.1, "OR": 0.025}},
        {"file": "run.csv", "label": "OR", "probabilities": {"B": 0.1, "IR": 0.1, "OR": 0.8}},
    ]
    answer = {"model": "bearing", "version": 1, "predictions": predictions, "warnings": []}
    seen = serve_api(lambda request: httpx.Response(200, json=answer))
    mat, csv = tmp_path / "B007_2.mat", tmp_path / "run.csv"
    mat.write_bytes(b"MATLAB 5.0 fake")
    csv.write_text("signal\n0.1\n")
    args = ["predict", "bearing", str(mat), "--sampling-rate", "12000", "--channels", "FE_time"]
    result = runner.invoke(app, [*args, "--version", "1"])
    assert result.exit_code == 0, result.output
    sent = seen[0]
    assert sent.url.path == "/v1/models/bearing/predict" and sent.url.params["version"] == "1"
    body = sent.content.decode()
    assert 'name="recording"; filename="B007_2.mat"' in body
    assert '"sampling_rate"\r\n\r\n12000.0\r\n' in body and '"channels"\r\n\r\nFE_time\r\n' in body
    for shown in ("file", "label", "probabilities", "B007_2.mat", "B 0.88", "OR 0.80"):
        assert shown in result.stdout, result.stdout
    # CSV and Parquet files are records tables unless --recordings says they are recordings
    result = runner.invoke(app, ["predict", "bearing", str(mat), str(csv), "--recordings", "--rpm", "1750"])
    assert result.exit_code == 0, result.output
    body = seen[1].content.decode()
    assert body.count('name="recording"') == 2 and '"rpm"\r\n\r\n1750.0\r\n' in body
    result = runner.invoke(app, ["predict", "bearing", str(mat), str(csv)])
    assert result.exit_code == 2 and "mixed" in result.output
    result = runner.invoke(app, ["predict", "bearing", str(csv), "--sampling-rate", "12000"])
    assert result.exit_code == 2 and "recording files" in result.output
    assert len(seen) == 2


def test_datasets_upload_recordings_with_rate_and_channels(serve_api: Any, tmp_path: Path) -> None:
    seen = serve_api(lambda request: httpx.Response(201, json={**DATASET, "format": "signals"}))
    archive = tmp_path / "bearings.zip"
    archive.write_bytes(b"PK\x03\x04 fake")
    args = ["datasets", "upload", str(archive), "--format", "signals", "--sampling-rate", "12000"]
    result = runner.invoke(app, [*args, "--channels", "FE_time", "--rpm", "1772"])
    assert result.exit_code == 0, result.output
    body = seen[0].content.decode()
    for field, value in (("format", "signals"), ("sampling_rate", "12000.0"), ("channels", "FE_time")):
        assert f'name="{field}"\r\n\r\n{value}\r\n' in body
    assert 'name="rpm"\r\n\r\n1772.0\r\n' in body


def test_models_export(serve_api: Any, tmp_path: Path) -> None:
    seen = serve_api(lambda request: httpx.Response(200, content=b"onnx-bytes"))
    out = tmp_path / "press.onnx"
    args = ["models", "export", "press", "--version", "3", "--format", "onnx", "-o", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert seen[0].url.path == "/v1/models/press/versions/3/export" and seen[0].url.params["format"] == "onnx"
    assert out.read_bytes() == b"onnx-bytes" and result.stdout.strip() == str(out)
    assert "wrote" in result.stderr and "10 bytes" in result.stderr
    refused = serve_api(lambda request: problem(409, "Conflict", "imported models cannot be exported"))
    args = ["models", "export", "outside", "--version", "1", "-o", str(tmp_path / "x.zip")]
    result = runner.invoke(app, args)
    assert result.exit_code != 0 and "cannot be exported" in result.output and refused
    assert not (tmp_path / "x.zip").exists()
