"""Starting, reading and cancelling jobs. The work itself runs in :mod:`shopfloor.jobs`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from shopfloor.context import Platform
from shopfloor.data.checks import check_training_request
from shopfloor.data.parse import read_table
from shopfloor.data.series import SeriesSpec, check_history, file_rows, spec_kwargs
from shopfloor.data.series_checks import check_training_history, series_request
from shopfloor.data.stored import load_frame
from shopfloor.data.upload import receive_upload
from shopfloor.errors import Conflict, InvalidInput, NotFound
from shopfloor.evaluation.metrics import check_metric
from shopfloor.registry.entities import Dataset, Job, ModelVersion
from shopfloor.registry.ids import new_id
from shopfloor.security.keys import Principal
from shopfloor.services.queueing import check_room, queue
from shopfloor.settings import Settings
from shopfloor.storage.scratch import scratch_file
from shopfloor.tasks import catalog
from shopfloor.tasks.backbones import backbones_of, named_backbone
from shopfloor.tasks.catalog import make_estimator
from shopfloor.tasks.options import validate_options

BATCH_INPUT = "input.csv"
IMAGE_FORMAT = "images"  # Dataset.format of an uploaded zip of images
SIGNAL_FORMAT = "signals"  # Dataset.format of uploaded vibration recordings
#: Input kinds that train only on datasets of one format, and what that dataset is called;
#: every other kind trains on a table (no dataset of these formats).
_KIND_FORMATS = {
    "images": (IMAGE_FORMAT, "an image dataset (a zip of images)"),
    "signals": (SIGNAL_FORMAT, "a recording dataset (format signals)"),
}


def create_train_job(platform: Platform, principal: Principal, request: dict[str, Any]) -> Job:
    """Check a training request against its dataset and queue it. Nothing is stored if a check fails."""
    tenant = principal.tenant
    check_room(platform, tenant)
    caps = catalog.capabilities(request["task"])  # unknown task -> 422
    if not caps.trainable:
        raise InvalidInput(
            f"{request['task']} models are imported, not trained: upload the file with "
            "POST /v1/models/{name}/versions",
            errors=[{"loc": ["body", "task"], "msg": "not a trainable task"}],
        )
    dataset = platform.store.get_dataset(tenant, request["dataset_id"])
    check_dataset_kind(request["task"], caps.inputs, dataset)
    if caps.inputs == "series":
        return _queue_train(platform, principal, _series_params(platform, dataset, request))
    if request.get("options") and not caps.takes_options:
        families = catalog.join_names(catalog.tasks_where(lambda c: c.takes_options))
        raise InvalidInput(
            f"{request['task']} takes no 'options'; they are for the {families} families",
            errors=[{"loc": ["body", "options"], "msg": "not used by this task"}],
        )
    if caps.target == "given" and not request.get("target"):
        raise InvalidInput(
            "name the column to predict in 'target'",
            errors=[{"loc": ["body", "target"], "msg": "field required"}],
        )
    kind = caps.prediction
    if caps.target != "given":  # no target column: the family's options say what to read
        params = {**request, "target": None, "dataset_sha256": dataset.sha256, "warnings": []}
        params["options"] = _family_options(dataset, request, platform.settings)
        backbone = named_backbone(request["task"], params["options"], platform.settings)
        estimator = _make_with_options(request["task"], params["options"], backbone=backbone)
        estimator.check_dataset(lambda: load_frame(platform, dataset))  # e.g. a forecast's series
        return _queue_train(platform, principal, params)
    if request.get("metric") is not None:
        try:
            check_metric(kind, request["metric"])
        except InvalidInput as exc:
            raise InvalidInput(
                exc.detail, errors=[{"loc": ["body", "metric"], "msg": "unknown metric"}]
            ) from None
    names = {c["name"] for c in dataset.columns}
    frame = load_frame(platform, dataset, [request["target"]]) if request["target"] in names else None
    warnings = check_training_request(
        dataset.columns,
        request["target"],
        list(request.get("exclude") or []),
        kind,
        frame,
    )
    params = {**request, "dataset_sha256": dataset.sha256, "warnings": warnings}
    if caps.takes_options:
        params["options"] = _family_options(dataset, request, platform.settings)
    return _queue_train(platform, principal, params)


def check_dataset_kind(
    task: str, inputs: str, dataset: Dataset, loc: tuple[str | int, ...] = ("body", "dataset_id")
) -> None:
    """Refuse, at request time, a dataset of the wrong kind for the family's inputs (the error at
    ``loc``, where the request names the dataset)."""
    fmt, wanted = _KIND_FORMATS.get(inputs, (None, "a table"))
    fits = dataset.format == fmt if fmt else dataset.format not in {f for f, _ in _KIND_FORMATS.values()}
    if not fits:
        raise InvalidInput(
            f"{task} trains on {wanted}; dataset {dataset.name!r} is {dataset.format}",
            errors=[{"loc": list(loc), "msg": f"not {wanted}"}],
        )


def _queue_train(platform: Platform, principal: Principal, params: dict[str, Any]) -> Job:
    return queue(
        platform, principal, "train", params, dataset_id=params["dataset_id"], model=params["model_name"]
    )


def _about_backbone(exc: InvalidInput) -> bool:
    return any(e.get("loc") == ["body", "options", "backbone"] for e in exc.errors or [])


def _make_with_options(
    task: str, options: dict[str, Any], backbone: Path | None = None, **layout: Any
) -> Any:
    """The estimator with the request's options, refusing unknown ones and impossible values now;
    an image estimator gets the folder of the backbone it names (``backbone``) before the check."""
    reserved = sorted(set(options) & {"metric", "seed", "time_budget_s", "column_types", *layout})
    if reserved:
        raise InvalidInput(
            f"{', '.join(reserved)} cannot be given in 'options'",
            errors=[
                {"loc": ["body", "options", name], "msg": "set by the request itself"} for name in reserved
            ],
        )
    model = catalog.option_model(task)
    if model is not None:  # types, ranges and choices each option's schema declares
        validate_options(model, options, task)
    try:
        estimator = make_estimator(task, **layout, **options)
    except TypeError as exc:
        raise InvalidInput(
            f"{task} does not take the option(s) given: {exc}",
            errors=[{"loc": ["body", "options"], "msg": str(exc)}],
        ) from None
    if backbone is not None:
        estimator.use_backbone(backbone)
    estimator.check_options()  # values out of range -> 422 now, not a failed job later
    return estimator


def _choose_backbone(task: str, options: dict[str, Any], settings: Settings) -> Path | None:
    """The folder of the pretrained backbone an image job starts from, chosen by name among those
    the operator allowed (``options.backbone``; ``default`` when the job names none and
    ``vision_backbone_dir`` holds weights). Only the name is kept in the job's options.

    A ``backbone_dir`` path is refused: a job never makes the server open a path it names.
    """
    from shopfloor.tasks.backbones import DEFAULT_BACKBONE

    if "backbone_dir" in options:
        names = ", ".join(sorted(backbones_of(settings))) or "none"
        raise InvalidInput(
            "option 'backbone_dir' is no longer accepted: name one of the server's pretrained backbones "
            f"in options.backbone instead (available: {names})",
            errors=[{"loc": ["body", "options", "backbone_dir"], "msg": "use 'backbone', a name"}],
        )
    uses_backbone = catalog.capabilities(task).backbone
    if uses_backbone and options.get("backbone") is None and DEFAULT_BACKBONE in backbones_of(settings):
        options["backbone"] = DEFAULT_BACKBONE
    return named_backbone(task, options, settings)


def _family_options(dataset: Dataset, request: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """A row-wise family's options, checked, with the columns it reads settled from the profile."""
    options = dict(request.get("options") or {})
    names = {c["name"] for c in dataset.columns}
    for key, value in options.items():  # text_column, label_column, image_column, ...
        # a value that is no name at all is refused by the family's option model below
        if key.endswith("_column") and isinstance(value, str) and value not in names:
            raise InvalidInput(
                f"option {key!r}: no column {value!r} in dataset {dataset.name!r}",
                errors=[{"loc": ["body", "options", key], "msg": f"no column {value!r}"}],
            )
    implicit = options.get("backbone") is None
    folder = _choose_backbone(request["task"], options, settings)
    try:
        estimator = _make_with_options(request["task"], options, backbone=folder)
    except InvalidInput as exc:
        if not (implicit and folder is not None) or not _about_backbone(exc):
            raise
        # the server's default weights, not the request, are wrong: say so (without the path)
        raise InvalidInput(
            f"the pretrained backbone in SHOPFLOOR_VISION_BACKBONE_DIR cannot be used: {exc.detail}",
            errors=[{"loc": ["settings", "vision_backbone_dir"], "msg": exc.detail}],
        ) from None
    # the columns the family reads (a forecast's roles, a text column), settled from the profile
    settled: dict[str, Any] = estimator.settle_options(options, dataset.columns, request, dataset.name)
    return settled


