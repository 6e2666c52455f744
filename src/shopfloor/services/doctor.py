"""``shopfloor doctor``: check every registry row against its artifact files and signature.

Datasets and model versions are read back the way the server reads them (decrypted,
sha256 and signature checked), running jobs are checked for a live process, and files
in the artifact store that no registry row points to are listed as orphans (what a
process killed between writing files and committing their row leaves behind).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shopfloor.context import Platform
from shopfloor.data.stored import load_frame
from shopfloor.errors import ShopfloorError
from shopfloor.jobs.runner import HOST
from shopfloor.lifecycle import process_alive


@dataclass
class Report:
    checked: dict[str, int] = field(default_factory=lambda: {"datasets": 0, "versions": 0, "jobs": 0})
    problems: list[dict[str, str]] = field(default_factory=list)
    orphans: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "checked": self.checked,
            "problems": self.problems,
            "orphans": self.orphans,
            "healthy": not self.problems,
        }


def examine(platform: Platform, delete_orphans: bool = False) -> Report:
    """Check the whole registry; with ``delete_orphans`` remove unreferenced artifact folders."""
    report = Report()
    store = platform.store
    for tenant in store.list_tenants():
        referenced: set[str] = set()
        for dataset in store.list_datasets(tenant):
            report.checked["datasets"] += 1
            referenced.add(dataset.artifact)
            try:
                load_frame(platform, dataset)
            except ShopfloorError as exc:
                report.problems.append(
                    {"kind": "dataset", "tenant": tenant, "target": dataset.id, "detail": exc.detail}
                )
        for model in store.list_models(tenant):
            for version in store.list_versions(tenant, model.name):
                report.checked["versions"] += 1
                referenced.add(version.artifact)
                try:
                    platform.models.get(tenant, model.name, version.version)
                except ShopfloorError as exc:
                    report.problems.append(
                        {
                            "kind": "model",
                            "tenant": tenant,
                            "target": f"{model.name} v{version.version}",
                            "detail": exc.detail,
                        }
                    )
        _jobs(platform, tenant, report)
        _orphans(platform, tenant, referenced, report, delete_orphans)
    return report


def _jobs(platform: Platform, tenant: str, report: Report) -> None:
    for job in platform.store.list_jobs(tenant, limit=100_000):
        report.checked["jobs"] += 1
        if job.status != "running" or not job.worker:
            continue
        host, _, pid = job.worker.rpartition(":")
        if host == HOST and pid.isdigit() and not process_alive(int(pid)):
            report.problems.append(
                {
                    "kind": "job",
                    "tenant": tenant,
                    "target": job.id,
                    "detail": "marked running but its process is gone; a server start marks it failed",
                }
            )


def _orphans(platform: Platform, tenant: str, referenced: set[str], report: Report, delete: bool) -> None:
    """Artifact folders (datasets/<id>, models/<name>/<run>, jobs/<id>) no registry row points to."""
    store = platform.store
    folders: set[str] = set()
    for key in platform.artifacts.list_prefix(tenant):
        parts = key.split("/")
        if len(parts) >= 4 and parts[1] == "models":
            folders.add("/".join(parts[:4]))
        elif len(parts) >= 3 and parts[1] in ("datasets", "jobs"):
            folders.add("/".join(parts[:3]))
        else:
            folders.add(key)
    for folder in sorted(folders):
        if folder in referenced:
            continue
        if folder.split("/")[1] == "jobs":
            try:
                store.get_job(tenant, folder.split("/")[2])
                continue
            except ShopfloorError:
                pass
        report.orphans.append(folder)
        if delete:
            platform.artifacts.delete_prefix(folder)
