"""The shared contract every task family must pass (fit, report, predict, explain, save/load), and its
declaration checked against its class (as scikit-learn's ``check_estimator`` checks tags): a family that
declares batch scoring has a working ``predict_frame``, one that lists an explanation method answers it..."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import signal_data
from shopfloor.errors import ArtifactCorrupted, InvalidInput, NotFitted
from shopfloor.services.plots import applicable_kinds
from shopfloor.tasks import catalog
from shopfloor.tasks.base import BaseEstimator, Capabilities, Estimator, SeriesEstimator
from shopfloor.tasks.compare import Incomparable, NewData, Paired


def _tabular_frame(kind: str) -> tuple[pd.DataFrame, str]:
    rng = np.random.default_rng(0)
    n = 300
    a, b = rng.normal(size=n), rng.normal(size=n)
    grade = rng.choice(["L", "M", "H"], size=n)
    frame = pd.DataFrame({"a [K]": a, "b (x)": b, "grade": grade, "flag": rng.random(n) > 0.5})
    signal = a * b + (grade == "H") + 0.3 * rng.normal(size=n)
    frame["y"] = (signal > 0.3).astype(int) if kind == "classification" else signal
    frame.loc[::17, "a [K]"] = np.nan
    return frame, "y"


def _imported(kind: str) -> tuple[pd.DataFrame, str, Any]:
    """A LightGBM model trained "elsewhere" on the same kind of table, imported as a file."""
    import lightgbm as lgb

    from shopfloor.tasks.tabular.imported import ImportedModel

    frame, target = _tabular_frame(kind)
    frame = frame[["a [K]", "b (x)", "grade", target]]
    X = np.column_stack([frame["a [K]"], frame["b (x)"], frame["grade"].map({"L": 0, "M": 1, "H": 2})])
    params = {
        "objective": "binary" if kind == "classification" else "regression",
        "verbose": -1,
        "num_threads": 1,
        "min_data_in_leaf": 5,
    }
    booster = lgb.train(params, lgb.Dataset(X, frame[target].to_numpy()), num_boost_round=20)
    schema = [
        {"name": "a [K]", "type": "numeric"},
        {"name": "b (x)", "type": "numeric"},
        {"name": "grade", "type": "categorical", "categories": ["L", "M", "H"]},
    ]
    est = ImportedModel.from_file(
        booster.model_to_string().encode(),
        kind=kind,
        format="lightgbm",
        input_schema=schema,
        classes=[0, 1] if kind == "classification" else None,
    )
    return frame, target, est


#: Families whose models are made elsewhere and imported as files: the contract starts after the import.
IMPORTED = {
    "imported_classification": lambda: _imported("classification"),
    "imported_regression": lambda: _imported("regression"),
}


def _histories(kind: str) -> tuple[pd.DataFrame, str]:
    """Sensor histories of 8 assets: run to failure (one sensor drifts) for rul, steady for anomaly."""
    rng = np.random.default_rng(1)
    parts = []
    for unit in range(8):
        n = 60 + 7 * unit
        life = np.arange(n) / n
        wear = life**2 if kind == "rul" else np.zeros(n)
        base = rng.normal(size=n)
        parts.append(
            pd.DataFrame(
                {
                    "asset": f"u{unit}",
                    "time": np.arange(1, n + 1),
                    "temp [K]": 300 + 2 * wear + 0.1 * base,
                    "vib": base + 0.2 * rng.normal(size=n),
                    "flat": 1.0,
                }
            )
        )
    return pd.concat(parts, ignore_index=True), ""


#: Keywords per class for the synthetic work orders; shared filler words carry no signal.
_TEXT_VOCAB = {
    "hydraulic": ["hose", "cylinder", "pump", "seal", "valve", "pressure"],
    "engine": ["piston", "injector", "turbo", "radiator", "coolant", "exhaust"],
    "electrical": ["wiring", "fuse", "battery", "alternator", "sensor", "relay"],
}
_TEXT_FILLER = ["check", "replace", "inspect", "leaking", "noisy", "worn", "loose", "the", "on", "unit"]


def _work_orders() -> tuple[pd.DataFrame, str]:
    """40 short work orders per class, each with two keywords of its class among filler words."""
    rng = np.random.default_rng(2)
    rows = []
    for label, words in _TEXT_VOCAB.items():
        for _ in range(40):
            picked = [*rng.choice(words, 2, replace=False), *rng.choice(_TEXT_FILLER, 3)]
            rng.shuffle(picked)
            text = " ".join(picked).capitalize()
            rows.append({"description": text, "hours": float(rng.integers(0, 5000)), "y": label})
    return pd.DataFrame(rows).sample(frac=1.0, random_state=0).reset_index(drop=True), "y"


def _part_images() -> tuple[pd.DataFrame, str]:
    """Small grey PNG parts: smooth texture when good, with a bright scratch when defective."""
    import io

    from PIL import Image

    rng = np.random.default_rng(2)
    rows = []
    for i in range(40):
        pixels = 0.5 + 0.1 * rng.normal(size=(48, 48))
        label = "good" if i < 32 else "scratch"
        if label == "scratch":
            pixels[20:23, 5:40] = 1.0
        buffer = io.BytesIO()
        Image.fromarray((np.clip(pixels, 0, 1) * 255).astype(np.uint8)).save(buffer, format="PNG")
        rows.append({"image": buffer.getvalue(), "label": label})
    return pd.DataFrame(rows), "label"


def _demand() -> tuple[pd.DataFrame, str]:
    """Weekly demand of six products over 30 weeks, one intermittent."""
    rng = np.random.default_rng(3)
    rows = []
    for i in range(6):
        level = rng.uniform(5, 30)
        for t in range(30):
            y = max(0.0, round(level + rng.normal(0, 2))) if i or t % 3 == 0 else 0.0
            rows.append({"series": f"P{i}", "time": t, "value": y})
    return pd.DataFrame(rows), "value"


def _stream() -> tuple[pd.DataFrame, str]:
    """One stream (time, two values; no asset) with a known anomaly column, for series_anomaly."""
    rng = np.random.default_rng(3)
    n = 160
    times = pd.date_range("2024-03-01", periods=n, freq="h").astype(str)
    load = 5 + np.sin(np.arange(n) / 4) + rng.normal(0, 0.2, n)
    y = np.zeros(n, int)
    load[120], y[120] = load[120] + 6, 1
    return pd.DataFrame({"time": times, "load": load, "temp": 40 + rng.normal(0, 1, n), "y": y}), "y"


DATA = {
    "tabular_classification": lambda: _tabular_frame("classification"),
    "tabular_regression": lambda: _tabular_frame("regression"),
    "rul": lambda: _histories("rul"),
    "anomaly": lambda: _histories("anomaly"),
    "text_classification": _work_orders,
    "image_anomaly": _part_images,
    "image_classification": _part_images,
    "forecast": _demand,
    "signal_classification": lambda: (signal_data.recordings(per_class=4), "label"),
    "signal_anomaly": lambda: (signal_data.recordings(per_class=4), "label"),
    "series_anomaly": _stream,
}

#: Families that answer per asset from a history of rows, not one answer per row.
PER_ASSET = {"rul", "anomaly"}
#: Families that answer once for the one stream the rows hold (no asset column).
ONE_STREAM = {"series_anomaly"}

#: Small settings so the contract runs in seconds.
QUICK = {
    "rul": {"max_epochs": 2},
    "anomaly": {},
    "text_classification": {"candidates": ["tfidf"]},
    "image_anomaly": {"label_column": "label", "good_label": "good", "size": 48, "memory_size": 300},
    "image_classification": {"size": 32, "max_epochs": 2, "patience": 2, "stability_seeds": 0},
    "forecast": {"horizon": 3, "candidates": ["auto_ets", "croston"]},
    "signal_classification": {
        "window": 1024,
        "candidates": ["logistic"],
        "defect_orders": signal_data.ORDERS,
    },
    "signal_anomaly": {"window": 1024, "defect_orders": signal_data.ORDERS},
    "series_anomaly": {"label_column": "y"},
}


@pytest.fixture(scope="module", params=catalog.tasks())
def fitted(request: pytest.FixtureRequest) -> tuple[str, Any, pd.DataFrame, str]:
    task = request.param
    if task in IMPORTED:
        frame, target, imported = IMPORTED[task]()
        with pytest.raises(InvalidInput):
            imported.fit(frame, target)
        return task, imported, frame, target
    assert task in DATA, f"add a small synthetic data set for {task} to the contract suite"
    frame, target = DATA[task]()
    est = catalog.make_estimator(task, time_budget_s=10, seed=0, **QUICK.get(task, {}))
    stages: list[tuple[float, str]] = []
    # a family that derives its target (or needs none) is fitted as a job fits it: with no target named
    given = target if catalog.capabilities(task).target == "given" else ""
    out = est.fit(frame, given, progress=lambda f, s, m: stages.append((f, s)))
    assert out is est
    assert [f for f, _ in stages] == sorted(f for f, _ in stages)
    assert stages[-1][0] == 1.0
    return task, est, frame, target


def test_not_fitted_raises() -> None:
    for task in catalog.tasks():
        est = catalog.make_estimator(task)
        with pytest.raises(NotFitted):
            est.predict([{}])
        with pytest.raises(NotFitted):
            est.explain([{}])
        with pytest.raises(NotFitted):
            est.save()


@pytest.mark.parametrize("task", catalog.tasks())
def test_declaration_is_the_class_s(task: str) -> None:
    """The catalog answers from the family's declaration; the class carries the same object, and
    what follows from it holds: a family without batch scoring names the request to use instead
    (POST /batch answers 422 with it), a series family the fewest assets it trains on."""
    caps = catalog.capabilities(task)
    cls = catalog.estimator_class(task)
    assert isinstance(caps, Capabilities)
    assert issubclass(cls, BaseEstimator), task
    assert cls.declared[task] is caps
    est = catalog.make_estimator(task)
    assert est.task == task and est.capabilities is caps
    if not caps.batch:
        assert "{name}" in (caps.batch_instead or ""), task
    assert (caps.min_assets > 0) == (caps.inputs == "series"), task
    assert caps.explain and set(caps.explain) <= set(catalog.explain_methods())
    assert caps.trainable == (caps.imported_as is None), task
    assert caps.takes_options == callable(cls.__dict__.get("check_options")), task
    assert caps.backbone == (cls.backbone_name is not BaseEstimator.backbone_name), task
    # a whole series sent in a request is detected by the class itself, with no fitted model
    for hook in ("detect_series", "change_points"):
        assert caps.whole_series == callable(getattr(cls, hook, None)), (task, hook)


def test_capabilities_are_read_without_importing_a_family() -> None:
    """The CLI and the server list tasks and read their capabilities without torch, LightGBM or
    pandas: the declarations are light, estimators load with their first model."""
    code = (
        "import sys; from shopfloor.tasks import catalog; "
        "[catalog.capabilities(t) for t in catalog.tasks()]; catalog.explain_methods(); "
        "heavy = [m for m in ('torch', 'lightgbm', 'pandas', 'sklearn') if m in sys.modules]; "
        "assert not heavy, heavy"
    )
    src = str(Path(catalog.__file__).resolve().parents[2])
    subprocess.run([sys.executable, "-c", code], check=True, env={"PYTHONPATH": src})  # noqa: S603


def test_protocol_and_report(fitted: tuple[str, Any, pd.DataFrame, str]) -> None:
    task, est, _, _ = fitted
    assert isinstance(est, Estimator)
    assert est.task == task
    assert isinstance(est.report_["metrics"], dict)
    if task not in IMPORTED:
        assert est.report_["metrics"]
    json.dumps(est.report_)
    names = [c["name"] for c in est.input_schema_]
    assert names and all({"name", "type"} <= set(c) for c in est.input_schema_)
    assert "y" not in names
    if task in PER_ASSET:
        assert isinstance(est, SeriesEstimator)
        series = est.report_["series"]
        assert series["asset"] == "asset" and series["time"] == "time"
        assert "flat" not in series["sensors"], "a constant sensor is dropped"
        assert {"window", "min_points"} <= set(series)
        roles = {c["name"]: c.get("role") for c in est.input_schema_}
        assert roles["asset"] == "asset" and roles["time"] == "time"


def _records(task: str, frame: pd.DataFrame, target: str, rows: int) -> tuple[list[dict[str, Any]], int]:
    """Records to predict and how many answers to expect: rows, or the last rows of a few assets."""
    if task in PER_ASSET:
        recent = frame.groupby("asset").tail(40)
        recent = recent[recent["asset"].isin(sorted(frame["asset"].unique())[: max(1, rows // 5)])]
        return recent.to_dict("records"), int(recent["asset"].nunique())
    if task in ONE_STREAM:
        return frame.drop(columns=[target]).head(rows * 3).to_dict("records"), 1
    return frame.drop(columns=[target]).head(rows).to_dict("records"), rows


def test_predict_and_explain_shapes(fitted: tuple[str, Any, pd.DataFrame, str]) -> None:
    task, est, frame, target = fitted
    records, answers = _records(task, frame, target, 10)
    preds = est.predict(records)
    assert len(preds) == answers and all("warnings" in p for p in preds)
    some, expected = _records(task, frame, target, 5)
    expl = est.explain(some)
    assert len(expl) == expected and all("contributions" in e for e in expl)
    assert est.predict([]) == []


def test_save_load_round_trip(fitted: tuple[str, Any, pd.DataFrame, str]) -> None:
    task, est, frame, target = fitted
    files = est.save()
    assert all(isinstance(v, bytes) for v in files.values())
    again = catalog.estimator_class(task).load(files)
    records, _ = _records(task, frame, target, 20)
    assert again.predict(records) == est.predict(records)
    some, _ = _records(task, frame, target, 5)
    assert again.explain(some) == est.explain(some)
    assert again.report_ == json.loads(json.dumps(est.report_))
    # a state file that is JSON but not a state is refused as a corrupted artifact, by every family
    state = next(n for n, b in files.items() if n.endswith(".json") and b'"format"' in b)
    with pytest.raises(ArtifactCorrupted):
        catalog.estimator_class(task).load({**files, state: b"[]"})


# -- the declaration against the fitted model ---------------------------------------------------------


def _caps(task: str) -> Capabilities:
    return catalog.capabilities(task)


def test_batch_declared_iff_predict_frame_scores(fitted: tuple[str, Any, pd.DataFrame, str]) -> None:
    """Declared batch: ``predict_frame`` scores a small table, one row out per row in. Not declared:
    the base class refuses (a family may keep its own ``predict_frame`` for library use)."""
    task, est, frame, target = fitted
    small = frame.drop(columns=[target]) if target in frame and _caps(task).target == "given" else frame
    small = small.groupby("asset").head(30) if _caps(task).inputs == "series" else small.head(6)
    if _caps(task).batch:
        out = est.predict_frame(small.reset_index(drop=True))
        assert isinstance(out, pd.DataFrame) and len(out) == len(small)
    elif type(est).predict_frame is BaseEstimator.predict_frame:
        with pytest.raises(InvalidInput):
            est.predict_frame(small)


def test_onnx_export_declared_iff_its_graph_answers_as_predict(
    fitted: tuple[str, Any, pd.DataFrame, str],
) -> None:
    """Declared ``onnx`` export: ``to_onnx()`` run by plain onnxruntime on the raw columns gives
    ``predict``'s labels and probabilities (or values). Not declared: the estimator has no ``to_onnx``."""
    task, est, frame, target = fitted
    if "onnx" not in _caps(task).export:
        assert not hasattr(est, "to_onnx")
        return
    from onnx_feeds import run_onnx

    records, _ = _records(task, frame, target, 20)
    out = run_onnx(est.to_onnx(), records)
    answers = est.predict(records)
    if "value" in answers[0]:
        np.testing.assert_allclose(out["prediction"], [a["value"] for a in answers], rtol=1e-6, atol=1e-9)
        return
    assert out["prediction"].tolist() == [a["label"] for a in answers]
    for label in answers[0]["probabilities"]:
        wanted = [a["probabilities"][label] for a in answers]
        np.testing.assert_allclose(out[f"proba_{label}"], wanted, atol=1e-6)


