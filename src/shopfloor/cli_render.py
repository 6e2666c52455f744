"""Rich renderings of API responses for the CLI: pure functions from JSON dicts to tables.

The response shapes follow ``shopfloor.schemas``; the free-form parts (stats, metrics,
candidates, explanations, rules) are shown generically so new keys appear without a CLI change.
"""

from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING, Any

from rich.console import Group, RenderableType
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from shopfloor.cli_common import flatten, fmt, fmt_time

if TYPE_CHECKING:
    from rich.console import OverflowMethod

BAR_WIDTH = 16


def key_values(title: str, rows: list[tuple[str, Any]]) -> Table:
    table = Table(title=title, show_header=False, title_justify="left", box=None, padding=(0, 2, 0, 0))
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for key, value in rows:
        table.add_row(escape(key), escape(value if isinstance(value, str) else fmt(value, 200)))
    return table


def records_table(title: str, records: list[dict[str, Any]], columns: list[str] | None = None) -> Table:
    """Rows of dicts as a table; the columns are the ordered union of their keys unless given."""
    if columns is None:  # the union of keys, minus columns empty in every row
        keys = dict.fromkeys(k for r in records for k in r)
        columns = [k for k in keys if any(r.get(k) not in (None, [], {}, "") for r in records)]
    table = Table(title=title, title_justify="left")
    for column in columns:
        # ids are copied into the next command: never fold them
        table.add_column(
            escape(column), overflow="fold", no_wrap=column == "id", min_width=20 if column == "id" else None
        )
    for record in records:
        table.add_row(*(escape(fmt(record.get(c), 60)) for c in columns))
    return table


def window_table(
    found: dict[str, Any],
    what: str,
    columns: Sequence[str],
    left: Collection[str] = ("window",),
    overflow: "OverflowMethod" = "ellipsis",
) -> Table:
    """A table of the windows of a model's prediction log (live performance, drift over time), its
    columns set (those not in ``left`` justified right), its rows to be added."""
    title = f"{found['model']} v{found['version']}: {what} per window of {found['window']['text']}"
    table = Table(title=escape(title), title_justify="left")
    for column in columns:
        table.add_column(escape(column), overflow=overflow, justify="left" if column in left else "right")
    return table


# -- datasets -----------------------------------------------------------------------------------


def stats_summary(stats: dict[str, Any]) -> str:
    preferred = ("mean", "std", "min", "max", "unique", "top")
    keys = [k for k in preferred if k in stats] or list(stats)[:5]
    return "  ".join(f"{k}={_stat(stats[k])}" for k in keys)


def _stat(value: Any) -> str:
    # [{"value": "L", "count": 6000}, ...] -> "L (6000), ..."
    if isinstance(value, list) and value and all(isinstance(v, dict) and "value" in v for v in value):
        return fmt([f"{v['value']} ({fmt(v.get('count'))})" for v in value], 40)
    return fmt(value, 40)


def _size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"


def dataset(ds: dict[str, Any]) -> RenderableType:
    header = key_values(
        f"Dataset {ds.get('id')}",
        [
            ("name", f"{ds.get('name')} (version {ds.get('version')})"),
            ("rows", ds.get("rows")),
            ("format", ds.get("format")),
            ("size", _size(ds.get("size_bytes") or 0)),
            ("sha256", str(ds.get("sha256", ""))[:16]),
            ("created", fmt_time(ds.get("created_at"))),
        ],
    )
    columns = Table(title="Columns", title_justify="left")
    for name, kw in (("name", {}), ("type", {}), ("missing", {"justify": "right"}), ("stats", {})):
        columns.add_column(name, overflow="fold", **kw)  # type: ignore[arg-type]
    for col in ds.get("columns") or []:
        columns.add_row(
            escape(str(col.get("name"))),
            escape(str(col.get("type"))),
            str(col.get("missing", 0)),
            escape(stats_summary(col.get("stats") or {})),
        )
    return Group(header, Text(), columns)


# -- models -------------------------------------------------------------------------------------


