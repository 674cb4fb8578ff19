"""Compare a reproduction's collected tables with a reference (e.g. the committed ones).

Floating-point results are not bit-exact across CPUs (a fresh clone on another machine moved
single-run accuracies by up to 3 points), so a reproduction is judged by what matters: every
accuracy within ``acc_points`` points, every equivariance figure within ``orders`` orders of magnitude
(values below ``floor`` — float noise of exact models — count as equal), and every claim verdict
unchanged (the claims are compared by the caller, which knows the papers).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

KEY = ["run", "probe", "layer", "transform", "metric"]


def compare_accuracy(ref: pd.DataFrame, new: pd.DataFrame, acc_points: float = 3.0) -> pd.DataFrame:
    """Per run: reference and reproduced test accuracy (%), the difference and whether it is within
    ``acc_points``. Runs present on one side only are reported as missing."""
    a = ref.set_index("run").test_acc * 100
    b = new.set_index("run").test_acc * 100
    out = pd.DataFrame({"reference %": a, "reproduced %": b})
    out["difference"] = out["reproduced %"] - out["reference %"]
    out["ok"] = out["difference"].abs() <= acc_points
    return out.sort_index()


def compare_measurements(ref: pd.DataFrame, new: pd.DataFrame, orders: float = 1.0,
                         floor: float = 1e-8) -> pd.DataFrame:
    """Per probe and metric: how many values were compared, the largest |log10(new/ref)| and how many
    are further apart than ``orders`` orders of magnitude (both below ``floor``: equal; rows on one
    side only: missing)."""
    merged = ref[KEY + ["value"]].merge(new[KEY + ["value"]], on=KEY, how="outer", suffixes=("_ref", "_new"),
                                        indicator=True)
    rows = []
    for (probe, metric), g in merged.groupby(["probe", "metric"], sort=True):
        both = g[g["_merge"] == "both"]
        x, y = both.value_ref.to_numpy(float), both.value_new.to_numpy(float)
        tiny = (np.abs(x) < floor) & (np.abs(y) < floor)
        with np.errstate(divide="ignore", invalid="ignore"):
            dev = np.where(tiny, 0.0, np.abs(np.log10(np.abs(y) / np.abs(x))))
        dev = np.where(np.isfinite(dev), dev, np.where(x == y, 0.0, np.inf))
        rows.append({"probe": probe, "metric": metric, "n": len(both),
                     "missing": int((g["_merge"] != "both").sum()),
                     "max |log10 ratio|": float(dev.max()) if len(dev) else 0.0,
                     "outside": int((dev > orders).sum())})
    out = pd.DataFrame(rows, columns=["probe", "metric", "n", "missing", "max |log10 ratio|", "outside"])
    out["ok"] = (out.missing == 0) & (out.outside == 0)
    return out


def compare_verdicts(ref: list, new: list) -> pd.DataFrame:
    """Claims of both sides matched by text (ids may repeat across cases): verdict before and after."""
    a = {c.text: c.verdict for c in ref}
    b = {c.text: c.verdict for c in new}
    rows = [{"claim": t, "reference": a.get(t, "missing"), "reproduced": b.get(t, "missing")}
            for t in dict.fromkeys([*a, *b])]
    out = pd.DataFrame(rows, columns=["claim", "reference", "reproduced"])
    out["ok"] = out.reference == out.reproduced
    return out