def test_explain_answers_each_declared_method(fitted: tuple[str, Any, pd.DataFrame, str]) -> None:
    """Each listed method answers one explanation per record; any other method the API knows is
    refused with a 422, or answered as the family's only explanation (the default's)."""
    task, est, frame, target = fitted
    some, expected = _records(task, frame, target, 3)
    for method in _caps(task).explain:
        assert len(est.explain(some, method=method)) == expected, (task, method)
    default = est.explain(some)
    for method in set(catalog.explain_methods()) - set(_caps(task).explain):
        try:
            answer = est.explain(some, method=method)
        except InvalidInput:
            continue
        assert answer == default, (task, method)


def test_stream_and_forecast_declared_iff_served(fitted: tuple[str, Any, pd.DataFrame, str]) -> None:
    task, est, frame, target = fitted
    caps = _caps(task)
    assert caps.stream == callable(getattr(est, "score_stream", None)), task
    assert caps.forecast == callable(getattr(est, "forecast", None)), task
    if caps.stream:
        records, answers = _records(task, frame, target, 5)
        results, states = est.score_stream(records, {})
        assert len(results) == answers and len(states) == answers  # one answer and state per asset
    if caps.forecast:
        first = str(frame.iloc[0, 0])
        (out,) = est.forecast([first], 2, [80.0])
        assert len(out["forecast"]) == 2


