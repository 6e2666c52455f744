"""Recordings sent as files to a trained model (predict, explain), read into its input records.

Each file is read as an upload's recording is (:func:`~shopfloor.data.waveforms.read_recording`:
the same formats, the same decoded-size guard, the same checks of channels, length, finite values
and rate) and becomes one record: ``{channel: float32 samples, "sampling_rate": Hz, "rpm": rpm}``
under the model's channel names.

The channels read are the request's ``channels`` when it names them (read in the model's channel
order), else the model's own names, matched exactly or by their ending as at upload (``FE_time``
picks ``X099_FE_time``); a file of one channel serves a model of one channel whatever the names.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from shopfloor.data.waveforms import FIXED, SignalOptions, read_recording, recording_row
from shopfloor.errors import InvalidDataset


def part_record(
    data: bytes, filename: str, options: SignalOptions, model_channels: list[str]
) -> dict[str, Any]:
    """The predict record of one recording file for a model reading ``model_channels``.

    Raises:
        InvalidDataset: naming ``filename``: not a recording, too large once decoded, unreadable,
            a channel missing or ambiguous, too short or too long, non-finite values, no rate
            (from the file or ``options.sampling_rate``), or not as many channels as the model reads.
    """
    recording = read_recording(data, filename)
    if not options.channels:
        single = len(model_channels) == 1 and len(recording.channels) == 1
        options = replace(options, channels=None if single else tuple(model_channels))
    row = recording_row(recording, filename, options, {})
    found = [key for key in row if key not in FIXED]
    if len(found) != len(model_channels):
        msg = (
            f"{len(found)} channel(s) chosen ({', '.join(found)}); the model reads "
            f"{len(model_channels)} ({', '.join(model_channels)})"
        )
        raise InvalidDataset(
            f"{filename}: {msg}", errors=[{"loc": ["file", "members", filename], "msg": msg}]
        )
    rpm = row["rpm"]
    return {
        **{mine: row[theirs] for mine, theirs in zip(model_channels, found, strict=True)},
        "sampling_rate": row["sampling_rate"],
        "rpm": None if np.isnan(rpm) else rpm,
    }
