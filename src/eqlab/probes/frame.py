"""Probe rows → the long results table, identified from the run's model ``config.json``."""

from __future__ import annotations

from typing import Any

import pandas as pd

from eqlab.probes import ID_COLUMNS, ROW_COLUMNS


def probe_frame(rows: list[dict], config: dict[str, Any]) -> pd.DataFrame:
    """Rows with ``layer, transform, probe, metric, value`` → ``ROW_COLUMNS``, the identifying columns
    read from the run's ``config.json`` (written by the train stage), never from params."""
    spec = config["spec"]
    ids = {"run": config["run"], **{c: spec[c] for c in ID_COLUMNS if c != "run"}}
    df = pd.DataFrame(rows, columns=[c for c in ROW_COLUMNS if c not in ids])
    for i, col in enumerate(ID_COLUMNS):
        df.insert(i, col, ids[col])
    return df[list(ROW_COLUMNS)]
