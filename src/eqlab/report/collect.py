"""One long-format results table from every run's train metrics and probe tables."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from eqlab.io import read_json
from eqlab.probes import ROW_COLUMNS

ROT45_ODD = "rot45_odd"  # the odd multiples of 45° (rot45, rot135, rot225, rot315), reported apart
RUN_COLUMNS = ("run", "arch", "dataset", "group", "augment", "beta", "seed", "het", "upsample", "width",
               "channels", "profile", "device")


def train_rows(metrics: dict) -> list[dict]:
    """Rows for one train metrics JSON: accuracy and the per-layer extent of equivariance, for the
    run's group (transform = the group, e.g. ``r4``) and for the odd 45° multiples (``rot45_odd``)."""
    base = dict(run=metrics["run"], model=metrics["arch"], dataset=metrics["dataset"], seed=metrics["seed"])
    rows = [dict(base, layer="", transform="", probe="train", metric=m, value=float(metrics[m]))
            for m in ("test_acc", "val_acc")]
    eq = metrics["equivariance"]
    parts = [(eq["group"], eq["layers"])]
    if "equivariance_45" in metrics:
        parts.append((ROT45_ODD, metrics["equivariance_45"]["layers"]))
    for transform, layers in parts:
        for layer, vals in layers.items():
            for kind, v in vals.items():
                rows.append(dict(base, layer=layer, transform=transform, probe="extent_of_equivariance",
                                 metric=kind, value=float(v)))
    return rows


def collect(train_metrics: Iterable[Path], probe_tables: Iterable[Path]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """→ (results: long table with ``ROW_COLUMNS``, runs: one row of metadata per run)."""
    rows: list[dict] = []
    runs: list[dict] = []
    for p in train_metrics:
        m = read_json(p)
        rows += train_rows(m)
        row = {k: m.get(k, "") for k in RUN_COLUMNS}
        row.update(upsample=int(m.get("upsample", 1)), width=float(m.get("width", float("nan"))),
                   channels=int(sum(m.get("channels", []))))  # inference channels over all taps
        runs.append(row)
    frames = [pd.DataFrame(rows, columns=list(ROW_COLUMNS))]
    frames += [pd.read_parquet(p) for p in probe_tables]
    results = pd.concat(frames, ignore_index=True)[list(ROW_COLUMNS)]
    results = results.sort_values(["run", "probe", "layer", "transform", "metric"], kind="stable")
    return results.reset_index(drop=True), pd.DataFrame(runs, columns=list(RUN_COLUMNS))