def _series_params(platform: Platform, dataset: Dataset, request: dict[str, Any]) -> dict[str, Any]:
    """A sensor family's job parameters: layout settled, options accepted by the estimator, data checked."""
    spec, warnings = series_request(request["task"], dataset.columns, request)
    options = dict(request.get("options") or {})
    estimator = _make_with_options(request["task"], options, **spec_kwargs(spec))
    minimum = estimator.capabilities.min_assets
    check_training_history(load_frame(platform, dataset, spec.columns()), spec, minimum)
    return {
        **request,
        "asset_column": spec.asset,
        "time_column": spec.time,
        "sensors": list(spec.sensors),
        "options": options,
        "dataset_sha256": dataset.sha256,
        "warnings": warnings,
    }


async def create_batch_job(
    platform: Platform,
    principal: Principal,
    model: str,
    version: int | str | None,
    source: Any,
    filename: str | None,
    label_column: str | None = None,
) -> Job:
    """Check an uploaded table against the model's inputs and queue a batch scoring job.

    ``label_column`` (anomaly models): known event windows (1 inside an event, 0 outside),
    used only to evaluate the detected events in the job's result.
    """
    from starlette.concurrency import run_in_threadpool

    tenant = principal.tenant
    check_room(platform, tenant)
    mv = platform.models.resolve(tenant, model, version)
    _check_batch_capable(mv)
    job_id = new_id("job")
    prefix = f"{tenant}/jobs/{job_id}"
    with scratch_file(platform.scratch, f"{job_id}.in") as tmp:  # plaintext in memory only
        await receive_upload(source, tmp, platform.settings.max_upload_bytes)
        frame = await run_in_threadpool(read_table, tmp, filename)
        missing = [c["name"] for c in mv.input_schema if c["name"] not in frame.columns]
        if missing:
            raise InvalidInput(
                f"the file lacks {len(missing)} input column(s) the model needs: {', '.join(missing)}",
                errors=[{"loc": ["file", "columns", m], "msg": "column missing"} for m in missing],
            )
        _check_batch_series(mv, frame, label_column)
        digest = platform.sealed.put_file(tenant, f"{prefix}/{BATCH_INPUT}", tmp)
        params = {
            "model": model,
            "version": mv.version,
            "filename": filename,
            "rows": len(frame),
            "input": f"{prefix}/{BATCH_INPUT}",
            "input_sha256": digest,
            **({"label_column": label_column} if label_column else {}),
        }
        try:
            return queue(
                platform,
                principal,
                "batch_predict",
                params,
                job_id=job_id,
                incoming_bytes=tmp.stat().st_size,
                model=model,
            )
        except BaseException as exc:
            platform.sealed.undo(prefix, exc)
            raise


