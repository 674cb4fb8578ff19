"""The invariance review's tables from the two stages' tidy results (columns
:data:`eqlab.invariance.experiments.COLUMNS`: experiment, model, seed, metric, condition, epoch, layer,
channel, value). Intervals are 95 % Student-t intervals over seeds: of a mean, or of the mean of paired
(same-seed) differences between two models."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

NO_TABLES = ("The review has no tables and reports its own experiments in words only; every number below "
             "is ours, from digits embedded in the project (5,000 real MNIST digits), not a reproduction of a table.")  # fmt: skip
VARIANT_NAMES = {"max": "max", "avg": "average", "lp2": "L2", "lp3.4": "L3.4", "lp4": "L4", "lp_learned": "Lp, learned p",
                 "stochastic": "stochastic", "heterogeneous": "heterogeneous (½ max, ½ avg)", "entropy": "entropy (max²/avg)",
                 "max+gmax": "max, global-max head"}  # fmt: skip
MODEL_NAMES = {"scattering": "scattering (J=3) + logistic regression",
               "scattering_rotpool": "rotation-pooled scattering + logistic regression", "cnn": "CNN (max pooling)"}  # fmt: skip


def t_interval(values, level: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high) of the Student-t interval of the mean; (mean, nan, nan) for fewer than 2 values."""
    v = np.asarray(values, dtype=float)
    m = float(v.mean()) if len(v) else math.nan
    if len(v) < 2:
        return m, math.nan, math.nan
    half = float(stats.t.ppf(0.5 + level / 2, len(v) - 1) * v.std(ddof=1) / math.sqrt(len(v)))
    return m, m - half, m + half


def per_seed(df: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Pooling runs: seed × variant table of ``metric`` (variants in the stage's order)."""
    sub = df[(df.experiment == "pooling") & (df.metric == metric)]
    return sub.pivot_table(index="seed", columns="model", values="value", sort=False)


def paired(df: pd.DataFrame, metric: str, a: str, b: str) -> tuple[float, float, float, int]:
    """Mean of ``a − b`` over the seeds both have, its 95 % t-interval and the number of seeds."""
    t = per_seed(df, metric)
    if a not in t or b not in t:
        return math.nan, math.nan, math.nan, 0
    d = (t[a] - t[b]).dropna()
    return (*t_interval(d), len(d))


def pooling_summary(df: pd.DataFrame) -> pd.DataFrame:
    """One row per variant: test accuracy (%), train–test gap (points) and epochs to the validation target
    (over the seeds that reached it; ``reached``: how many), each a mean with its 95 % t-interval over
    seeds, and the number of seeds."""
    rows = []
    acc, gap = per_seed(df, "test_acc"), per_seed(df, "gap")
    ep = per_seed(df, "epochs_to_target").reindex(index=acc.index, columns=acc.columns)  # NaN: never reached
    for v in acc.columns:
        a, g, e = t_interval(100 * acc[v].dropna()), t_interval(100 * gap[v].dropna()), t_interval(ep[v].dropna())
        rows.append({"pooling": VARIANT_NAMES.get(v, v), "test acc %": a[0], "acc 95% CI": (a[1], a[2]),
                     "train−test gap (pts)": g[0], "gap 95% CI": (g[1], g[2]), "epochs to target": e[0],
                     "epochs 95% CI": (e[1], e[2]), "reached": int(ep[v].notna().sum()),
                     "seeds": int(acc[v].notna().sum())})  # fmt: skip
    return pd.DataFrame(rows).set_index("pooling")


def learned_p(df: pd.DataFrame) -> pd.DataFrame:
    """The learned exponents: seed, layer, channel, p."""
    sub = df[(df.experiment == "pooling") & (df.metric == "learned_p")]
    return sub[["seed", "layer", "channel", "value"]].rename(columns={"value": "p"}).reset_index(drop=True)


def val_curves(df: pd.DataFrame) -> pd.DataFrame:
    """Validation accuracy per variant and epoch, mean over seeds."""
    sub = df[(df.experiment == "pooling") & (df.metric == "val_acc")]
    return sub.pivot_table(index="epoch", columns="model", values="value", aggfunc="mean", sort=False)


def rotation_table(df: pd.DataFrame) -> pd.DataFrame:
    """Per model: upright and rotated test accuracy (%), mean over seeds with the 95 % t-interval (the
    scattering classifiers are deterministic: one value)."""
    sub = df[df.experiment == "rotation"]
    rows = []
    for m in dict.fromkeys(sub.model):
        row = {"model": MODEL_NAMES.get(m, m)}
        for cond in ("upright", "rotated"):
            v = 100 * sub[(sub.model == m) & (sub.condition == cond)].value
            mean, lo, hi = t_interval(v)
            row |= {f"{cond} %": mean, f"{cond} 95% CI": None if math.isnan(lo) else (lo, hi)}
        row["seeds"] = int((sub[(sub.model == m)].seed >= 0).sum() // 2) or 1
        rows.append(row)
    return pd.DataFrame(rows).set_index("model")


def rotated_difference(df: pd.DataFrame, model: str = "scattering") -> tuple[float, float, float, int]:
    """Rotated-test accuracy of ``model`` minus the CNN's, per CNN seed: mean, 95 % t-interval, seeds."""
    sub = df[(df.experiment == "rotation") & (df.condition == "rotated")]
    ref = sub[sub.model == model].value
    cnn = sub[sub.model == "cnn"].value
    if ref.empty or cnn.empty:
        return math.nan, math.nan, math.nan, 0
    return (*t_interval(float(ref.mean()) - cnn.to_numpy()), len(cnn))


def texture_table(df: pd.DataFrame) -> pd.DataFrame:
    """Separation of the two textures per coefficient set."""
    sub = df[(df.experiment == "texture") & (df.metric == "separation")]
    names = {"order1": "order 1 S₁", "order2": "order 2 S₂", "order2_normalised": "order 2 normalised S₂/S₁"}
    return pd.DataFrame({"coefficients": [names.get(m, m) for m in sub.model], "separation": sub.value.to_numpy()}
                        ).set_index("coefficients")  # fmt: skip


def texture_coefficients(df: pd.DataFrame, coef: str) -> pd.DataFrame:
    """Mean coefficient per path index (rows) for the two textures (columns) of one coefficient set."""
    sub = df[(df.experiment == "texture_coef") & (df.model == coef)]
    return sub.pivot_table(index="channel", columns="condition", values="value", sort=False)
