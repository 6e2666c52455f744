"""The options a signal_classification or signal_anomaly training request may give."""

from __future__ import annotations

from pydantic import Field

from shopfloor.tasks.options import FamilyOptions

_WINDOW = Field(
    2048,
    title="Window length (samples)",
    ge=256,
    le=65536,
    description="Samples per analysis window; each recording is cut into windows of this length "
    "(2048 at 12 kHz is 0.17 s, about five shaft turns at 1800 rpm).",
)
_MAX_WINDOWS = Field(
    64,
    title="Most windows per recording",
    ge=1,
    le=4096,
    description="At most this many windows, spread evenly, are taken from each recording (fewer when "
    "the time budget would not hold them).",
)
_ORDERS = Field(
    None,
    title="Bearing defect orders",
    description="Defect frequencies as multiples of shaft speed, by name, from the bearing's geometry "
    '(e.g. {"BPFO": 3.05, "BPFI": 4.95, "BSF": 1.99, "FTF": 0.38}); used when the shaft speed is known.',
)
_BAND = Field(
    None,
    title="Envelope band (Hz)",
    description="The band-pass [low, high] in Hz applied before envelope demodulation, around a "
    "structural resonance the impacts excite (default: an eighth to three eighths of the sampling rate).",
)


class SignalClassificationOptions(FamilyOptions):
    """Vibration recording -> condition class (e.g. ball, inner race, outer race fault)."""

    window: int = _WINDOW
    max_windows: int = _MAX_WINDOWS
    defect_orders: dict[str, float] | None = _ORDERS
    envelope_band_hz: list[float] | None = _BAND
    candidates: list[str] | None = Field(
        None,
        title="Models to compare",
        description="Which of lightgbm, logistic (on the features) and cnn (a small 1D network on the "
        "window spectra) to compare by grouped cross-validation (default: all three).",
    )
    folds: int = Field(
        5,
        title="Cross-validation folds",
        ge=2,
        le=10,
        description="Folds of the grouped cross-validation (fewer when there are fewer groups).",
    )
    cnn_epochs: int = Field(
        30,
        title="Most network passes",
        ge=1,
        le=500,
        description="Most training passes of the 1D network per fit (fewer when the time budget ends it).",
    )


class SignalAnomalyOptions(FamilyOptions):
    """Vibration recordings of healthy machines -> an alarm when new windows depart from them."""

    window: int = _WINDOW
    max_windows: int = _MAX_WINDOWS
    defect_orders: dict[str, float] | None = _ORDERS
    envelope_band_hz: list[float] | None = _BAND
    normal_label: str | None = Field(
        None,
        title="Healthy label",
        description="Learn only from recordings with this label (the others, if any, measure how "
        "often faults are caught); none: every recording is taken as healthy.",
    )
    false_alarm_rate: float = Field(
        0.01,
        title="False-alarm rate",
        gt=0,
        lt=0.5,
        description="The share of healthy windows allowed over the threshold, set on held-out healthy "
        "recordings.",
    )
    alarm_windows: int = Field(
        3,
        title="Windows before an alarm",
        ge=1,
        le=1000,
        description="Streaming: consecutive windows over the threshold before the stream raises an alarm.",
    )