def test_declared_inputs_target_and_reports(fitted: tuple[str, Any, pd.DataFrame, str]) -> None:
    """What the family learns from, its target, kind of answer, rules and plots match the model."""
    task, est, frame, target = fitted
    caps = _caps(task)
    images = any(isinstance(v, bytes) for v in frame.iloc[0])
    assert images == (caps.inputs == "images"), task  # the job service trains it on image datasets only
    recordings = any(isinstance(v, np.ndarray) for v in frame.iloc[0])
    assert recordings == (caps.inputs == "signals"), task  # and it on recording datasets only
    assert (caps.inputs == "series") == ("asset" in (est.report_.get("series") or {})), task  # its layout
    if caps.inputs == "text":
        assert any(c.get("type") == "text" for c in est.input_schema_), task
    if caps.trainable:
        assert est.report_["task"] == task
    assert ("rules" in est.report_) == caps.rules, task
    # the charts its report has data for (importance: explaining the background rows the model kept)
    kinds = [k for k in applicable_kinds(est.report_) if k != "importance" or est.background_records()]
    assert set(kinds) <= set(caps.plots), (task, kinds)
    assert bool(est.background_records()) == ("importance" in caps.plots), task
    if caps.target == "given" and caps.trainable:
        with pytest.raises(Exception):  # noqa: B017 - any refusal: the target is the family's to require
            catalog.make_estimator(task, time_budget_s=5, **QUICK.get(task, {})).fit(
                frame.drop(columns=[target]).head(40), target
            )


