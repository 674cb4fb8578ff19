"""The hierarchical-attribute-CNN section of the Jacobsen report (thesis ch. 5, Tables 7–8): table, claims,
figure and the computed departure note, from ``probe_hcnn``'s table (:mod:`eqlab.probes.hcnn_digits`).

Claims: H1 the HCNN is comparable in accuracy to a vanilla CNN with about 10× its parameters (Table 7: HCNN
0.098M 91.43 % against All-CNN 1.3M 92.75 %, −1.3 points); H2 accuracy rises with Q (the thesis: Q 9 → 16 →
32 gave +4.2 % and +1.1 % relative). Both are seed-paired differences decided by their 95 % t-interval.
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from eqlab.report.claims import OPEN, Claim, interval_claim
from eqlab.report.intervals import mean_interval, paired

MARGIN = 2.0  # "comparable": the HCNN loses at most 2 points (the thesis's gap is 1.3)
PUBLISHED_PAIR = ("HCNN (0.098M)", "All-CNN (1.3M)")  # Table 7 rows our HCNN(q) and largest CNN stand beside


def _acc(df: pd.DataFrame, model: str, q: int = 0, ratio: float = 0.0) -> pd.Series:
    r = df[(df.model == model) & (df.q == q) & (np.isclose(df.ratio, ratio))]
    return 100 * r.set_index("seed").test_acc


def main_q(df: pd.DataFrame) -> int:
    """The Q the CNNs were sized against: the HCNN whose parameter count the 1× CNN is closest to."""
    h = df[df.model == "hcnn"].groupby("q").n_params.first()
    cnn = df[df.model == "cnn"]
    if cnn.empty:
        return int(h.index.max())
    smallest = cnn[cnn.ratio == cnn.ratio.min()]
    target = float(smallest.n_params.iloc[0]) / float(smallest.ratio.iloc[0])
    return int((h - target).abs().idxmin())


def table(df: pd.DataFrame, published: pd.DataFrame) -> pd.DataFrame:
    """Ours per network (seed-mean accuracy, 95 % interval) beside the Table 7 rows they stand for."""
    pub = published[published.table == "7"].set_index("row").value
    q0, top = main_q(df), df[df.model == "cnn"].ratio.max()
    rows = []
    for (model, q, ratio), g in df.groupby(["model", "q", "ratio"], sort=False):
        iv = mean_interval(100 * g.test_acc.to_numpy())
        m, lo, hi, n = iv.estimate, iv.low, iv.high, iv.n
        name = f"HCNN, Q = {q}" if model == "hcnn" else f"vanilla CNN, {ratio:g}× the HCNN's parameters"
        stands = PUBLISHED_PAIR[0] if model == "hcnn" and q == q0 else PUBLISHED_PAIR[1] if model == "cnn" and ratio == top else None
        rows.append({"network": name, "params": int(g.n_params.iloc[0]), "ours: acc (%)": m,
                     "95 % interval": "—" if math.isnan(lo) else f"[{lo:.1f}, {hi:.1f}]", "seeds": n,
                     "published row (CIFAR-10)": stands or "—",
                     "published acc (%)": float(pub[stands]) if stands in pub.index else math.nan})  # fmt: skip
    return pd.DataFrame(rows).set_index("network")


def _claim(cid: str, text: str, d: np.ndarray, what: str, bound: float) -> Claim:
    """``d`` (points per seed) > ``bound``, decided by its 95 % t-interval."""
    return interval_claim(cid, text, d, what, above=bound, unit=" points", digits=1)


def claims(df: pd.DataFrame) -> list[Claim]:
    out = []
    q0 = main_q(df)
    cnn = df[df.model == "cnn"]
    text = f"The HCNN is comparable (within {MARGIN:g} points) to a vanilla CNN with about 10× its parameters (Table 7)"
    if cnn.empty:
        out.append(Claim("H1", text, OPEN, "no vanilla CNN rows"))
    else:
        top = float(cnn.ratio.max())
        p_h = int(df[(df.model == "hcnn") & (df.q == q0)].n_params.iloc[0])
        p_c = int(cnn[cnn.ratio == top].n_params.iloc[0])
        out.append(_claim("H1", text, paired(_acc(df, "hcnn", q0), _acc(df, "cnn", 0, top)),
                          f"HCNN (Q = {q0}, {p_h:,} params) − CNN ({p_c:,} params, {p_c / p_h:.1f}×)", -MARGIN))  # fmt: skip
    qs = sorted(df[df.model == "hcnn"].q.unique())
    text = "Accuracy rises with Q, the number of separable filters per layer (eq. 37)"
    if len(qs) < 2:
        out.append(Claim("H2", text, OPEN, "needs ≥ 2 values of Q"))
    else:
        out.append(_claim("H2", text, paired(_acc(df, "hcnn", qs[-1]), _acc(df, "hcnn", qs[0])),
                          f"Q = {qs[-1]} − Q = {qs[0]}", 0.0))  # fmt: skip
    return out


def fig_q(df: pd.DataFrame):
    """Test accuracy against Q (seed means and single seeds) with the vanilla CNNs as bands (mean ± 95 %)."""
    h = df[df.model == "hcnn"]
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    m = h.groupby("q").test_acc.mean()
    ax.plot(m.index, 100 * m.values, marker="o", color="C0", label="HCNN")
    ax.scatter(h.q, 100 * h.test_acc, color="C0", alpha=0.35, s=12)
    for i, (ratio, g) in enumerate(df[df.model == "cnn"].groupby("ratio")):
        iv = mean_interval(100 * g.test_acc.to_numpy())
        color = f"C{i + 2}"
        ax.axhline(iv.estimate, color=color, label=f"vanilla CNN, {ratio:g}× params ({int(g.n_params.iloc[0]):,})")
        if iv.bounds:
            ax.axhspan(*iv.bounds, color=color, alpha=0.15)
    ax.set(xscale="log", xlabel="Q (separable filters per layer)", ylabel="test accuracy (%)",
           title=f"HCNN on {int(df.n_train.iloc[0]):,} digits: accuracy versus Q")  # fmt: skip
    ax.set_xticks(list(m.index), [str(q) for q in m.index])
    ax.minorticks_off()
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def departure(df: pd.DataFrame) -> str:
    """Markdown, computed: how far ours departs from Table 7's gap, with the same-size control beside it."""
    q0 = main_q(df)
    cnn = df[df.model == "cnn"]
    if cnn.empty:
        return ""
    gaps = []
    for ratio in sorted(cnn.ratio.unique()):
        iv = mean_interval(paired(_acc(df, "hcnn", q0), _acc(df, "cnn", 0, ratio)))
        m, lo, hi = iv.estimate, iv.low, iv.high
        gaps.append(f"{m:+.1f} [{lo:+.1f}, {hi:+.1f}] points against the CNN with {ratio:g}× its parameters")
    steps = int(df.steps.iloc[0])
    return (f"HCNN (Q = {q0}) − vanilla CNN: " + "; ".join(gaps) + ". The thesis reports −1.3 points against a CNN "
            f"with 13× the parameters on CIFAR-10 after 240 epochs of SGD with weight decay and augmentation; ours "
            f"trains every net for {steps} Adam steps on {int(df.n_train.iloc[0]):,} digits with one untuned learning "
            "rate and no augmentation (the paper profile trains longer on more digits; whether the gap closes with "
            "the thesis's schedule is not tested here). Where the interval lies below "
            f"−{MARGIN:g}, H1 does not hold at this scale; the 1× row says whether the attribute structure beats a "
            "plain net of the same size.")  # fmt: skip
