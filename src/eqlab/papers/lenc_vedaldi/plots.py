"""The Fig. 6 analogue: HOG map error against rotation angle, scale and neighbourhood size m."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import pandas as pd

from eqlab.papers.lenc_vedaldi.tables import (
    SOLVERS,
    labels_in_order,
    main_transforms,
    seed_means,
    solver_means,
    sweep_means,
    transform_name,
    unconstrained,
    with_labels,
)
from eqlab.report.plots import finish, legend_right, line_styles


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


CLASSIFY_STYLE = {
    "none": dict(color="tab:red", ls=":", marker="x", label="uncompensated ⟨w, φ(g⁻¹x)⟩"),
    "ls": dict(color="tab:orange", marker="s", label="⟨w, M_g φ(g⁻¹x)⟩, M_g by LS"),
    "rr": dict(color="tab:green", marker="^", label="⟨w, M_g φ(g⁻¹x)⟩, M_g by RR"),
    "fs": dict(color="tab:brown", marker="o", label="⟨w, M_g φ(g⁻¹x)⟩, M_g by FS"),
}


def fig7(df: pd.DataFrame, title: str = ""):
    """Two panels as the paper's Fig. 7: test accuracy of the HOG classifier against the rotation angle
    and log2 of the scale of g, uncompensated and through each learned map, with 95 % intervals
    (shaded) and the original accuracy on untransformed digits (dashed, its interval grey)."""
    original = df[df.method == "original"].iloc[0]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.0), sharey=True)
    rot = df[df.angle.notna() & (df.method != "original")]
    sc = df[df.scale.notna() | ((df["transform"] == "identity") & (df.method != "original"))]
    sc = sc.assign(log2_scale=[0.0 if pd.isna(s) else math.log2(s) for s in sc.scale])
    for ax, rows, x, xlabel in ((axes[0], rot, "angle", "rotation angle of g (degrees)"),
                                (axes[1], sc, "log2_scale", "log2 scale of g (0: identity)")):
        ax.axhspan(original.ci_low, original.ci_high, color="0.85", zorder=0)
        ax.axhline(original.accuracy, color="black", ls="--", label="original ⟨w, φ(x)⟩")
        for method, style in CLASSIFY_STYLE.items():
            sub = rows[rows.method == method].sort_values(x)
            ax.plot(sub[x], sub.accuracy, markersize=4, **style)
            ax.fill_between(sub[x], sub.ci_low, sub.ci_high, color=style["color"], alpha=0.12)
        ax.set_xlabel(xlabel)
        ax.grid(alpha=0.3)
    axes[0].set_xticks(sorted(rot.angle.unique()))
    axes[0].tick_params(axis="x", labelsize=8)
    axes[0].set_ylabel(f"test accuracy (n = {int(original.n_test)})")
    axes[0].set_title("rotations")
    axes[1].set_title("scalings")
    legend_right(axes[1])
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


CNN_STYLE = {
    "none": dict(color="tab:red", ls=":", marker="x", label="uncompensated"),
    "p_only": dict(color="tab:purple", ls="-.", marker="v", label="P_g only"),
    "ridge_m1": dict(color="tab:green", marker="^", label="M_g = F_g ∘ P_g, m = 1"),
    "ridge_m3": dict(color="tab:blue", marker="o", label="M_g = F_g ∘ P_g, m = 3"),
}


def fig9_11(maps: pd.DataFrame, label_set: str = "a", title: str = ""):
    """The Fig. 9–11 analogue: top-1 test error per layer (x) for each transform (panel), one line per
    method (mean over the runs of ``label_set``, shaded 95 % t-interval over runs), the original error
    dashed. FC taps have no P_g (their M_g is a dense F_g, drawn on the m = 1 line)."""
    s = seed_means(maps, label_set)
    layers = list(dict.fromkeys(s.layer))
    transforms = main_transforms(dict.fromkeys(s["transform"]))
    cols = 3
    rws = -(-len(transforms) // cols)
    fig, axes = plt.subplots(rws, cols, figsize=(15, 3.6 * rws), sharey=True, squeeze=False)
    for ax, g in zip(axes.flat, transforms, strict=False):
        sub = s[s["transform"] == g]
        o = sub[sub.method == "original"].iloc[0]
        ax.axhspan(o.low, o.high, color="0.88", zorder=0)
        ax.axhline(o["mean"], color="black", ls="--", label="original")
        for method, style in CNN_STYLE.items():
            line = sub[sub.method == method].set_index("layer").reindex(layers)
            x = range(len(layers))
            ax.plot(x, line["mean"], markersize=4, **style)
            ax.fill_between(x, line.low, line.high, color=style["color"], alpha=0.12)
        ax.set_xticks(range(len(layers)), layers, fontsize=8)
        ax.set_title(transform_name(g))
        ax.grid(alpha=0.3)
    for ax in axes.flat[len(transforms):]:
        ax.axis("off")
    for ax in axes[:, 0]:
        ax.set_ylabel("top-1 test error")
    legend_right(axes.flat[min(len(transforms), cols) - 1])
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


SOLVER_STYLE = {
    "none": dict(color="tab:red", ls=":", marker="x"),
    "ridge": dict(color="tab:blue", marker="o"),
    "ls": dict(color="tab:cyan", ls="--", marker="s"),
    "fs": dict(color="tab:olive", ls="-.", marker="D"),
    "reluopt": dict(color="tab:orange", marker="^"),
    "task": dict(color="tab:green", lw=2.2, marker="*"),
}


def fig9_solvers(maps: pd.DataFrame, label_set: str = "a", title: str = ""):
    """The Fig. 9 comparison of solvers and objectives: per transform (column), the top-1 test error (top
    row; mean over runs, shaded 95 % t-interval, original dashed) and the relative L2 residual before the
    ReLU (bottom row, log scale) per layer, one line per solver."""
    s = solver_means(maps, label_set)
    orig = seed_means(maps, label_set)
    orig = orig[orig.method == "original"].iloc[0]
    layers = list(dict.fromkeys(s.layer))
    transforms = list(dict.fromkeys(s["transform"]))
    fig, axes = plt.subplots(2, len(transforms), figsize=(6.5 * len(transforms), 7.2), sharex=True, sharey="row",
                             squeeze=False)
    x = range(len(layers))
    for j, g in enumerate(transforms):
        top, low = axes[0, j], axes[1, j]
        top.axhspan(orig.low, orig.high, color="0.88", zorder=0)
        top.axhline(orig["mean"], color="black", ls="--", label="original")
        for solver, style in SOLVER_STYLE.items():
            line = s[(s["transform"] == g) & (s.solver == solver)].set_index("layer").reindex(layers)
            top.plot(x, line["mean"], markersize=5, label=SOLVERS[solver], **style)
            top.fill_between(x, line.low, line.high, color=style["color"], alpha=0.07)
            if solver != "none":
                low.plot(x, line.residual_l2, markersize=5, label=SOLVERS[solver], **style)
        top.set_title(transform_name(g))
        low.set_yscale("log")
        low.set_xticks(list(x), layers, fontsize=8)
        for ax in (top, low):
            ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("top-1 test error")
    axes[1, 0].set_ylabel("relative L2 residual (before ReLU)")
    legend_right(axes[0, -1])
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def fig_rotation_sweep(maps: pd.DataFrame, label_set: str = "a", title: str = ""):
    """The 0–90° rotation sweep: top-1 test error of the compensated M_g against the angle (0° = the
    original error), one line per layer, mean over the runs of ``label_set`` (the intervals are in
    :func:`~eqlab.papers.lenc_vedaldi.tables.sweep_table`: as bands, seven of them hide the lines)."""
    s = sweep_means(maps, label_set)
    layers = list(dict.fromkeys(s.layer))  # in the net's tap order
    fig, ax = plt.subplots(figsize=(8.5, 4.2))
    colours = plt.get_cmap("viridis")
    for i, layer in enumerate(layers):
        line = s[s.layer == layer].sort_values("angle")
        colour = colours(0.85 * i / max(1, len(layers) - 1))  # the palette's last yellow is too pale
        ax.plot(line.angle, line["mean"], marker="o", markersize=4, color=colour, label=layer)
    angles = sorted(s.angle.unique())
    ax.set_xticks(angles, [f"{a:g}°" for a in angles])
    ax.set_xlabel("rotation of the input image")
    ax.set_ylabel("top-1 test error of ψ(M_g φ(g·x))")
    return finish(fig, ax, title)