#: Families whose model, compared with a copy of itself on its own training data, has no comparable
#: figure, and why (the gate says so instead of passing).
NOT_COMPARABLE_ON_OWN_DATA = {
    "forecast": "no series of the new data continues past the periods",  # it forecast after its data
    "signal_anomaly": "no recording labelled other than the normal label",  # the fixture has no normal_label
}


def test_compare_declared_iff_the_model_compares_with_a_loaded_champion(
    fitted: tuple[str, Any, pd.DataFrame, str],
) -> None:
    """Declared compare: the fitted model compares itself with a champion loaded from its saved
    files (what a retraining job holds) on the same held-out examples, and says why where it has no
    comparable figure; a family holding out rows scores them as its report did. Once loaded, a model
    holds no hold-out. Not declared: the base class refuses to score rows."""
    task, est, frame, target = fitted
    caps = _caps(task)
    assert caps.compare == caps.trainable, task  # every family trained here can be retrained with a gate
    if not caps.compare:
        assert type(est).row_scorer is BaseEstimator.row_scorer and est.holdout_rows() is None, task
        return
    champion = catalog.estimator_class(task).load(est.save())
    given = target if caps.target == "given" else ""
    data = NewData(frame, np.zeros(len(frame), dtype=bool), given, "version 1 (production)")
    compared = est.compare_with(champion, data)
    if task in NOT_COMPARABLE_ON_OWN_DATA:
        assert isinstance(compared, Incomparable) and NOT_COMPARABLE_ON_OWN_DATA[task] in compared.reason
    else:
        assert isinstance(compared, Paired), (task, compared)
        new, old = compared.everything()
        assert compared.units > 0 and compared.left_out == 0, task
        assert math.isfinite(new[compared.metric]) and math.isfinite(old[compared.metric]), (task, new, old)
        take = np.random.default_rng(0).integers(0, compared.units, compared.units)
        assert set(compared.figures(take)[0]) == set(new), task  # a resample gives the same figures
        if not isinstance(compared.greater_is_better, bool):
            raise AssertionError(task)
        seen = est.compare_with(champion, NewData(frame, np.ones(len(frame), dtype=bool), given, "v1"))
        assert isinstance(seen, Incomparable) and "v1" in seen.reason, (task, seen)
    assert isinstance(champion.compare_with(est, data), Incomparable), task  # a loaded model: no hold-out
    rows = est.holdout_rows()
    if rows is None:
        return
    assert 0 < len(rows) < len(frame), task
    scores = est.score_rows(frame.iloc[rows], target)
    metrics = est.report_["metrics"]
    assert est.report_["metric"] in scores, task
    for name, value in scores.items():
        assert value == pytest.approx(metrics[name], nan_ok=True, rel=1e-4), (task, name)
    assert champion.holdout_rows() is None
    assert champion.score_rows(frame.iloc[rows], target) == pytest.approx(scores, nan_ok=True, rel=1e-4)