def model_version(v: dict[str, Any]) -> RenderableType:
    lineage = v.get("lineage") or {}
    header = key_values(
        f"Model {v.get('model')} version {v.get('version')}",
        [
            ("task", v.get("task")),
            ("status", v.get("status")),
            ("aliases", ", ".join(v.get("aliases") or []) or "-"),
            ("chosen", v.get("chosen")),
            ("created", fmt_time(v.get("created_at"))),
            ("job", v.get("job_id")),
            *[(f"lineage.{k}", val) for k, val in flatten(lineage) if not k.startswith("packages")],
        ],
    )
    parts: list[RenderableType] = [header]
    metrics = flatten(v.get("metrics") or {})
    if metrics:
        table = Table(title="Metrics", title_justify="left")
        table.add_column("metric")
        table.add_column("value", justify="right")
        for name, value in metrics:
            table.add_row(escape(name), escape(fmt(value)))
        parts += [Text(), table]
    candidates = v.get("candidates") or []
    if candidates:
        chosen = v.get("chosen")
        rows = [
            {
                "": "*" if c.get("chosen") is True or (chosen and chosen == c.get("name")) else "",
                **{k: (fmt(val, 40) if k == "params" else val) for k, val in c.items() if k != "chosen"},
            }
            for c in candidates
        ]
        parts += [Text(), records_table("Candidates (* = chosen)", rows)]
    stability = flatten(v.get("stability") or {})
    stability = [(k, val) for k, val in stability if not k.startswith("warnings")]
    if stability:
        parts += [Text(), key_values("Stability", stability)]
    warnings = _warnings(v)
    if warnings:
        parts += [Text(), Text("Warnings", style="bold yellow")]
        parts += [Text(f"  - {w}", style="yellow") for w in warnings]
    return Group(*parts)


def _warnings(v: dict[str, Any]) -> list[str]:
    found: list[str] = []
    for source in (v, v.get("report") or {}, v.get("stability") or {}, v.get("metrics") or {}):
        items = source.get("warnings") if isinstance(source, dict) else None
        if isinstance(items, list):
            found += [fmt(w, 300) for w in items if fmt(w, 300) not in found]
    return found


def models(items: list[dict[str, Any]]) -> Table:
    table = Table(title="Models", title_justify="left")
    for column in ("name", "task", "latest", "aliases", "created", "description"):
        table.add_column(column)
    for m in items:
        aliases = ", ".join(f"{a}→v{n}" for a, n in (m.get("aliases") or {}).items())
        about = (str(m.get("description") or "").strip().splitlines() or ["-"])[0]
        table.add_row(
            escape(str(m.get("name"))),
            escape(str(m.get("task"))),
            str(m.get("latest_version")),
            escape(aliases or "-"),
            fmt_time(m.get("created_at")),
            escape(about if len(about) <= 60 else about[:59] + "…"),
        )
    return table


# -- serving ------------------------------------------------------------------------------------


def predictions(resp: dict[str, Any]) -> Table:
    found = resp.get("predictions") or []
    if found and "events" in found[0]:
        return anomaly_events(f"{resp.get('model')} v{resp.get('version')}: events", found)
    rows = [{"#": i, **p} for i, p in enumerate(found)]
    return records_table(f"{resp.get('model')} v{resp.get('version')}: predictions", rows)


def recording_predictions(resp: dict[str, Any]) -> Table:
    """One row per recording file: its label and class probabilities, or its anomaly score."""
    rows = []
    for p in resp.get("predictions") or []:
        row: dict[str, Any] = {"file": p.get("file")}
        row.update({k: p[k] for k in ("label", "score", "threshold", "is_anomaly") if k in p})
        probabilities = p.get("probabilities") or {}
        row["probabilities"] = "  ".join(f"{c} {float(v):.2f}" for c, v in probabilities.items())
        row["warnings"] = p.get("warnings")
        rows.append(row)
    return records_table(f"{resp.get('model')} v{resp.get('version')}: recordings", rows)


def _top(shares: dict[str, Any], n: int = 3) -> str:
    ranked = sorted(shares.items(), key=lambda kv: -abs(float(kv[1])))[:n]
    return ", ".join(f"{name} {float(share):.0f}%" for name, share in ranked)


