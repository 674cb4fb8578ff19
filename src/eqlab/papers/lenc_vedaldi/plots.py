"""The Fig. 6 analogue: HOG map error against rotation angle, scale and neighbourhood size m."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import pandas as pd

from eqlab.papers.lenc_vedaldi.tables import labels_in_order, unconstrained, with_labels
from eqlab.report.plots import legend_right, line_styles


def _curves(ax, rows: pd.DataFrame, x: str, styles: dict[str, dict]) -> None:
    for label, sub in rows.groupby("label", sort=False):
        sub = sub.sort_values(x)
        ax.plot(sub[x], sub.hellinger_error, label=label, markersize=4, **styles[label])
    ax.grid(alpha=0.3)


def fig6(df: pd.DataFrame, title: str = ""):
    """Three panels as the paper's Fig. 6: mean test Hellinger error against the rotation angle (left)
    and log2 of the scale (centre) with no constraint on A_g, and against m at the sweep angle with
    structured sparsity (right); one line per method (M_g = 1, LS, RR, FS per k)."""
    full = unconstrained(df)
    styles = line_styles(labels_in_order(df))
    ident = full[full["transform"] == "identity"]
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.0), sharey=True)
    rot = full[full.angle.notna()]
    _curves(axes[0], rot, "angle", styles)
    axes[0].set_xlabel("rotation angle (degrees)")
    axes[0].set_xticks(sorted(rot.angle.unique()))
    axes[0].tick_params(axis="x", labelsize=8)
    sc = pd.concat([full[full.scale.notna()], ident.assign(scale=1.0)])
    sc = sc.assign(log2_scale=[math.log2(s) for s in sc.scale])
    _curves(axes[1], sc, "log2_scale", styles)
    axes[1].set_xlabel("log2 scale (0: identity)")
    sweep = with_labels(df[df.m.notna()])
    if len(sweep):
        sweep = sweep.assign(m=sweep.m.astype(int))
        _curves(axes[2], sweep, "m", styles)
        axes[2].set_xticks(sorted(sweep.m.unique()))
        axes[2].set_title(f"rot {sweep.angle.iloc[0]:g}°, structured sparsity")
    axes[2].set_xlabel("neighbourhood m (m × m input cells)")
    axes[0].set_title("rotations, no constraint")
    axes[1].set_title("scalings, no constraint")
    axes[0].set_ylabel("mean Hellinger error per cell (test)")
    legend_right(axes[2], source=axes[0])
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