def test_declared_outcomes_match_the_answers(fitted: tuple[str, Any, pd.DataFrame, str]) -> None:
    """Feedback reads each answer's declared field (and class probabilities), and its live metrics
    are computed from them: the answers carry them, and scoring the answers against themselves as
    outcomes gives every declared metric (a perfect score where the metric has one)."""
    from shopfloor.evaluation.live import METRICS
    from shopfloor.services.outcomes import check_outcome, scores

    task, est, frame, target = fitted
    spec = _caps(task).outcomes
    assert spec is not None, f"{task}: declare how feedback meets its answers (Capabilities.outcomes)"
    assert spec.metrics and set(spec.metrics) <= set(METRICS), task
    records, _ = _records(task, frame, target, 10)
    answers = est.predict(records)
    assert all(spec.answer in a for a in answers), (task, spec.answer)
    if spec.scores:
        assert all(isinstance(a[spec.scores], dict) for a in answers), task
        assert all(str(a[spec.answer]) in a[spec.scores] for a in answers), task
    truths = [a[spec.answer] if spec.kind != "alarm" else bool(a[spec.answer]) for a in answers]
    assert all(check_outcome(spec, a, t) is None for a, t in zip(answers, truths, strict=True)), task
    found = scores(spec, answers, truths, est.answer_scale)
    assert set(found) == set(spec.metrics), task
    for metric in ("f1", "alarm_precision"):
        if found.get(metric) is not None:
            assert found[metric] == 1.0, (task, metric)
    for metric in ("rmse", "mae", "mase"):
        if found.get(metric) is not None:
            assert found[metric] == 0.0, (task, metric)