def anomaly_events(title: str, results: list[dict[str, Any]]) -> Table:
    """One row per event (or per asset without one): where it starts and ends, how bad, which sensors."""
    rows: list[dict[str, Any]] = []
    for result in results:
        points = result.get("points") or []
        flagged = sum(1 for p in points if p.get("flagged"))
        for event in result.get("events") or []:
            rows.append(
                {
                    "asset": result.get("asset"),
                    "start": event.get("start"),
                    "end": event.get("end"),
                    "peak score": event.get("peak_score"),
                    "severity": event.get("severity"),
                    "sensors": _top(event.get("contributions") or {}),
                    "open": event.get("open"),
                }
            )
        if not result.get("events"):
            quiet = f"no event ({flagged} of {len(points)} points flagged)"
            rows.append({"asset": result.get("asset"), "start": quiet})
    return records_table(title, rows)


def stream_results(resp: dict[str, Any]) -> Table:
    title = f"{resp.get('model')} v{resp.get('version')}: streamed points"
    return anomaly_events(title, resp.get("results") or [])


_CONTRIBUTION_KEYS = ("contribution", "shap_value", "weight", "attribution", "effect", "importance")


def contributions(explanation: dict[str, Any]) -> list[tuple[str, Any, float]]:
    """(feature, feature value or None, signed contribution) from one explanation, largest first."""
    raw = next(
        (explanation[k] for k in ("contributions", "features", "attributions") if k in explanation), None
    )
    found: list[tuple[str, Any, float]] = []
    if isinstance(raw, dict):
        found = [(str(k), None, float(c)) for k, c in raw.items() if isinstance(c, int | float)]
    elif isinstance(raw, list):
        for item in raw:
            if not isinstance(item, dict):
                continue
            name = item.get("feature", item.get("name"))
            weight = next((item[k] for k in _CONTRIBUTION_KEYS if isinstance(item.get(k), int | float)), None)
            if name is not None and weight is not None:
                found.append((str(name), item.get("value", item.get("feature_value")), float(weight)))
    return sorted(found, key=lambda f: abs(f[2]), reverse=True)


def signed_bar(value: float, scale: float, width: int = BAR_WIDTH) -> Text:
    """A bar centred on an axis: red to the left for negative, green to the right for positive."""
    n = round(abs(value) / scale * width) if scale > 0 else 0
    bar = Text()
    if value < 0:
        bar.append(" " * (width - n)).append("█" * n, style="red").append("│").append(" " * width)
    else:
        bar.append(" " * width).append("│").append("█" * n, style="green").append(" " * (width - n))
    return bar


def explanations(
    resp: dict[str, Any], top: int, inputs: list[dict[str, Any]] | None = None
) -> RenderableType:
    """One table per record; ``inputs`` (the records sent) fill in feature values the response omits."""
    parts: list[RenderableType] = []
    for i, expl in enumerate(resp.get("explanations") or []):
        row = inputs[i] if inputs and i < len(inputs) else {}
        found = [(n, row.get(n) if v is None else v, c) for n, v, c in contributions(expl)[:top]]
        scale = max((abs(c) for _, _, c in found), default=0.0)
        extras = "  ".join(
            f"{k}={fmt(v, 40)}" for k, v in expl.items() if not isinstance(v, dict | list) and v is not None
        )
        table = Table(title=escape(f"record {i}  {extras}".rstrip()), title_justify="left")
        table.add_column("feature")
        table.add_column("value", justify="right")
        table.add_column("contribution", justify="right")
        table.add_column("", no_wrap=True)
        for name, value, weight in found:
            table.add_row(escape(name), escape(fmt(value, 30)), f"{weight:+.4g}", signed_bar(weight, scale))
        if not found:
            table.add_row("(no contributions in the response)", "", "", "")
        parts += [table, Text()]
    return Group(*parts)


_RULE_TEXT_KEYS = ("rule", "condition", "conditions", "if", "antecedent")
# Short headers keep the table inside a terminal; the API's names are longer.
_RULE_HEADERS = {"model_agreement": "agreement", "holdout_support": "held out"}
_RULE_THEN_KEYS = ("prediction", "then", "class", "outcome", "value", "consequent")


