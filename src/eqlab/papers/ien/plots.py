"""IEN's own figure: the trade-off of accuracy against equivariance over β (Rot-MNIST)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from eqlab.papers.ien.tables import LAYERS


def accuracy_vs_equivariance(ours_rel: pd.DataFrame):
    """Test accuracy against the mean relative equivariance error over layers, one point per run of
    ``tables.ours_table5(..., "rel")``; the IEN runs joined in order of β."""
    layers = [c for c in LAYERS if c in ours_rel.columns]
    fig, ax = plt.subplots(figsize=(6, 4))
    for _, row in ours_rel.iterrows():
        x = float(row[layers].astype(float).mean())
        ax.scatter(x, row["acc"], s=40)
        ax.annotate(f"{row['row']}", (x, row["acc"]), textcoords="offset points", xytext=(5, 3), fontsize=8)
    ien = ours_rel[ours_rel.kind == "IEN"].sort_values("beta")
    if len(ien) > 1:
        ax.plot(ien[layers].astype(float).mean(axis=1), ien["acc"], color="tab:green", alpha=0.5, label="IEN over β")
        ax.legend()
    ax.set_xscale("log")
    ax.set_xlabel("mean relative equivariance error over layers")
    ax.set_ylabel("test accuracy %")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig
