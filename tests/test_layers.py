"""The import graph of ``src/shopfloor`` has no cycle, and no import points from a lower layer to a
higher one (the layers of STYLE.md, with a place for every module STYLE does not name).

The graph is read from the source with :mod:`ast`, every import counts: those inside functions (a
lazy import still runs and still couples the two modules, it only hides the dependency from a
reader) and those under ``if TYPE_CHECKING:`` (a lower module that names a higher one's type still
depends on it; the modules below ``context.py`` that read the ``Platform`` declare the part they
use as a protocol of their own instead).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

# Top to bottom. A module may import from its own layer or any layer below it, never above.
LAYERS = (
    "entry points",
    "services",
    "jobs / serving",
    "tasks",
    "data / evaluation / explain",
    "registry / storage / security",
    "settings / errors",
)

# Module (or package: it covers every module below it) -> layer. The longest matching name wins.
LAYER_OF = {
    # -- entry points: what a user or another program starts or calls ---------------------------
    "shopfloor": "entry points",  # the package facade: `from shopfloor import Client` loads the SDK
    "shopfloor.api": "entry points",  # the HTTP API: routes call services
    "shopfloor.console": "entry points",  # browser pages over the services (STYLE.md)
    "shopfloor.protocols": "entry points",  # foreign API shapes over the same services (STYLE.md)
    "shopfloor.cli": "entry points",  # the `shopfloor` command
    "shopfloor.cli_common": "entry points",  # the CLI's options and its client; only the CLI imports it
    "shopfloor.cli_render": "entry points",  # the CLI's tables and messages; only the CLI imports it
    "shopfloor.cli_resources": "entry points",  # `shopfloor` sub-commands (keys, datasets, models, ...)
    "shopfloor.cli_serving": "entry points",  # `shopfloor` sub-commands (predict, hub, forecast, ...)
    "shopfloor.cli_retrain": "entry points",  # `shopfloor models retrain`: a job, its gate shown
    "shopfloor.cli_tenants": "entry points",  # `shopfloor tenants` over the local registry
    "shopfloor.cli_challenger": "entry points",  # `shopfloor models challenger` (set, report, promote)
    "shopfloor.cli_examples": "entry points",  # `shopfloor examples`: fetches the example data sets
    "shopfloor.cli_monitoring": "entry points",  # `shopfloor monitoring`: the prediction log, feedback
    "shopfloor.cli_alerts": "entry points",  # `shopfloor alerts`: rules, states, webhooks, Prometheus rules
    "shopfloor.client": "entry points",  # the Python SDK over the public API
    "shopfloor.client_retrain": "entry points",  # the SDK's retrain and promote; only the SDK imports it
    "shopfloor.client_errors": "entry points",  # the SDK's reading of problem+json; only the SDK imports it
    "shopfloor.client_monitoring": "entry points",  # the SDK's prediction log, feedback and performance
    "shopfloor.client_payload": "entry points",  # JSON-safe records and URL parts the SDK and its mixins send
    "shopfloor.client_drift": "entry points",  # the SDK's drift checks, mixed into the client
    "shopfloor.cli_drift": "entry points",  # `shopfloor drift` sub-commands
    "shopfloor.client_alerts": "entry points",  # the SDK's alert calls, a mixin of the client
    "shopfloor.client_sources": "entry points",  # the SDK's calls about S3 sources, a mixin of the client
    "shopfloor.cli_sources": "entry points",  # `shopfloor sources`: add, list, remove S3 sources
    "shopfloor.client_challenger": "entry points",  # the SDK's calls about challengers, mixed into Client
    "shopfloor.server": "entry points",  # `shopfloor serve`: starts the API workers and the job runner
    # builds the process from settings (migrations, first key, Platform) for `serve` and the CLI's
    # local commands: it imports context and is imported by entry points only
    "shopfloor.bootstrap": "entry points",
    # -- services: the use cases ----------------------------------------------------------------
    "shopfloor.services": "services",
    # alert rules over monitored signals: evaluation, webhooks, Prometheus export; the services and
    # the parts that compute signals (which register their sources) use it
    "shopfloor.alerting": "services",
    # the API's request and response shapes: entry points share them and services may return them;
    # they import only limits from optimize/
    "shopfloor.schemas": "services",
    # -- jobs / serving: what runs a trained or training model ----------------------------------
    "shopfloor.jobs": "jobs / serving",
    "shopfloor.serving": "jobs / serving",
    # the objects one process holds (registry, artifacts, key checker, model cache): it builds the
    # model cache of serving/, and jobs and services receive it; the modules below it that read
    # it (security/, privacy/, data/stored.py, serving/cache.py) name the part they use as a protocol
    "shopfloor.context": "jobs / serving",
    # -- tasks: the estimator protocol and one package per family -------------------------------
    "shopfloor.tasks": "tasks",
    # a solver over any fitted estimator: it reads tasks/base.py, services and jobs call it
    "shopfloor.optimize": "tasks",
    # -- shared building blocks the families use ------------------------------------------------
    "shopfloor.data": "data / evaluation / explain",
    "shopfloor.evaluation": "data / evaluation / explain",
    "shopfloor.explain": "data / evaluation / explain",
    # drift of a model's inputs and outputs against its training profile: statistics over tables
    # and embeddings the layers above hand it; imports only explain (charts), settings and errors
    "shopfloor.monitoring": "data / evaluation / explain",
    # the pretrained text encoders: the text family trains on their embeddings; imports only errors
    "shopfloor.hub": "data / evaluation / explain",
    # the example data sets and their checksums: a data source like data/; imports only errors
    "shopfloor.examples": "data / evaluation / explain",
    # -- registry / storage / security ----------------------------------------------------------
    "shopfloor.registry": "registry / storage / security",
    "shopfloor.storage": "registry / storage / security",
    "shopfloor.security": "registry / storage / security",
    # personal-data detection and masking, of datasets and of log lines: security's concern,
    # imported from services, jobs and the server; imports only errors
    "shopfloor.privacy": "registry / storage / security",
    # -- settings / errors: import nothing of shopfloor but each other ------------------------
    "shopfloor.settings": "settings / errors",
    "shopfloor.errors": "settings / errors",
    # processes: liveness, parent-death signal, shutdown; every layer that starts or waits on a
    # process uses it and it imports no shopfloor module
    "shopfloor.lifecycle": "settings / errors",
    # the process's counters and histograms: every layer counts; imports only lifecycle
    "shopfloor.metrics": "settings / errors",
    # the progress callback type: tasks report through it, and data/ (synthetic copies) too
    "shopfloor.progress": "settings / errors",
    # a job's independent parts, in order here or over the Dask cluster: the families and
    # evaluation/ map their candidates, folds, refits and series through it; imports only errors
    "shopfloor.parallel": "settings / errors",
    # log context (request id, tenant, job id), JSON log lines and traces: every layer logs and the
    # services store a request's trace with its job; imports only settings
    "shopfloor.telemetry": "settings / errors",
    # the threads a job may use: every family's fits ask; imports nothing
    "shopfloor.threads": "settings / errors",
    # the version string, apart from the facade so that the SDK does not import the facade back
    "shopfloor.version": "settings / errors",
}


# -- reading the graph ------------------------------------------------------------------------------


def modules(src: Path = SRC) -> dict[str, Path]:
    """Every module of ``src/shopfloor`` by dotted name (a package by its own name)."""
    found = {}
    for path in sorted((src / "shopfloor").rglob("*.py")):
        name = ".".join(path.relative_to(src).with_suffix("").parts)
        found[name.removesuffix(".__init__")] = path
    return found


def imports_of(name: str, source: str, known: Iterable[str], *, package: bool = False) -> set[str]:
    """The known modules that module ``name`` imports anywhere in ``source``.

    ``from pkg import x`` is an import of ``pkg.x`` when that is a module, else of ``pkg`` itself.
    """
    known = set(known)

    def owner(dotted: str) -> str | None:
        while dotted and dotted not in known:
            dotted = dotted.rpartition(".")[0]
        return dotted or None

    targets: set[str | None] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            targets.update(owner(alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = name.split(".") if package else name.split(".")[:-1]
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            for alias in node.names:
                targets.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else owner(base))
    return {t for t in targets if t is not None and t != name}


def import_graph(src: Path = SRC) -> dict[str, set[str]]:
    found = modules(src)
    return {
        name: imports_of(name, path.read_text(), found, package=path.name == "__init__.py")
        for name, path in found.items()
    }


# -- judging it -------------------------------------------------------------------------------------


def cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph.get(root, ()))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def layer_of(module: str, table: Mapping[str, str] = LAYER_OF) -> str | None:
    name = module
    while name:
        if name in table:
            return table[name]
        name = name.rpartition(".")[0]
        if name == "shopfloor":  # the facade's entry places the package itself, not its modules
            return None
    return None


def upward(
    graph: Mapping[str, Iterable[str]], table: Mapping[str, str] = LAYER_OF, order: tuple[str, ...] = LAYERS
) -> list[str]:
    """Every import from a module to one in a higher layer, as ``a (layer) -> b (layer)``."""
    rank = {layer: i for i, layer in enumerate(order)}  # 0 is the top
    found = []
    for module, targets in sorted(graph.items()):
        mine = layer_of(module, table)
        for target in sorted(targets):
            theirs = layer_of(target, table)
            if mine is not None and theirs is not None and rank[theirs] < rank[mine]:
                found.append(f"{module} ({mine}) -> {target} ({theirs})")
    return found


# -- the tests --------------------------------------------------------------------------------------

GRAPH = import_graph()


def test_the_graph_is_read() -> None:
    assert len(GRAPH) > 100
    assert "shopfloor.registry.store" in GRAPH["shopfloor.context"]
    assert "shopfloor.serving.cache" in GRAPH["shopfloor.context"]  # imported inside a method
    assert "shopfloor.client" in GRAPH["shopfloor"]  # imported for type checking, and lazily


def test_every_module_has_a_layer() -> None:
    assert set(LAYER_OF.values()) <= set(LAYERS)
    unplaced = sorted(m for m in GRAPH if layer_of(m) is None)
    assert not unplaced, f"place these modules in LAYER_OF: {unplaced}"


def test_no_import_cycle() -> None:
    found = cycles(GRAPH)
    assert not found, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in found)


def test_no_import_points_up() -> None:
    found = upward(GRAPH)
    assert not found, "imports from a lower layer to a higher one:\n" + "\n".join(found)


# -- the checks themselves catch what they should ---------------------------------------------------


def test_a_cycle_is_caught() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_an_upward_import_is_caught() -> None:
    table = {"shopfloor.jobs": "jobs / serving", "shopfloor.services": "services"}
    graph = {"shopfloor.jobs.handlers": {"shopfloor.services.jobs"}, "shopfloor.services.jobs": set()}
    assert upward(graph, table) == [
        "shopfloor.jobs.handlers (jobs / serving) -> shopfloor.services.jobs (services)"
    ]
    assert upward({"shopfloor.services.jobs": {"shopfloor.jobs.handlers"}}, table) == []


def test_imports_inside_functions_and_for_type_checking_count() -> None:
    known = {"shopfloor", "shopfloor.a", "shopfloor.b", "shopfloor.c", "shopfloor.pkg", "shopfloor.pkg.d"}
    source = (
        "from typing import TYPE_CHECKING\n"
        "from shopfloor import a\n"
        "if TYPE_CHECKING:\n"
        "    from shopfloor.c import Thing\n"
        "def f():\n"
        "    from shopfloor.b import g\n"
        "    from .pkg import d, name\n"
    )
    assert imports_of("shopfloor.x", source, known) == {
        "shopfloor.a",
        "shopfloor.b",
        "shopfloor.c",
        "shopfloor.pkg.d",
        "shopfloor.pkg",  # `name` is not a module: it comes from the package itself
    }
    assert imports_of("shopfloor.pkg", "from . import d\nfrom .. import a\n", known, package=True) == {
        "shopfloor.pkg.d",
        "shopfloor.a",
    }


@pytest.mark.parametrize(
    ("module", "layer"),
    [
        ("shopfloor.jobs.handlers", "jobs / serving"),  # by its package
        ("shopfloor.tasks.tabular.estimator", "tasks"),  # by the package two levels up
        ("shopfloor.errors", "settings / errors"),  # by its own name
        ("shopfloor", "entry points"),  # the facade itself
        ("shopfloor.new_module", None),  # a new top-level module is not placed by the facade's entry
    ],
)
def test_layer_lookup(module: str, layer: str | None) -> None:
    assert layer_of(module) == layer
