"""Figures of the Jansson report: residual against depth per transform and filter family, the warp sweep,
the G-CNN. Residuals span 0 (exact alignment) to ~1, so the y axes are logarithmic with every value below
:data:`FLOOR` drawn at FLOOR (float64 round-off: "≈ 0")."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.ticker import NullFormatter

from eqlab.papers.jansson.tables import family_name, residuals, sweep
from eqlab.report.plots import legend_right, line_styles

FLOOR = 1e-16  # drawn in place of anything smaller (exact zeros included)
KIND_STYLE = {"aligned": dict(ls="-", marker="o"), "input": dict(ls="--", marker=None),
              "unaligned": dict(ls=":", marker=None)}  # fmt: skip
KIND_LABEL = {"aligned": "T_h⁻¹ Λ T_h f (aligned)", "input": "Λ T_h⁻¹ T_h f (input baseline)",
              "unaligned": "Λ T_h f (unaligned)"}  # fmt: skip


def _floor(v: pd.Series) -> pd.Series:
    return v.clip(lower=FLOOR)


def _log_axis(ax) -> None:
    ax.set_yscale("log")
    ax.yaxis.set_minor_formatter(NullFormatter())  # no crowded labels on the minor ticks
    if ax.get_ylim()[0] <= 10 * FLOOR:
        ax.axhline(FLOOR, color="0.6", lw=0.8)
    ax.grid(alpha=0.3, which="major")


def residual_by_depth(df: pd.DataFrame, title: str = ""):
    """One panel per transform T_h: residual (image mean) against depth, one colour per filter family;
    solid the aligned residual, dashed the input-alignment baseline, dotted the unaligned residual."""
    r = residuals(df)
    transforms = list(dict.fromkeys(r["transform"]))
    families = list(dict.fromkeys(r.family))
    colours = line_styles([family_name(f) for f in families])
    ncol = 4
    nrow = math.ceil(len(transforms) / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(15, 3.6 * nrow), squeeze=False)
    for ax, h in zip(axes.flat, transforms, strict=False):
        for fam in families:
            sub = r[(r["transform"] == h) & (r.family == fam)].sort_values("depth")
            for kind, style in KIND_STYLE.items():
                ax.plot(sub.depth, _floor(sub[kind]), color=colours[family_name(fam)]["color"], markersize=4, **style)
        _log_axis(ax)
        ax.set_title(f"T_h = {h}")
        ax.set_xticks(sorted(r.depth.unique()))
        ax.set_xlabel("depth i")
    for ax in axes[:, 0]:
        ax.set_ylabel("residual R (log)")
    for ax in axes.flat[len(transforms) :]:
        ax.axis("off")
    handles = [Line2D([], [], color=colours[family_name(f)]["color"], lw=2, label=family_name(f)) for f in families]
    handles += [Line2D([], [], color="black", label=KIND_LABEL[k], markersize=4, **st) for k, st in KIND_STYLE.items()]
    handles.append(Line2D([], [], color="0.6", lw=0.8, label=f"≤ {FLOOR:g} (≈ 0) drawn here"))
    axes[0, -1].legend(handles=handles, fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def warp_sweep(df: pd.DataFrame, title: str = ""):
    """One panel per swept transform: residual ``‖T_g Λ T_h f − Λ f‖ / ‖Λ f − Λ 0‖`` against the candidate's
    offset u from T_h⁻¹ (u = 0), at the first and the last depth (solid, dashed), one colour per family;
    dotted: each family's input-alignment baseline at the last depth."""
    sw = sweep(df)
    if sw.empty:
        return None
    transforms = list(dict.fromkeys(sw["transform"]))
    families = list(dict.fromkeys(sw.family))
    colours = line_styles([family_name(f) for f in families])
    depths = sorted(sw.depth.unique())
    first, last = depths[0], depths[-1]
    fig, axes = plt.subplots(1, len(transforms), figsize=(3.7 * len(transforms) + 2.5, 3.8), sharey=True,
                             squeeze=False)  # fmt: skip
    for ax, h in zip(axes[0], transforms, strict=True):
        for fam in families:
            c = colours[family_name(fam)]["color"]
            for d, ls in ((first, "-"), (last, "--")):
                sub = sw[(sw["transform"] == h) & (sw.family == fam) & (sw.depth == d)].sort_values("warp_offset")
                ax.plot(sub.warp_offset, _floor(sub.residual), color=c, ls=ls, marker="o", markersize=3,
                        label=f"{family_name(fam)}, depth {d}")  # fmt: skip
            base = sw[(sw["transform"] == h) & (sw.family == fam) & (sw.depth == last)].input.iloc[0]
            ax.axhline(
                max(base, FLOOR), color=c, ls=":", lw=1, label=f"{family_name(fam)}: input baseline, depth {last}"
            )
        ax.set_yscale("log")
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.grid(alpha=0.3)
        ax.axvline(0.0, color="black", lw=0.8)
        kind = "log2 of the scale relative to 1/s" if h.startswith("scale") else "shear relative to −s"
        ax.set_xlabel(f"candidate T_g: u ({kind})", fontsize=8)
        ax.set_title(f"T_h = {h}")
    axes[0, 0].set_ylabel("residual (log)")
    legend_right(axes[0, -1], fontsize=7)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def gcnn(df: pd.DataFrame, title: str = ""):
    """The C4 G-CNN under rot90: residual against depth, spatial warp only, with the permutation, none."""
    g = df[df.check == "gcnn"]
    fig, ax = plt.subplots(figsize=(7.5, 3.6))
    styles = {"aligned": dict(color="tab:red", marker="o", label="T_h⁻¹ only (spatial)"),
              "aligned+permutation": dict(color="tab:green", marker="s", label="ρ(h⁻¹) ∘ T_h⁻¹ (with permutation)"),
              "unaligned": dict(color="0.5", ls=":", label="no warp")}  # fmt: skip
    for kind, style in styles.items():
        sub = g[g.kind == kind].sort_values("depth")
        ax.plot(sub.depth, _floor(sub.residual), markersize=4, **style)
    _log_axis(ax)
    ax.set_xticks(sorted(g.depth.unique()))
    ax.set_xlabel("depth i")
    ax.set_ylabel("residual R (log)")
    ax.set_title(title or "C4 G-CNN (regular fields), T_h = rot90")
    legend_right(ax)
    fig.tight_layout()
    return fig
