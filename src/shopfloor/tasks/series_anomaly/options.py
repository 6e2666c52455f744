"""The options a series_anomaly training request may give (``options`` of ``POST /v1/jobs``)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from shopfloor.tasks.options import FamilyOptions

Candidate = Literal["seasonal_baseline", "online_slow", "online_fast"]


class SeriesAnomalyOptions(FamilyOptions):
    """One stream's anomalies: which columns, how sensitive, and how messy time is repaired."""

    time_column: str | None = Field(
        None,
        title="Time column",
        description="The column holding each reading's date/time (or a number that increases). Default: "
        "the dataset's only date/time column, else a column named time or timestamp.",
    )
    value_columns: Annotated[list[str], Field(min_length=1)] | None = Field(
        None,
        title="Value columns",
        description="The numeric columns to watch, scored together (a point is abnormal when any of them "
        "is). Default: every numeric column except the time and label columns.",
    )
    label_column: str | None = Field(
        None,
        title="Known anomalies column",
        description="Optional column with 1 on readings known to be abnormal and 0 elsewhere. Given, the "
        "detector is chosen by how well it finds these; otherwise by how well it finds faults injected "
        "into the history. The labels are never used as an input.",
    )
    sensitivity: int = Field(
        80,
        title="Sensitivity (0-99)",
        ge=0,
        le=99,
        description="Higher flags more readings: the expected band narrows (at 99 a reading 1.5 typical "
        "deviations away is abnormal, at 80 about 3.4, at 0 about 11.4). Lower gives fewer, surer alarms. "
        "The typical deviation is learnt from the history and never grows; where the stream stays far "
        "calmer than the history (under half its deviations, over thousands of readings and at least a "
        "week: a history that held a start-up), it comes down slowly, at most to a fifth.",
    )
    max_anomaly_ratio: float = Field(
        0.05,
        title="Most readings flagged",
        gt=0,
        le=0.5,
        description="The largest share of the training readings that may fall outside the band (0.05: one "
        "in twenty). Where the sensitivity would flag more, the band is widened until it does not; a "
        "smaller value means fewer alarms on data like the history.",
    )
    duplicates: Literal["mean", "last"] = Field(
        "mean",
        title="Repeated timestamps",
        description="What to keep when several readings share a timestamp (a repeated hour when clocks go "
        "back, a logger sending twice): their mean, or the last one received. The report counts them.",
    )
    gaps: Literal["fill", "split"] = Field(
        "fill",
        title="Gaps in time",
        description="Missing readings (a gap longer than 1.5 usual steps): fill them by straight lines "
        "between the neighbours (they are learnt from but never flagged), or split the stream there and "
        "start the level afresh after each gap. Gaps over 1,000 steps are always split.",
    )
    seasonality: Literal["auto", "none"] = Field(
        "auto",
        title="Seasonal pattern",
        description="auto: look for a daily and a weekly pattern in the history (date/time columns only) "
        "and keep the stronger one if it is clear; none: no seasonal pattern, only level and trend.",
    )
    min_event_points: int = Field(
        1,
        title="Readings per event",
        ge=1,
        description="Consecutive flagged readings that make an event; shorter runs stay flagged points only.",
    )
    alarm_memory: int = Field(
        5600,
        title="Alarm memory (readings)",
        ge=0,
        le=10_000_000,
        description="After an alarm the band widens in proportion to how far out the reading was. "
        "Right after it, the widening relaxes by half every 100 readings (the rest of one event raises "
        "no second alarm); over this many readings (with date/time readings, at most 20 days of them) "
        "the band stays as wide as the second largest widening, relaxing by half over half of them: a "
        "change that repeats raises one alarm, then another only when it grows half as large again, "
        "while one lone outlier does not hide what follows it. With date/time readings the band also "
        "widens at a time of day where the stream deviated as much on earlier days (a nightly job's "
        "spike; that memory relaxes by half over a month). A reading out of the band sooner after the "
        "previous one than the stream has ever done (a cycle repeating faster than ever) and a lasting "
        "shift (the median of the last 21 readings) are judged against a narrower band: the first up "
        "to 1.5 times narrower, the second outside this widening. "
        "0: no widening, every reading outside the band is flagged.",
    )
    candidates: Annotated[list[Candidate], Field(min_length=1)] | None = Field(
        None,
        title="Detectors to compare",
        description="Detectors to compare, each at most once: seasonal_baseline (a fixed seasonal "
        "profile and level learnt from the history), online_slow and online_fast (level and spread that "
        "follow the stream as it is scored, slowly or quickly). Default: all three.",
    )
