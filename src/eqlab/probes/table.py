"""A probe stage's table: one output folder holding ``results.parquet`` and ``results.csv`` (the same
rows; the CSV for reading and diffing, floats to 6 significant digits), written atomically."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from eqlab.io import atomic_path


def write_results(out: str | Path, df: pd.DataFrame) -> None:
    """Write ``df`` to ``out/results.parquet`` and ``out/results.csv``; ``out`` appears whole or not at all."""
    with atomic_path(Path(out)) as tmp:
        tmp.mkdir()
        df.to_parquet(tmp / "results.parquet", index=False)
        df.to_csv(tmp / "results.csv", index=False, float_format="%.6g")
