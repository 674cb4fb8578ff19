"""IEN's own figure: the trade-off of accuracy against equivariance over β (Rot-MNIST)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from eqlab.papers.ien.tables import KINDS, LAYERS
from eqlab.report.plots import legend_right, line_styles

EXACT = 1e-6  # a mean relative error below this is float noise of an exactly equivariant model


def _draw(ax, x: pd.Series, ours_rel: pd.DataFrame, styles: dict[str, dict]) -> None:
    ien = ours_rel[ours_rel.kind == "IEN"].sort_values("beta")
    if len(ien) > 1:
        ax.plot(x[ien.index], ien["acc"], color="0.55", ls="--", lw=1.5, label="IEN over β", zorder=1)
    for model, st in styles.items():
        sel = ours_rel["row"] == model
        if sel.any():
            ax.scatter(
                x[sel],
                ours_rel.loc[sel, "acc"],
                s=55,
                color=st["color"],
                marker=st["marker"],
                edgecolors="black",
                linewidths=0.5,
                label=model,
                zorder=3,
            )
    ax.set_xscale("log")
    ax.set_xlabel("mean relative equivariance error over layers")
    ax.grid(alpha=0.3, which="both")


def accuracy_vs_equivariance(ours_rel: pd.DataFrame):
    """Test accuracy against the mean relative equivariance error over layers, one point per run of
    ``tables.ours_table5(..., "rel")``; the IEN runs joined in order of β.

    Points are told apart by colour and marker, one per model (its Table 5 label; the seeds of a model
    share it), named in a key beside the axes: no label is drawn in the data, so none can overlap. When
    exactly equivariant models (error < ``EXACT``) stretch the axis over many decades, a second panel
    shows the others alone, so that neighbouring models do not hide each other."""
    layers = [c for c in LAYERS if c in ours_rel.columns]
    x = ours_rel[layers].astype(float).mean(axis=1)
    order = ours_rel.assign(_k=ours_rel["kind"].map(KINDS.index)).sort_values(["_k", "beta"], kind="stable")
    styles = line_styles(list(dict.fromkeys(order["row"])))
    approx = x >= EXACT
    zoom = bool(approx.sum() >= 2 and (~approx).any())
    fig, axes = plt.subplots(1, 2 if zoom else 1, figsize=(11, 4) if zoom else (7.5, 4), squeeze=False)
    _draw(axes[0][0], x, ours_rel, styles)
    axes[0][0].set_ylabel("test accuracy %")
    if zoom:
        axes[0][0].set_title("all runs")
        _draw(axes[0][1], x[approx], ours_rel[approx], styles)
        axes[0][1].set_title("zoom: the runs that are not exactly equivariant")
        lo, hi = np.log10(x[approx].min()), np.log10(x[approx].max())
        axes[0][1].set_xlim(10 ** (lo - 0.15 * max(hi - lo, 0.5)), 10 ** (hi + 0.15 * max(hi - lo, 0.5)))
    legend_right(axes[0][-1], source=axes[0][0])
    fig.tight_layout()
    return fig
