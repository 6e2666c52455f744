"""What a retraining request must satisfy before a job exists: the champion's configuration can be
repeated, and every dataset has the columns it reads, of types it can read.

The configuration is the one the champion was trained with: a retrained version's lineage holds
it (``config``, ``column_types``); a trained version's comes from its training job's parameters
and the profile of the dataset it learnt from. The new data is read with the champion's column
types, so a column profiled differently in a small new file (0/1 readings taken for a yes/no
column) is read as before where its values allow, and refused, naming it, where they do not.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from shopfloor.context import Platform
from shopfloor.data.profile import column_types
from shopfloor.errors import InvalidInput, NotFound
from shopfloor.evaluation.metrics import label_key
from shopfloor.jobs.training import CONFIG_KEYS, series_layout
from shopfloor.registry.entities import Dataset, ModelVersion

#: For each type the champion read a column as, the types of a new dataset's column it reads the
#: same way (booleans only when their values are numbers, see :func:`_reads_as`).
_READS_AS = {
    "numeric": {"numeric", "id", "boolean"},
    "categorical": {"categorical", "id", "boolean"},
    "boolean": {"boolean"},
    "datetime": {"datetime"},
    "text": {"text", "categorical", "id"},
    "id": {"id", "numeric", "categorical"},
}


def champion_config(platform: Platform, champion: ModelVersion) -> dict[str, Any]:
    """The configuration ``champion`` was trained with (task, target, exclude, options, metric,
    seed, time budget, sensor layout). Raises InvalidInput for a version with none to repeat."""
    found = champion.lineage.get("config")
    if isinstance(found, Mapping):
        return dict(found)
    where = f"version {champion.version} of {champion.model!r}"
    if champion.job_id is None:
        raise InvalidInput(
            f"{where} was imported, not trained here: there is no training configuration to repeat; "
            "retrain a version trained on this server (name it with 'version')",
            errors=[{"loc": ["body", "version"], "msg": "an imported version"}],
        )
    try:
        params = platform.store.get_job(champion.tenant, champion.job_id).params
    except NotFound:
        raise InvalidInput(
            f"the training job of {where} is gone: its configuration cannot be repeated",
            errors=[{"loc": ["body", "version"], "msg": "no training job"}],
        ) from None
    config = {k: params.get(k) for k in CONFIG_KEYS}
    budget = (champion.report.get("budget") or {}).get("seconds")
    # The budget the job ran with: its own, else the one its report records, else today's default.
    config["time_budget_s"] = float(
        params.get("time_budget_s") or budget or platform.settings.default_time_budget_s
    )
    config["exclude"] = list(config.get("exclude") or [])
    config["options"] = dict(config.get("options") or {})
    return config


def needed_columns(
    champion: ModelVersion, config: Mapping[str, Any], more: Sequence[str] = ()
) -> list[str]:
    """Every column the champion reads: its inputs, its target, its sensor layout's columns, the
    columns its options name and ``more`` (what the family reads besides, see ``columns_read``)."""
    names = [c["name"] for c in champion.input_schema]
    if config.get("target"):
        names.append(str(config["target"]))
    layout = series_layout(config)
    names += [layout.get("asset_column"), layout.get("time_column"), *(layout.get("sensors") or [])]
    options = config.get("options") or {}
    names += [v for k, v in options.items() if k.endswith("_column") and isinstance(v, str)]
    names += list(more)
    return [n for n in dict.fromkeys(names) if isinstance(n, str)]


def reference_types(platform: Platform, champion: ModelVersion, columns: Sequence[str]) -> dict[str, str]:
    """The type the champion was trained to read each of ``columns`` as: from its lineage when
    retrained, else from the profile of its training dataset, else from its input schema."""
    stored = champion.lineage.get("column_types")
    types: dict[str, str] = {}
    if isinstance(stored, Mapping):
        types = {str(k): str(v) for k, v in stored.items()}
    else:
        dataset_id = champion.lineage.get("dataset_id")
        if isinstance(dataset_id, str):
            try:
                types = column_types(platform.store.get_dataset(champion.tenant, dataset_id).columns)
            except NotFound:
                types = {}  # the dataset was deleted: the model's own schema says what it reads
        for column in champion.input_schema:
            types.setdefault(column["name"], column["type"])
    return {c: types[c] for c in columns if c in types}


def check_fits(
    champion: ModelVersion, reference: Mapping[str, str], columns: Sequence[str], datasets: Sequence[Dataset]
) -> None:
    """Refuse, naming each column and dataset, data the champion's configuration cannot learn from:
    a column it reads that a dataset lacks, or holds as a type it cannot read as before, or a
    target none of whose values is a class the champion knows."""
    errors: list[dict[str, Any]] = []
    problems: list[str] = []
    for i, dataset in enumerate(datasets):
        profile = {c["name"]: c for c in dataset.columns}
        wrong = _foreign_labels(champion, profile)
        if wrong:
            target = str(champion.report.get("target"))
            errors.append({"loc": ["body", "dataset_ids", i, "columns", target], "msg": "no known class"})
        missing = [c for c in columns if c not in profile]
        for name in missing:
            errors.append({"loc": ["body", "dataset_ids", i, "columns", name], "msg": "column missing"})
        for name in columns:
            want, column = reference.get(name), profile.get(name)
            if want is None or column is None or _reads_as(want, column):
                continue
            wrong.append(f"{name!r} is {column['type']} there, the model read it as {want}")
            errors.append(
                {"loc": ["body", "dataset_ids", i, "columns", name], "msg": f"{column['type']}, not {want}"}
            )
        parts = ([f"it lacks {', '.join(map(repr, missing))}"] if missing else []) + wrong
        if parts:
            problems.append(f"dataset {dataset.name!r} ({dataset.id}): " + "; ".join(parts))
    if problems:
        raise InvalidInput(
            f"the data does not fit the configuration of {champion.model!r} version {champion.version} "
            f"(columns {', '.join(map(repr, columns))}): " + ". ".join(problems),
            errors=errors,
        )


def _foreign_labels(champion: ModelVersion, profile: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """The problem, when a classifier's target column in a dataset holds none of the classes the
    champion knows (1/0 against yes/no): all its rows would be classes new to it."""
    classes, target = champion.report.get("classes"), champion.report.get("target")
    column = profile.get(str(target))
    if not classes or column is None:
        return []
    stats = column.get("stats") or {}
    top = stats.get("top") or []
    if not top or int(stats.get("distinct") or 0) > len(top):  # the profile does not list them all
        return []
    have = [t.get("value") for t in top]
    if {label_key(v) for v in have} & {label_key(c) for c in classes}:
        return []
    return [
        f"target {target!r} holds {', '.join(map(repr, have))}, none of the model's classes "
        f"({', '.join(map(repr, classes))})"
    ]


def _reads_as(want: str, column: Mapping[str, Any]) -> bool:
    """Whether a column profiled as ``column["type"]`` can be read as ``want`` without losing its
    values: a boolean is read as a number only when its values are numbers (0 and 1)."""
    have = str(column.get("type"))
    if have not in _READS_AS.get(want, {want}):
        return False
    if want == "numeric" and have == "boolean":
        top = (column.get("stats") or {}).get("top") or []
        return all(_is_number(t.get("value")) for t in top)
    return True


def _is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return True
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True
