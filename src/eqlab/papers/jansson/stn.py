"""The extension section of the Jansson report (issue 14, item 2; not an experiment of the paper): rotated and scaled
digits with an oracle alignment or a learned spatial transformer at depth 0, 1, 2, from ``probe_stn``'s table
(:mod:`eqlab.probes.stn_digits`).

Claims, numbered X (extension), each a seed-paired difference decided by its 95 % t-interval:
X1 the oracle alignment at the input recovers the upright accuracy (within 2 points); X2-d aligning feature maps
at depth d > 0, even with the exact inverse warp, stays below aligning the input (the paper's theorem, as
accuracy); X3-d a learned spatial transformer at depth d beats no alignment; X4 the learned transformer does
better at the input than at the deepest depth.
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from eqlab.report.claims import Claim, interval_claim
from eqlab.report.intervals import mean_interval, paired

MARGIN = 2.0  # points: "recovers the upright accuracy"
NAMES = {"upright": "upright digits (ceiling)", "none": "no alignment", "oracle": "oracle inverse warp",
         "stn": "learned spatial transformer"}  # fmt: skip


def _acc(df: pd.DataFrame, variant: str, depth: int = -1) -> pd.Series:
    r = df[(df.variant == variant) & (df.depth == depth)]
    return 100 * r.set_index("seed").test_acc


def table(df: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for (variant, depth), g in df.groupby(["variant", "depth"], sort=False):
        iv = mean_interval(100 * g.test_acc.to_numpy())
        rows.append({"network": NAMES.get(variant, variant), "depth": "—" if depth < 0 else int(depth),
                     "params": int(g.n_params.iloc[0]), "test acc (%)": iv.estimate,
                     "95 % interval": "—" if math.isnan(iv.low) else f"[{iv.low:.1f}, {iv.high:.1f}]", "seeds": iv.n})  # fmt: skip
    return pd.DataFrame(rows).set_index(["network", "depth"])


def _claim(cid: str, text: str, d: np.ndarray, what: str, bound: float) -> Claim:
    """``d`` (points, per seed) > ``bound``, decided by its 95 % t-interval."""
    return interval_claim(cid, text, d, what, above=bound, unit=" points", digits=1)


def claims(df: pd.DataFrame) -> list[Claim]:
    depths = sorted(int(d) for d in df[df.variant == "oracle"].depth.unique())
    out = []
    if 0 in depths:
        out.append(_claim("X1", f"Extension: the oracle alignment at the input recovers the upright accuracy (within "
                                f"{MARGIN:g} points)", paired(_acc(df, "oracle", 0), _acc(df, "upright")),
                          "oracle at depth 0 − upright", -MARGIN))  # fmt: skip
        for d in (d for d in depths if d > 0):
            out.append(_claim(f"X2-{d}", f"Extension: even the exact inverse warp of the feature maps at depth {d} stays "
                                         "below aligning the input (the theorem, as accuracy)",
                              paired(_acc(df, "oracle", 0), _acc(df, "oracle", d)), f"oracle at 0 − oracle at {d}", 0.0))
    for d in sorted(int(d) for d in df[df.variant == "stn"].depth.unique()):
        out.append(_claim(f"X3-{d}", f"Extension: a learned spatial transformer at depth {d} beats no alignment",
                          paired(_acc(df, "stn", d), _acc(df, "none")), f"STN at {d} − none", 0.0))  # fmt: skip
    stn = sorted(int(d) for d in df[df.variant == "stn"].depth.unique())
    if len(stn) >= 2 and stn[0] == 0:
        out.append(_claim("X4", f"Extension: the learned transformer does better at the input than at depth {stn[-1]}",
                          paired(_acc(df, "stn", 0), _acc(df, "stn", stn[-1])), f"STN at 0 − STN at {stn[-1]}", 0.0))
    return out


def fig_depth(df: pd.DataFrame):
    """Test accuracy against alignment depth: oracle and STN (seed means, single seeds as dots), with the
    upright ceiling and the unaligned floor as bands (mean ± 95 % interval)."""
    fig, ax = plt.subplots(figsize=(5.8, 3.6))
    for variant, color, marker in (("oracle", "C0", "o"), ("stn", "C1", "s")):
        r = df[df.variant == variant]
        m = r.groupby("depth").test_acc.mean()
        ax.plot(m.index, 100 * m.values, marker=marker, color=color, label=NAMES[variant])
        ax.scatter(r.depth, 100 * r.test_acc, color=color, alpha=0.35, s=12)
    for variant, color in (("upright", "C2"), ("none", "C3")):
        iv = mean_interval(_acc(df, variant).to_numpy())
        ax.axhline(iv.estimate, color=color, ls="--", label=NAMES[variant])
        if iv.bounds:
            ax.axhspan(*iv.bounds, color=color, alpha=0.12)
    depths = sorted(int(d) for d in df[df.depth >= 0].depth.unique())
    ax.set_xticks(depths, [("input" if d == 0 else f"after block {d}") for d in depths])
    ax.set(xlabel="where the alignment acts", ylabel="test accuracy (%)", title="Rotated and scaled digits")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
