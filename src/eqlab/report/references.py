"""Published numbers as data: ``references/published.csv`` (one cell per row, with its source)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

COLUMNS = ("paper", "table", "row", "column", "value", "unit", "note", "source")


def load_published(path: str | Path, paper: str | None = None) -> pd.DataFrame:
    df = pd.read_csv(path, dtype={"table": str, "value": float})
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: missing columns {missing}; expected {list(COLUMNS)}")
    if df["source"].isna().any():
        raise ValueError(f"{path}: every published number needs a source (rows {list(df.index[df.source.isna()])})")
    return df[df.paper == paper].reset_index(drop=True) if paper else df