#: What each kind of tensor answer (Capabilities.tensor_answers) holds in every answer.
TENSOR_VALUES = {
    "class": lambda v: v is not None,
    "classes": lambda v: isinstance(v, list),
    "scores": lambda v: isinstance(v, dict) and all(isinstance(p, float) for p in v.values()),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "flag": lambda v: isinstance(v, bool),
    "count": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "sequence": lambda v: isinstance(v, list) and all(isinstance(x, int | float) for x in v),
}


def test_declared_tensor_answers_are_fields_of_every_answer(
    fitted: tuple[str, Any, pd.DataFrame, str],
) -> None:
    """The Open Inference Protocol answers with the declared fields as tensors: a family answering
    per record declares them and every answer has each, of its kind; one answering per asset or per
    stream declares none (it is not served there)."""
    task, est, frame, target = fitted
    declared = _caps(task).tensor_answers
    if task in PER_ASSET | ONE_STREAM:
        assert not declared, task
        return
    assert declared, f"{task} answers per record: declare Capabilities.tensor_answers"
    multi = bool(est.report_.get("multi_label"))
    records, _ = _records(task, frame, target, 5)
    answers = est.predict(records)
    for field, kind in declared:
        if (kind == "class" and multi) or (kind == "classes" and not multi):
            continue  # a multi-label model answers "labels" where a single-label one answers "label"
        assert all(TENSOR_VALUES[kind](a.get(field)) for a in answers), (task, field, kind)