def _check_batch_capable(mv: ModelVersion) -> None:
    """Refuse a model whose family declares no batch scoring (forecasts, images), saying what to use."""
    caps = catalog.capabilities(mv.task)
    if caps.batch:
        return
    instead = (caps.batch_instead or "").replace("{name}", mv.model)
    raise InvalidInput(
        f"batch scoring is not available for {mv.task} models ({mv.model!r} version {mv.version})"
        + (f": use {instead}" if instead else ""),
        errors=[{"loc": ["path", "name"], "msg": f"batch is not available for {mv.task} models"}],
    )


def _check_batch_series(mv: ModelVersion, frame: Any, label_column: str | None) -> None:
    """Histories for a sensor model: time increasing per asset, numeric sensors, long enough."""
    layout = mv.report.get("series")
    if label_column is not None:
        if not catalog.capabilities(mv.task).batch_evaluation:
            which = catalog.join_names(catalog.tasks_where(lambda c: c.batch_evaluation), "or")
            raise InvalidInput(
                f"label_column is for {which} models (to evaluate events); {mv.model!r} is {mv.task}",
                errors=[{"loc": ["query", "label_column"], "msg": f"not an {which} model"}],
            )
        if label_column not in frame.columns:
            raise InvalidInput(
                f"the file has no column {label_column!r} (label_column)",
                errors=[{"loc": ["query", "label_column"], "msg": "column missing"}],
            )
    if layout is None:
        return
    spec = SeriesSpec.from_dict(layout)
    check_history(frame, spec, where=file_rows, min_points=int(layout.get("min_points") or 1))


def result_file(platform: Platform, tenant: str, job_id: str) -> tuple[bytes, str]:
    """The downloadable output of a finished job, decrypted: (content, file name).

    Raises :class:`Conflict` if the job has not succeeded, :class:`NotFound` if it has no file
    output, :class:`~shopfloor.errors.ArtifactCorrupted` if the stored file was changed.
    """
    job = platform.store.get_job(tenant, job_id)
    if job.status != "succeeded":
        raise Conflict(f"job {job_id} is {job.status}; its result is available once it has succeeded")
    result = job.result or {}
    key = result.get("artifact")
    if not key:
        raise NotFound(f"job {job_id} ({job.type}) has no downloadable result; see its 'result' field")
    # Results are bounded by the upload limit times the prediction columns: whole in memory is fine.
    return platform.sealed.get(tenant, key, result.get("sha256")), f"{job_id}.csv"
