"""The deployable package (Dockerfile, compose.yaml, HAProxy and Kubernetes manifests) agrees with the code.

Docker cannot run here, so these checks read the files: the image is multi-stage, unprivileged and
installs the pinned CPU build of PyTorch; every ``SHOPFLOOR_*`` variable the files set is a real
setting; every role they start exists; the probes point at the liveness and readiness routes.
The same topology runs as local processes in the cluster tests (scripts/cluster.sh).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any, get_args

import pytest
import yaml

from shopfloor.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
KUBE = sorted((ROOT / "deploy" / "kubernetes").glob("*.yaml"))


def _compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def _kube_docs() -> list[dict[str, Any]]:
    return [doc for path in KUBE for doc in yaml.safe_load_all(path.read_text()) if doc]


def _stages(text: str) -> list[list[str]]:
    stages: list[list[str]] = []
    for line in text.splitlines():
        if line.startswith("FROM "):
            stages.append([])
        if stages:
            stages[-1].append(line)
    return stages


def test_the_image_is_multi_stage_unprivileged_and_installs_the_pinned_cpu_torch() -> None:
    text = (ROOT / "Dockerfile").read_text()
    stages = _stages(text)
    assert len(stages) >= 2
    final = "\n".join(stages[-1])
    user = re.search(r"^USER (\S+)", final, re.M)
    assert user and user.group(1).split(":")[0] not in {"0", "root"}
    assert "-c constraints.txt -r requirements.lock" in text
    assert "download.pytorch.org/whl/cpu" in text
    lock = (ROOT / "requirements.lock").read_text()
    assert re.search(r"^torch==[\d.]+\+cpu$", lock, re.M), "the lock pins the CPU build"
    assert not re.search(r"pip install[^\n]*\btorch\b", text), "torch only through the lock"


ROLES = set(get_args(Settings.model_fields["role"].annotation))


def _settings_fields() -> set[str]:
    return {f"SHOPFLOOR_{name.upper()}" for name in Settings.model_fields}


def _shopfloor_env_names() -> set[str]:
    names = set()
    compose = _compose()
    for service in compose["services"].values():
        env = service.get("environment") or {}
        names |= {k for k in (env if isinstance(env, dict) else [e.split("=")[0] for e in env])}
    for doc in _kube_docs():
        if doc["kind"] == "ConfigMap":
            names |= set(doc["data"])
    kube_readme = (ROOT / "deploy" / "kubernetes" / "README.md").read_text()
    names |= set(re.findall(r"(SHOPFLOOR_[A-Z0-9_]+)", kube_readme))
    example = (ROOT / "deploy" / "cluster.env.example").read_text()
    names |= set(re.findall(r"^(SHOPFLOOR_[A-Z0-9_]+)=", example, re.M))
    cluster_sh = (ROOT / "scripts" / "cluster.sh").read_text()
    names |= set(re.findall(r"^export (SHOPFLOOR_[A-Z0-9_]+)=", cluster_sh, re.M))
    return {n for n in names if n.startswith("SHOPFLOOR_")}


#: Read by the CLI and the SDK, not by the server.
CLIENT_VARIABLES = {"SHOPFLOOR_URL", "SHOPFLOOR_API_KEY"}


def test_every_variable_the_files_set_is_a_setting() -> None:
    unknown = _shopfloor_env_names() - _settings_fields() - CLIENT_VARIABLES
    assert not unknown, f"not settings: {sorted(unknown)}"


def _serve_roles(args: list[str]) -> str | None:
    if args[:1] == ["serve"] and "--role" in args:
        return args[args.index("--role") + 1]
    return None


def test_the_compose_topology_has_every_part_and_known_roles() -> None:
    services = _compose()["services"]
    roles = {name: _serve_roles(list(s.get("command") or [])) for name, s in services.items()}
    assert [n for n, r in roles.items() if r == "api"] == ["api-1", "api-2"]
    assert [n for n, r in roles.items() if r == "worker"] == ["dispatcher"]
    assert ROLES == {"api", "worker", "all"} and {r for r in roles.values() if r} <= ROLES
    workers = [n for n, s in services.items() if (s.get("entrypoint") or [])[:2] == ["dask", "worker"]]
    assert len(workers) == 2
    assert {"postgres", "s3", "lb", "scheduler"} <= set(services)
    env = services["api-1"]["environment"]
    assert env["SHOPFLOOR_DATABASE_URL"].startswith("postgresql+psycopg://")
    assert env["SHOPFLOOR_ARTIFACTS_URL"].startswith("s3://")
    assert env["SHOPFLOOR_DASK_SCHEDULER"] == "tcp://scheduler:8786"
    haproxy = (ROOT / "deploy" / "haproxy.cfg").read_text()
    assert "option httpchk GET /readyz" in haproxy
    # the ready replicas, and the same replicas by liveness while none is ready
    assert re.findall(r"^\s*server (\S+) ", haproxy, re.M) == ["api-1", "api-2"] * 2
    assert "use_backend live if { nbsrv(api) eq 0 }" in haproxy


def test_the_haproxy_configuration_is_valid(tmp_path: Path) -> None:
    haproxy = shutil.which("haproxy") or ("/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").exists() else None)
    if haproxy is None:
        pytest.skip("HAProxy is not installed here (scripts/cluster.sh installs it from Debian)")
    text = (ROOT / "deploy" / "haproxy.cfg").read_text()
    cfg = tmp_path / "haproxy.cfg"  # the compose service names resolved to loopback
    cfg.write_text(re.sub(r"api-([12]):8000", r"127.0.0.1:800\1", text))
    check = subprocess.run([haproxy, "-c", "-f", str(cfg)], capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, check.stdout + check.stderr


@pytest.mark.parametrize("component", ["api"])
def test_kubernetes_probes_are_wired_and_pods_run_unprivileged(component: str) -> None:
    deployments = [d for d in _kube_docs() if d["kind"] == "Deployment"]
    assert deployments
    for d in deployments:
        assert d["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True
        for c in d["spec"]["template"]["spec"]["containers"]:
            role = _serve_roles(list(c.get("args") or []))
            assert role is None or role in ROLES
    api = next(d for d in deployments if d["metadata"]["labels"]["app.kubernetes.io/component"] == component)
    container = api["spec"]["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert api["spec"]["replicas"] >= 2