def test_batched_declared_only_where_records_are_answered_alone(
    fitted: tuple[str, Any, pd.DataFrame, str],
) -> None:
    """Online predict scores the records of several requests in one call for a family that declares
    ``batched`` (serving/batching.py): each record's answer must not depend on the others in the list."""
    task, est, frame, target = fitted
    if not _caps(task).batched:
        return
    assert task not in PER_ASSET | ONE_STREAM, f"{task} answers per asset or stream: it cannot be batched"
    records, _ = _records(task, frame, target, 8)
    together = est.predict(records)
    alone = [answer for record in records for answer in est.predict([record])]
    assert _same(together, alone), (together, alone)


def _same(a: Any, b: Any) -> bool:
    """Equal, numbers to 1e-9 relative: a matrix product over 8 rows may round the last bit of a
    value differently than over one."""
    if isinstance(a, float) or isinstance(b, float):
        numbers = isinstance(a, int | float) and isinstance(b, int | float)
        return numbers and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


CALIBRATED = {"tabular_classification", "text_classification", "image_classification"}


def test_classifiers_with_a_held_out_split_store_their_calibration(
    fitted: tuple[str, Any, pd.DataFrame, str],
) -> None:
    """Performance without outcomes reads the report's calibration: plain numbers of the right size."""
    from shopfloor.evaluation.calibration import usable

    task, est, _, _ = fitted
    calibration = est.report_.get("calibration")
    # measured on a held-out split; not by imported models, nor under grouped cross-validation (signals)
    assert (calibration is not None) == (task in CALIBRATED), task
    if calibration is None:
        return
    spec = _caps(task).outcomes
    assert spec is not None and spec.kind == "label" and spec.scores, task
    assert usable(calibration, len(est.report_["classes"])), task
    json.dumps(calibration)


def test_drift_profile_through_the_hooks(fitted: tuple[str, Any, pd.DataFrame, str]) -> None:
    """Every family gives a drift profile of its training table through its hooks (inputs as it
    declares them, outputs, embeddings of texts and images), and that table compared with its own
    profile has not drifted."""
    from shopfloor.jobs.profiling import profile_of, window_of
    from shopfloor.monitoring.profile import Profile
    from shopfloor.monitoring.report import drift_report

    task, est, frame, _ = fitted
    profile = Profile.from_files(profile_of(est, frame).to_files())
    kinds = {i["type"] for i in est.drift_inputs()}
    compared = {f.column for f in profile.inputs()}
    tabular = ("numeric", "boolean", "categorical", "text")
    assert compared >= {i["name"] for i in est.drift_inputs() if i["type"] in tabular}
    if kinds & {"text", "image"}:
        assert any(f.kind == "embedding" for f in profile.inputs()), profile.skipped
    if kinds <= {"waveform"}:
        assert not compared and profile.skipped
        return
    report = drift_report(profile, window_of(est, frame))
    assert not any(f.drifted for f in report.inputs), [f.sentence for f in report.inputs if f.drifted]
