"""The real ``azure-ai-anomalydetector`` client (3.0.0b6) against a real server: only the endpoint
and the key differ from code written for the retired Azure service."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from azure.ai.anomalydetector import AnomalyDetectorClient
from azure.ai.anomalydetector.models import (
    TimeGranularity,
    TimeSeriesPoint,
    UnivariateChangePointDetectionOptions,
    UnivariateDetectionOptions,
)
from azure.core.credentials import AzureKeyCredential
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError

from azure_series import SHIFT, SPIKES, stamp, values

sys.path.insert(0, str(Path(__file__).parent))
from server import Server  # noqa: E402

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = Server(tmp_path_factory.mktemp("azure") / "home").start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def client(server: Server) -> Iterator[AnomalyDetectorClient]:
    key = server.admin_key()
    assert key
    with AnomalyDetectorClient(endpoint=server.url, credential=AzureKeyCredential(key)) as found:
        yield found


def _series(vals: np.ndarray) -> list[TimeSeriesPoint]:
    stamps = [datetime.fromisoformat(stamp(i)) for i in range(len(vals))]
    return [TimeSeriesPoint(timestamp=t, value=float(v)) for t, v in zip(stamps, vals, strict=True)]


def test_entire_detection(client: AnomalyDetectorClient) -> None:
    options = UnivariateDetectionOptions(
        series=_series(values()), granularity=TimeGranularity.HOURLY, sensitivity=95, max_anomaly_ratio=0.25
    )
    result = client.detect_univariate_entire_series(options)
    assert result.period == 24
    assert np.flatnonzero(result.is_anomaly).tolist() == list(SPIKES)
    assert np.flatnonzero(result.is_negative_anomaly).tolist() == [SPIKES[1]]
    assert len(result.expected_values) == len(result.upper_margins) == len(values())


def test_last_point_detection(client: AnomalyDetectorClient) -> None:
    head = values()[: SPIKES[2] + 1]
    options = UnivariateDetectionOptions(series=_series(head), granularity=TimeGranularity.HOURLY)
    result = client.detect_univariate_last_point(options)
    assert result.is_anomaly and result.is_positive_anomaly
    assert result.expected_value + result.upper_margin < head[-1]
    calm = UnivariateDetectionOptions(series=_series(values()[:SHIFT]), granularity=TimeGranularity.HOURLY)
    assert not client.detect_univariate_last_point(calm).is_anomaly


def test_change_point_detection(client: AnomalyDetectorClient) -> None:
    options = UnivariateChangePointDetectionOptions(
        series=_series(values()), granularity=TimeGranularity.HOURLY, stable_trend_window=10, threshold=0.99
    )
    result = client.detect_univariate_change_point(options)
    assert np.flatnonzero(result.is_change_point).tolist() == [SHIFT]
    assert result.confidence_scores[SHIFT] > 0.99


def test_errors_are_decoded_by_the_client(client: AnomalyDetectorClient, server: Server) -> None:
    few = UnivariateDetectionOptions(series=_series(values()[:5]), granularity=TimeGranularity.HOURLY)
    with pytest.raises(HttpResponseError) as caught:
        client.detect_univariate_entire_series(few)
    assert caught.value.status_code == 400
    assert caught.value.error is not None and caught.value.error.code == "InvalidSeries"
    assert "at least 12" in caught.value.error.message and "at least 12" in str(caught.value)
    assert caught.value.model.code == "InvalidSeries"  # the SDK's AnomalyDetectorError
    wrong = AnomalyDetectorClient(endpoint=server.url, credential=AzureKeyCredential("sfk_nope_nope"))
    with wrong, pytest.raises(ClientAuthenticationError) as refused:
        wrong.detect_univariate_last_point(few)
    assert refused.value.status_code == 401 and refused.value.error.code == "Unauthorized"