def rules(resp: dict[str, Any]) -> RenderableType:
    items = [r for r in resp.get("rules") or [] if isinstance(r, dict)]
    keys = list(dict.fromkeys(k for r in items for k in r))
    if_key = next((k for k in _RULE_TEXT_KEYS if k in keys), None)
    then_key = next((k for k in _RULE_THEN_KEYS if k in keys), None)
    shown = [k for k in (if_key, then_key, "support", "precision", "model_agreement") if k in keys]
    extra = [k for k in keys if k not in shown and k != "support_fraction"]  # support says it
    table = Table(title=f"{resp.get('model')} v{resp.get('version')}: rules", title_justify="left")
    table.add_column("#", justify="right")
    for k in shown + extra:
        stat = k in ("support", "precision", "model_agreement")
        numeric = stat or all(isinstance(r.get(k), int | float) for r in items)
        table.add_column(
            "rule" if k == if_key else _RULE_HEADERS.get(str(k), str(k)),
            justify="right" if numeric else "left",
            overflow="fold",
            min_width=24 if k == if_key else None,
        )
    for i, r in enumerate(items, 1):
        cells = []
        for k in shown + extra:
            value = r.get(k)
            if k == if_key and isinstance(value, list):
                cells.append(escape(" AND ".join(map(str, value))))
            else:
                cells.append(escape(fmt(value, 200)))
        table.add_row(str(i), *cells)
    depth = resp.get("depth")
    balanced = resp.get("balanced_fidelity")
    undescribed = resp.get("undescribed_classes") or []
    summary = Text(
        f"fidelity {fmt(resp.get('fidelity'))}"
        + (f", balanced (per class) {fmt(balanced)}" if balanced is not None else "")
        + (f", depth {depth}" if depth is not None else "")
        + (f"; poorly described: {', '.join(map(str, undescribed))}" if undescribed else "")
    )
    summary.stylize("bold")
    return Group(table, summary)


def forecasts(resp: dict[str, Any]) -> list[Table]:
    """One table per series: period, point forecast, then lower/upper bound per interval level."""
    tables = []
    for item in resp.get("forecasts") or []:
        intervals = item.get("intervals") or {}
        rows: list[dict[str, Any]] = []
        for i, period in enumerate(item.get("periods") or []):
            row: dict[str, Any] = {"period": period, "forecast": item["forecast"][i]}
            for level, bounds in intervals.items():
                row[f"{level}% low"] = bounds["lower"][i]
                row[f"{level}% high"] = bounds["upper"][i]
            rows.append(row)
        model = item.get("model") or resp.get("chosen")
        title = f"{resp.get('model')} v{resp.get('version')}: series {item.get('series')} ({model})"
        tables.append(records_table(title, rows))
    return tables


def optimization(resp: dict[str, Any]) -> RenderableType:
    """The best settings and the predicted value, or why no setting is feasible."""
    if resp.get("status") != "optimal":
        rows = [("status", resp.get("status")), ("reason", resp.get("reason"))]
        rows += [(f"least_violation.{k}", v) for k, v in flatten(resp.get("least_violation") or {})]
        return key_values("No feasible setting", rows)
    best = resp.get("best") or {}
    rows = [(f"settings.{k}", v) for k, v in (best.get("settings") or {}).items()]
    rows.append(("predicted", best.get("predicted")))
    rows += [(f"derived.{k}", v) for k, v in (best.get("derived") or {}).items()]
    current = resp.get("current") or {}
    if current:
        rows += [("current.predicted", current.get("predicted")), ("improvement", current.get("improvement"))]
    return key_values(f"Best settings ({resp.get('objective', 'optimum')})", rows)


def zero_shot(resp: dict[str, Any], texts: list[str]) -> Table:
    """Per text: the best label with its score, then the runner-up."""
    rows: list[dict[str, Any]] = []
    for result in resp.get("results") or []:
        ranking = result.get("ranking") or []
        index = int(result.get("index", len(rows)))
        row: dict[str, Any] = {"text": texts[index] if index < len(texts) else index}
        for place, entry in enumerate(ranking[:2], start=1):
            row[f"label {place}"] = entry.get("label")
            row[f"score {place}"] = entry.get("score")
        rows.append(row)
    return records_table(f"Zero-shot ({resp.get('model')})", rows)
