"""One long results table from every run's probe tables, and one row of metadata per run."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from eqlab.io import read_json
from eqlab.probes import ROW_COLUMNS

RUN_COLUMNS = ("run", "family", "arch", "dataset", "group", "augment", "beta", "seed", "het", "upsample", "width",
               "channels", "profile", "device", "test_acc", "val_acc")


def run_row(card: dict, metrics: dict) -> dict:
    """One runs-table row from a run card (``reports/runs/<run>.json``) and its train metrics."""
    row = {k: card.get(k, "") for k in RUN_COLUMNS}
    row.update(upsample=int(card.get("upsample", 1)), width=float(card.get("width", float("nan"))),
               channels=int(sum(card.get("channels", []))),  # inference channels over all taps
               test_acc=float(metrics["test_acc"]), val_acc=float(metrics["val_acc"]))
    return row


def collect(runs: Iterable[tuple[Path, Path]], probe_tables: Iterable[Path]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``runs``: (card, train metrics) per run → (results: long table with ``ROW_COLUMNS``, runs table)."""
    run_rows = [run_row(read_json(card), read_json(metrics)) for card, metrics in runs]
    frames = [pd.DataFrame(columns=list(ROW_COLUMNS))] + [pd.read_parquet(p) for p in probe_tables]
    results = pd.concat([f for f in frames if len(f)] or frames[:1], ignore_index=True)[list(ROW_COLUMNS)]
    results = results.sort_values(["run", "probe", "layer", "transform", "metric"], kind="stable")
    return results.reset_index(drop=True), pd.DataFrame(run_rows, columns=list(RUN_COLUMNS))


def stale_outputs(folder: Path, expected: Iterable[str], suffix: str = "") -> list[Path]:
    """Entries of ``folder`` that no current stage writes (a run removed from params leaves its
    outputs behind, and DVC would hash them into ``dvc.lock`` through the folder dependency)."""
    if not folder.is_dir():
        return []
    keep = {f"{e}{suffix}" for e in expected}
    return sorted(p for p in folder.iterdir() if p.name not in keep and not p.name.startswith("."))
