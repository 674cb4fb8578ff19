"""The `medium` β experiment (issue 12, item 5) from ``reports/medium/beta.json`` (``experiments/medium_beta.py``):
IEN R4 on Rot-MNIST at β = 0.1 and β = 1, three seeds each, at several widths and schedules. Is the small
profile's accuracy collapse at β = 1 a small-scale effect? Decided by Welch 95 % intervals over the seeds.
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from eqlab.report.claims import Claim, verdict_of
from eqlab.report.intervals import difference_interval, mean_interval

BETAS = (0.1, 1.0)


def load(path: str | Path) -> dict | None:
    """The experiment's record, or None when it has not been run (the file is absent)."""
    p = Path(path)
    return json.loads(p.read_text()) if p.exists() else None


def _acc(config: dict, beta: float) -> list[float]:
    return [100 * r["test_acc"] for r in config["runs"] if r["beta"] == beta]


def table(med: dict) -> pd.DataFrame:
    """One row per scale: width (× the small profile's), epochs, test accuracy % per β (mean [95 % t-interval
    over seeds]) and the gap β = 0.1 − β = 1 in points (Welch interval)."""
    rows = []
    for c in med["configs"]:
        row = {"width": f"{c['width']:g} (×{c['width'] / med['small_width']:g})", "epochs": c["epochs"]}
        for b in BETAS:
            iv = mean_interval(_acc(c, b))
            row[f"β = {b:g}, acc %"] = f"{iv.estimate:.1f} [{iv.low:.1f}, {iv.high:.1f}]"
        gap = difference_interval(_acc(c, 0.1), _acc(c, 1.0))
        row["gap (points)"] = f"{gap.estimate:+.1f} [{gap.low:+.1f}, {gap.high:+.1f}]"
        row["seeds"] = len(_acc(c, 1.0))
        rows.append(row)
    return pd.DataFrame(rows).set_index("width")


def claims(med: dict | None, paper_gap: float) -> list[Claim]:
    """M1: the collapse is a small-scale effect (the largest scale's gap lies wholly below the small scale's
    interval); M2: at the largest scale β = 1 still costs accuracy (its gap's interval above 0), beside the
    paper's ``paper_gap`` (β = 0.1 minus β = 1 in Table 5)."""
    t1 = "The β = 1 accuracy collapse is a small-scale effect (it shrinks with width and schedule)"
    t2 = "At the largest scale tried, β = 1 still costs accuracy against β = 0.1"
    if med is None or len(med["configs"]) < 2:
        why = "needs reports/medium/beta.json with ≥ 2 scales (python experiments/medium_beta.py)"
        return [Claim("M1", t1, verdict_of(None), why), Claim("M2", t2, verdict_of(None), why)]
    ordered = sorted(med["configs"], key=lambda c: (c["width"], c["epochs"]))
    small, large = ordered[0], ordered[-1]
    g_small = difference_interval(_acc(small, 0.1), _acc(small, 1.0))
    g_large = difference_interval(_acc(large, 0.1), _acc(large, 1.0))
    name = lambda c: f"width {c['width']:g}, {c['epochs']} epochs"  # noqa: E731
    ev1 = (f"gap {g_small.estimate:+.1f} [{g_small.low:+.1f}, {g_small.high:+.1f}] points at {name(small)}, "
           f"{g_large.estimate:+.1f} [{g_large.low:+.1f}, {g_large.high:+.1f}] at {name(large)} (Welch, 3 seeds a side)")
    v1 = True if g_large.high < g_small.low else False if g_large.low > g_small.high else None
    v2 = True if g_large.low > 0 else False if g_large.high < 0 else None
    ev2 = (f"gap {g_large.estimate:+.1f} [{g_large.low:+.1f}, {g_large.high:+.1f}] points at {name(large)}; the paper: "
           f"{paper_gap:+.1f} (full width, 90 epochs, ~12,000 digits; ours: {large['data']['train']:,} digits)")
    iv1 = (float(g_large.low), float(g_large.high))
    return [Claim("M1", t1, verdict_of(v1), ev1, interval=iv1, n=3), Claim("M2", t2, verdict_of(v2), ev2, interval=iv1, n=3)]


def plot(med: dict, title: str = ""):
    """Test accuracy against the scale tried, one line per β: the seeds' mean with their 95 % t-interval."""
    fig, ax = plt.subplots(figsize=(7, 3.6))
    labels = [f"w {c['width']:g}\n{c['epochs']} ep" for c in med["configs"]]
    for b, marker in zip(BETAS, ("o", "s")):
        ivs = [mean_interval(_acc(c, b)) for c in med["configs"]]
        mean = np.array([iv.estimate for iv in ivs])
        ax.errorbar(range(len(ivs)), mean, yerr=[mean - [iv.low for iv in ivs], [iv.high for iv in ivs] - mean],
                    marker=marker, capsize=3, label=f"IEN β = {b:g}")
    ax.set_xticks(range(len(labels)), labels)
    ax.set_ylabel("test accuracy %")
    ax.set_xlabel("width (the small profile: 0.125) and epochs")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig
