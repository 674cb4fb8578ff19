"""Selectors over the collected tables in ``reports/tables``, shared by every paper's report.

``results.parquet``: ``run, family, arch, dataset, seed, layer, transform, probe, metric, value``
(``family``: ``cnn`` or ``e2cnn``, the exactly equivariant twin). ``runs.parquet``: one row of metadata
per run, with ``test_acc`` and ``val_acc`` as fractions.
"""

from __future__ import annotations

import pandas as pd

from eqlab.probes import ROT45_ODD

EXTENT = "extent_of_equivariance"


def extent(results: pd.DataFrame, metric: str | None = None, odd45: bool = False) -> pd.DataFrame:
    """Extent-of-equivariance rows (``metric``: ``abs``, ``rel`` or both) over each run's own group, or
    (``odd45``) over the odd multiples of 45° that are reported apart."""
    rows = results[results.probe == EXTENT]
    if metric is not None:
        rows = rows[rows.metric == metric]
    return rows[(rows["transform"] == ROT45_ODD) == odd45]


def accuracy_pct(runs: pd.DataFrame, split: str = "test") -> pd.Series:
    """Accuracy (%) per run on ``split`` (``test`` or ``val``), indexed by run."""
    return runs.set_index("run")[f"{split}_acc"] * 100


MODEL_KEYS = ("family", "arch", "dataset", "group", "augment", "beta", "het", "upsample", "width")


def seed_groups(runs: pd.DataFrame) -> dict[str, list[str]]:
    """Runs that differ only in their seed are one model: {label: its runs}, labelled by the ID of its run
    with the smallest seed, in the order the models first appear in ``runs``."""
    keys = [k for k in MODEL_KEYS if k in runs.columns]
    if not keys:
        return {r: [r] for r in runs.run}
    out: dict[str, list[str]] = {}
    order = runs.assign(_key=runs[keys].astype(str).agg("|".join, axis=1))
    for _, g in order.groupby("_key", sort=False):
        g = g.sort_values("seed", kind="stable") if "seed" in g else g
        out[g.run.iloc[0]] = list(g.run)
    return out
