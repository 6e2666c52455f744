"""The signal families: features a vibration analyst reads, validation that cannot leak, the time
budget, and the anomaly family's streaming alarms."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from shopfloor.errors import InvalidInput
from shopfloor.tasks import catalog
from shopfloor.tasks.signals import features as F
from signal_data import ORDERS, RATE, record, recordings, waveform


def _features(x: np.ndarray, rpm: float | None) -> dict[str, float]:
    values = F.recording_features([x], RATE, rpm, 2048, 4, ORDERS).mean(axis=0)
    return dict(zip(F.feature_names(["signal"], ORDERS), values, strict=True))


def test_features_see_impacts_at_the_defect_order() -> None:
    healthy, outer, inner = (_features(waveform(o, 1800), 1800) for o in (None, 3.1, 4.9))
    assert outer["kurtosis"] > healthy["kurtosis"] + 1 and outer["crest"] > healthy["crest"]
    assert outer["envelope_BPFO"] > healthy["envelope_BPFO"] + 0.3
    assert outer["envelope_BPFO"] > outer["envelope_BPFI"] and inner["envelope_BPFI"] > inner["envelope_BPFO"]
    assert outer["envelope_order_3"] > healthy["envelope_order_3"]
    # the cepstrum's rahmonic at the outer-race period
    assert outer["cepstrum_BPFO"] > healthy["cepstrum_BPFO"]
    no_speed = _features(waveform(3.1, 1800), None)
    assert np.isnan(no_speed["envelope_BPFO"]) and np.isfinite(no_speed["kurtosis"])
    sine = np.sin(2 * np.pi * 1000 * np.arange(4096) / RATE)
    flat = _features(np.random.default_rng(0).normal(size=4096), None)
    tone = _features(sine, None)
    assert tone["spectral_flatness"] < 0.05 < flat["spectral_flatness"]
    assert tone["spectral_centroid"] == pytest.approx(1000 / (RATE / 2), abs=0.02)


def test_windows_are_spread_and_capped() -> None:
    x = np.arange(10_000.0)
    w = F.windows(x, 1000, 4)
    assert w.shape == (4, 1000) and w[0, 0] == 0 and w[-1, 0] == 9000


def _leaky_table(seed: int = 0) -> pd.DataFrame:
    """Recordings each with its own fingerprint (a tone at a frequency of its own) and a label drawn
    at random: windows of one recording are near-identical, labels carry no signal at all."""
    rng = np.random.default_rng(seed)
    rows = []
    for r in range(12):
        t = np.arange(RATE) / RATE
        x = np.sin(2 * np.pi * (300 + 250 * r) * t) + 0.05 * rng.normal(size=t.size)
        rows.append(
            {
                "recording": f"r{r}.npy",
                "label": "ab"[r % 2],
                "group": f"r{r}",
                "rpm": np.nan,
                "sampling_rate": float(RATE),
                "samples": t.size,
                "signal": x.astype(np.float32),
            }
        )
    frame = pd.DataFrame(rows)
    frame["label"] = rng.permutation(frame["label"].to_numpy())
    return frame


def test_grouped_validation_does_not_leak() -> None:
    from sklearn.model_selection import cross_val_score

    from shopfloor.tasks.signals import prepare as P
    from shopfloor.tasks.signals.models import FeatureModel
    from shopfloor.tasks.signals.split import grouped_folds, window_rows

    frame = _leaky_table()
    est = catalog.make_estimator(
        "signal_classification", window=1024, candidates=["lightgbm"], time_budget_s=30
    )
    table = P.read_table(frame, {"label"})
    win = P.table_features(est, table, 30)
    y_rec = (frame["label"] == "b").to_numpy().astype(int)
    y = y_rec[win.rec]
    # a random window split recognises the recording, and so "learns" random labels
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.model_selection import KFold

    leaky = cross_val_score(
        RandomForestClassifier(50, random_state=0),
        np.nan_to_num(win.x),
        y,
        cv=KFold(5, shuffle=True, random_state=0),
    ).mean()
    assert leaky > 0.85
    folds, split = grouped_folds(table.groups, y_rec, 4, 0)
    for tr, te in folds:
        assert not {table.names[i] for i in tr} & {table.names[i] for i in te}
        a, b = window_rows(tr, win.rec), window_rows(te, win.rec)
        assert not set(win.rec[a]) & set(win.rec[b])  # no recording's windows on both sides
    scores = []
    for tr, te in folds:
        a, b = window_rows(tr, win.rec), window_rows(te, win.rec)
        scores.append(
            (FeatureModel("lightgbm", 2).fit(win.x[a], y[a]).proba(win.x[b]).argmax(1) == y[b]).mean()
        )
    assert np.mean(scores) < 0.8 and split["folds"] == 4
    fitted = est.fit(frame, "label")
    assert fitted.report_["metrics"]["accuracy"] < 0.8
    assert fitted.report_["split"]["by"] == "recording" and len(fitted.report_["split"]["test_groups"]) == 5


def test_classifier_reports_its_split_and_warns_of_single_recordings() -> None:
    frame = recordings(per_class=3)
    frame = pd.concat(
        [frame, recordings(per_class=1, seed=9).assign(label="odd", group="odd")], ignore_index=True
    )
    est = catalog.make_estimator(
        "signal_classification", window=1024, candidates=["logistic"], defect_orders=ORDERS, time_budget_s=30
    ).fit(frame.head(10), "label")
    codes = [w["code"] for w in est.report_["warnings"]]
    assert "single_recording" in codes
    (answer,) = est.predict([record(waveform(3.1, 1750, seed=77), rpm=1750)])
    assert answer["label"] == "outer" and set(answer["probabilities"]) == {"inner", "normal", "outer", "odd"}
    (why,) = est.explain([record(waveform(3.1, 1750, seed=77), rpm=1750)])
    assert why["spectrum"]["markers"][1]["name"] == "BPFO" and why["spectrum_svg"].startswith("<svg")
    with pytest.raises(InvalidInput) as caught:
        est.predict([{"signal": [0.0] * 100, "sampling_rate": RATE}])
    assert caught.value.errors[0]["loc"] == ["body", "records", 0, "signal"]


def test_the_time_budget_holds_with_the_network() -> None:
    frame = recordings(per_class=4, seconds=3.0)
    started = time.perf_counter()
    est = catalog.make_estimator(
        "signal_classification", window=512, max_windows=4096, cnn_epochs=500, time_budget_s=6
    ).fit(frame, "label")
    assert time.perf_counter() - started < 6 * 1.5 + 1
    assert {c["name"] for c in est.report_["candidates"]} <= {"lightgbm", "logistic", "cnn"}


def test_anomaly_threshold_and_stream_alarm() -> None:
    frame = recordings(per_class=4)
    healthy_and_faults = frame.assign(label=frame["label"])
    est = catalog.make_estimator(
        "signal_anomaly",
        window=1024,
        normal_label="normal",
        defect_orders=ORDERS,
        false_alarm_rate=0.05,
        alarm_windows=2,
        time_budget_s=20,
    ).fit(healthy_and_faults, "")
    metrics = est.report_["metrics"]
    assert metrics["detection_rate_windows"] > 0.9 and metrics["false_alarm_rate_held_out"] <= 0.2
    good = record(waveform(None, 1720, seed=500)[:1024], rpm=1720)
    bad = record(waveform(4.9, 1720, seed=501)[:1024], rpm=1720)
    results, states = est.score_stream([{**good, "group": "pump"}, {**good, "group": "fan"}], {})
    assert [r["alarm"] for r in results] == [False, False] and set(states) == {"pump", "fan"}
    results, states = est.score_stream([{**bad, "group": "pump"}], states)
    assert results[0]["over"] and not results[0]["alarm"]
    results, states = est.score_stream([{**bad, "group": "pump"}], states)
    assert results[0]["alarm"] and results[0]["run"] == 2
    assert est.predict([bad])[0]["is_anomaly"] and not est.predict([good])[0]["is_anomaly"]


def test_the_envelope_band_reaches_training_and_answers() -> None:
    from shopfloor.tasks.signals import prepare as P

    assert P.envelope_band([500, 3000.0]) == (500, 3000.0) and P.envelope_band(None) is None
    frame = recordings(per_class=2)
    faulty = record(waveform(3.1, 1750, seed=77), rpm=1750)
    spectra, scores = [], []
    for band in (None, [1500, 3500]):
        est = catalog.make_estimator(
            "signal_anomaly",
            window=1024,
            normal_label="normal",
            defect_orders=ORDERS,
            envelope_band_hz=band,
            time_budget_s=20,
        ).fit(frame, "")
        (answer,) = est.predict([faulty])
        (why,) = est.explain([faulty])
        assert why["spectrum_svg"].startswith("<svg")
        scores.append(answer["score"])
        spectra.append(why["spectrum"]["amplitude"])
    assert spectra[0] != spectra[1] and scores[0] != scores[1]
