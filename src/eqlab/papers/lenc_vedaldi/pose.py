"""Lenc & Vedaldi's Table 4 (structured-output pose regression) from the table of ``stages/probe_lv_pose.py``:
ours in the paper's rows and columns, a figure of the errors, and the two claims of its Sec. 5.4, decided by
95 % t-intervals over the ANet-analogue seeds.

Columns map as: ``Bsln`` the upright guess (θ̂ = 0), ``HOG g`` / ``HOG Mg`` the direct / equivariant scorer
on HOG, ``C3 g`` … ``C5 Mg`` on the taps conv3 … conv5. Rows: ``Rot (°)`` the mostly upright variant,
``Rot⟳ (°)`` the one with uniform rotations. The paper's ``Time/TF`` and ``Speedup`` are wall-clock; ours are
counted multiply-adds per candidate transformation (hashed outputs carry no time), in rows of their own.
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from eqlab.papers.lenc_vedaldi.tables import t_interval
from eqlab.report.claims import Claim, interval_claim, verdict_of
from eqlab.report.plots import legend_right
from eqlab.report.references import side_by_side

ROWS = {"rot": "Rot (°)", "rot360": "Rot⟳ (°)"}
TIMED = ("Time/TF (ms)", "Speedup")  # the paper's wall-clock rows: ours are counted (cost_table)
LAYERS = {"hog": "HOG", "conv3": "C3", "conv4": "C4", "conv5": "C5"}
SUFFIX = {"direct": "g", "equivariant": "Mg"}
NEARLY = 5.0  # "as good or nearly as good": the equivariant scorer errs at most 5° more (the paper's gaps: ≤ 4.5°)


def column(layer: str, method: str) -> str:
    """Table 4's column of a (layer, scorer) row: ``Bsln``, ``HOG g``, ``C3 Mg``, …"""
    return "Bsln" if method == "baseline" else f"{LAYERS.get(layer, layer)} {SUFFIX[method]}"


def table4_ours(pose: pd.DataFrame) -> pd.DataFrame:
    """Long rows (table, row, column, value, n, ci) in Table 4's cells: mean test error in degrees over the
    runs (nets; HOG and the baseline are one run each), ``ci`` the half-width of the 95 % t-interval over
    seeds where there are ≥ 2."""
    rows = []
    for (variant, layer, method), g in pose.groupby(["variant", "layer", "method"], sort=False):
        if method == "baseline":
            g = g.iloc[:1]
        mean, lo, _ = t_interval(g.mean_error)
        rows.append(
            dict(
                table="4",
                row=ROWS[variant],
                column=column(layer, method),
                value=mean,
                n=len(g),
                ci=mean - lo if not math.isnan(lo) else math.nan,
            )
        )
    return pd.DataFrame(rows)


def table4(published: pd.DataFrame, pose: pd.DataFrame, profile: str) -> pd.DataFrame:
    """Table 4 transposed (a row per representation and scorer, paper | ours per measure), so that it fits a
    page; the published measures we have no analogue of (``Aff``) are left to :func:`unmatched`."""
    flip = {"row": "column", "column": "row"}
    pub = published[(published.table == "4") & published.row.isin([*ROWS.values(), *TIMED])].rename(columns=flip)
    return side_by_side(pub, table4_ours(pose).rename(columns=flip), "4", profile)


def unmatched(published: pd.DataFrame) -> str:
    """The published Table 4 rows with no analogue here, as a sentence."""
    t = published[(published.table == "4") & ~published.row.isin([*ROWS.values(), *TIMED])]
    return "; ".join(
        f"{r}: " + ", ".join(f"{c} {v:g}" for c, v in zip(g.column, g.value)) for r, g in t.groupby("row", sort=False)
    )


def cost_table(pose: pd.DataFrame) -> pd.DataFrame:
    """Ours: multiply-adds per candidate transformation (millions) of g and Mg per conv layer, and Mg's
    speed-up (g's count / Mg's): counts, identical for every seed."""
    cost = pose.dropna(subset=["macs_per_candidate"]).groupby(["layer", "method"], sort=False).macs_per_candidate.mean()
    out = {}
    for layer in dict.fromkeys(cost.index.get_level_values(0)):
        g, mg = cost[(layer, "direct")], cost[(layer, "equivariant")]
        out[LAYERS.get(layer, layer)] = {
            "g: M multiply-adds / TF": g / 1e6,
            "Mg: M multiply-adds / TF": mg / 1e6,
            "speed-up of Mg": g / mg,
        }
    return pd.DataFrame(out).T.rename_axis("layer")


def per_seed_gap(pose: pd.DataFrame, variant: str) -> pd.Series:
    """Per net: mean over its conv layers of (equivariant − direct) test error, in degrees."""
    nets = pose[(pose.variant == variant) & (pose.feature != "hog") & (pose.method != "baseline")]
    wide = nets.pivot_table(index=["feature", "layer"], columns="method", values="mean_error")
    return (wide.equivariant - wide.direct).groupby(level="feature").mean()


def claims(pose: pd.DataFrame | None) -> list[Claim]:
    """T4a (per variant): the equivariant scorer is as good or nearly as good as the direct one (its extra
    error's interval over seeds below ``NEARLY`` degrees); T4b: it costs fewer multiply-adds per transform."""
    text_a = (
        "Equivariant pose regression ⟨M_gᵀw, φ(x)⟩ is as good or nearly as good as direct ⟨w, φ(gx)⟩ "
        f"(error at most {NEARLY:g}° above direct, mean over C3–C5) — {{}} (Table 4)"
    )
    text_b = "Equivariant regression is faster than direct regression (Table 4: up to 22 times)"
    if pose is None or pose.empty:
        return [Claim(f"T4a-{v}", text_a.format(ROWS[v]), verdict_of(None), "needs the pose table") for v in ROWS] + [
            Claim("T4b", text_b, verdict_of(None), "needs the pose table")
        ]
    out = []
    for v in ROWS:
        gap = per_seed_gap(pose, v)
        c = interval_claim(
            f"T4a-{v}",
            text_a.format(ROWS[v]),
            gap.values,
            "equivariant − direct error",
            below=NEARLY,
            unit="°",
            digits=1,
            runs="ANet-analogue seeds",
        )
        hog = pose[(pose.variant == v) & (pose.feature == "hog")].set_index("method").mean_error
        extra = (
            f"; HOG (one run): {hog.get('equivariant', math.nan) - hog.get('direct', math.nan):+.1f}°"
            if len(hog)
            else ""
        )
        out.append(Claim(c.id, c.text, c.verdict, c.evidence + extra, interval=c.interval, n=c.n))
    speed = cost_table(pose)["speed-up of Mg"] if pose.macs_per_candidate.notna().any() else pd.Series(dtype=float)
    ev = (
        "counted multiply-adds per candidate (no variance: a count, not a timing): "
        + ", ".join(f"{k} ×{s:.1f}" for k, s in speed.items())
        + "; wall-clock: bench/pose.py"
    )
    out.append(Claim("T4b", text_b, verdict_of(bool(speed.min() > 1) if len(speed) else None), ev))
    return out


def fig_errors(pose: pd.DataFrame, title: str = ""):
    """Mean test error per representation, direct (g) beside equivariant (Mg), one panel per variant, the
    seeds' 95 % t-interval as error bars (HOG: one run) and the upright baseline as a line."""
    fig, axes = plt.subplots(1, len(ROWS), figsize=(11, 3.6), sharey=False)
    for ax, (v, label) in zip(np.atleast_1d(axes), ROWS.items()):
        sub = pose[pose.variant == v]
        layers = [k for k in LAYERS if k in set(sub.layer)]
        for i, method in enumerate(("direct", "equivariant")):
            stats = [t_interval(sub[(sub.layer == k) & (sub.method == method)].mean_error) for k in layers]
            mean = np.array([s[0] for s in stats])
            err = np.array([0.0 if math.isnan(s[1]) else s[0] - s[1] for s in stats])
            ax.bar(
                np.arange(len(layers)) + (i - 0.5) * 0.38,
                mean,
                0.38,
                yerr=err,
                capsize=3,
                label=f"{SUFFIX[method]}: {method}",
            )
        base = sub[sub.method == "baseline"].mean_error
        if len(base):
            ax.axhline(float(base.iloc[0]), color="grey", ls="--", lw=1, label="upright guess (Bsln)")
        ax.set_xticks(range(len(layers)), [LAYERS[k] for k in layers])
        ax.set_ylabel("mean test error (°)")
        ax.set_title(label, fontsize=10)
        ax.grid(alpha=0.3, axis="y")
    legend_right(np.atleast_1d(axes)[-1])
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
