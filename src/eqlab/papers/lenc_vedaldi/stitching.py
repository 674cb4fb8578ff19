"""Lenc & Vedaldi's stitching on the ANet analogues (Tables 5–6, claim 6), from the table of
``stages/probe_lv_stitch.py``: the tables, a heat map, and claim 6 decided by intervals.

Errors are top-1 test errors of B's task. Each stitched cell is the mean ± std over the seeds of E
(the paper's way); the claims use the 95 % t-interval over those seeds of a per-seed difference, so
three seeds of E give a verdict and a wide interval gives *not established*. The seeds of E are not
seeds of the networks: every stitch here starts from the same trained nets (one base net), which the
claims say.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from eqlab.report.claims import Claim, interval_claim, verdict_of

LITTLE = 0.05  # "self-stitch costs a little": at most 5 points of top-1 error
CLAIM6 = ("Stitching: self-stitch costs a little; deep→shallow ≈ baseline; shallow→deep costs more; early layers "
          "of different seeds / tasks are interchangeable, late ones less")


def stitched(df: pd.DataFrame) -> pd.DataFrame:
    return df[df.method == "stitched"]


def baseline(df: pd.DataFrame, net: str) -> float:
    """B alone: top-1 test error of net ``net`` (one value: the same images for every pair into it)."""
    return float(df[(df.method == "baseline") & (df.net_b == net)].top1_error.iloc[0])


def _cell(values: pd.Series) -> str:
    v = 100 * values.to_numpy()
    return f"{v.mean():.1f} ± {v.std(ddof=1):.1f}" if len(v) > 1 else f"{v.mean():.1f}"


def table6(df: pd.DataFrame) -> pd.DataFrame:
    """Same net, different layers: rows the tap the head ends at (A), columns the tap the tail starts at
    (B); cells stitched top-1 error % mean ± std over the seeds of E."""
    st = stitched(df[df.kind == "layers"])
    order = list(dict.fromkeys(st.tap_a))
    cells = st.groupby(["tap_a", "tap_b"], sort=False).top1_error.apply(_cell).unstack("tap_b")
    cells = cells.reindex(index=order, columns=order)
    cells.index.name, cells.columns.name = "head to (A)", "tail from (B)"
    return cells


def table5(df: pd.DataFrame, kind: str = "nets") -> pd.DataFrame:
    """Base net's tap into the same tap of each other net of the same architecture (``kind`` "nets", Table 5)
    or of another one ("archs", Tables 7–9), or another architecture's net into the base ("archs_into"):
    stitched error % (mean ± std over E seeds), then the receiving net alone, the identity E (where the
    shapes agree) and the untrained E (mean) at that tap."""
    sub = df[df.kind == kind]
    if sub.empty:
        return pd.DataFrame()
    into = kind != "archs_into"
    net_col, tap_col, label = ("net_b", "tap_b", "into net") if into else ("net_a", "tap_a", "from net")
    rows = []
    for (net, tap), g in sub.groupby([net_col, tap_col], sort=False):
        ident = g[g.method == "identity"].top1_error
        rows.append({label: net, "layer": tap, "stitched": _cell(g[g.method == "stitched"].top1_error),
                     "net alone" if into else "receiving net alone": f"{100 * baseline(df, g.net_b.iloc[0]):.1f}",
                     "identity E": f"{100 * ident.iloc[0]:.1f}" if len(ident) else "–",
                     "untrained E": f"{100 * g[g.method == 'untrained'].top1_error.mean():.1f}"})
    return pd.DataFrame(rows).set_index([label, "layer"])


def table8_prose(df: pd.DataFrame, arch_net: str, tap: str = "conv5") -> str:
    """Table 8's surviving prose beside ours: the ``arch_net`` head up to ``tap`` into the base's tail,
    against the base alone (computed from the stitching table)."""
    sub = stitched(df[(df.kind == "archs_into") & (df.net_a == arch_net) & (df.tap_a == tap)])
    if sub.empty:
        return f"No stitch from {arch_net} at {tap} in the table."
    base = sub.net_b.iloc[0]
    return (f"Published (Table 8's prose): Vgg16 up to P5 into the ANet's tail 34.9 % top-1 error, the ANet alone "
            f"42.5 %. Ours: {arch_net} up to {tap} into {base}'s tail {_cell(sub.top1_error)} %, {base} alone "
            f"{100 * baseline(df, base):.1f} %.")


def heatmap(df: pd.DataFrame, title: str = ""):
    """Table 6 as a heat map: stitched error minus the net alone, in points, per (head, tail) layer pair."""
    st = stitched(df[df.kind == "layers"])
    order = list(dict.fromkeys(st.tap_a))
    base = baseline(df, st.net_b.iloc[0])
    m = (st.groupby(["tap_a", "tap_b"]).top1_error.mean().unstack("tap_b").reindex(index=order, columns=order)
         - base) * 100
    fig, ax = plt.subplots(figsize=(5.6, 4.6))
    lim = float(np.nanmax(np.abs(m.to_numpy())))
    im = ax.imshow(m.to_numpy(), cmap="RdBu_r", vmin=-lim, vmax=lim)
    for i in range(len(order)):
        for j in range(len(order)):
            v = m.iat[i, j]
            ax.text(j, i, f"{v:+.1f}", ha="center", va="center", fontsize=9,
                    color="white" if abs(v) > 0.6 * lim else "black")  # legible on the dark cells
    ax.set_xticks(range(len(order)), order)
    ax.set_yticks(range(len(order)), order)
    ax.set_xlabel("tail of the net from (B)")
    ax.set_ylabel("head of the net up to (A)")
    fig.colorbar(im, ax=ax, label="stitched − net alone (top-1 points)")
    ax.set_title(title or f"Stitching one net to itself (net alone: {100 * base:.1f} % error)", fontsize=10)
    fig.tight_layout()
    return fig


def _per_seed(df: pd.DataFrame, kind: str) -> pd.DataFrame:
    """Stitched error minus B alone, per E seed (rows) and pair (columns: tap_a, net_b, tap_b)."""
    st = stitched(df[df.kind == kind])
    gap = st.top1_error - st.net_b.map(lambda n: baseline(df, n))
    return st.assign(gap=gap).pivot_table(index="seed", columns=["tap_a", "net_b", "tap_b"], values="gap")


def _decide(cid: str, text: str, values: np.ndarray, what: str, above: float | None = None,
            below: float | None = None) -> Claim:
    """:func:`eqlab.report.claims.interval_claim` over the seeds of E (evidence in signed points)."""
    return interval_claim(cid, text, values, what, above=above, below=below, scale=100, unit=" points", digits=1,
                          runs="seeds of E")


def claims(df: pd.DataFrame | None) -> list[Claim]:
    """Claim 6 in parts: a self-stitch costs a little; deep→shallow ≈ the net alone while shallow→deep
    costs more, most across a resolution change; early layers of other seeds / tasks interchangeable,
    late ones less; the spread over seeds of E small where the stitch is good."""
    if df is None or stitched(df).empty:
        return [Claim("6", CLAIM6, verdict_of(None), "no stitching table (stages/probe_lv_stitch.py)")]
    out = []
    layers = _per_seed(df, "layers")
    taps = list(dict.fromkeys(df[df.kind == "layers"].tap_a))
    depth = {t: i for i, t in enumerate(taps)}
    cols = layers.columns
    self_cols = [c for c in cols if c[0] == c[2]]
    out.append(_decide("6a", f"A self-stitch (same net, same layer, a fresh E) costs a little: at most "
                       f"{100 * LITTLE:.0f} points at every conv layer (the largest of the layers' gaps)",
                       layers[self_cols].max(axis=1).to_numpy(), "largest self-stitch gap to the net alone",
                       below=LITTLE))
    down = [c for c in cols if depth[c[0]] > depth[c[2]]]  # head deeper than the tail's start: recompute layers
    up = [c for c in cols if depth[c[0]] < depth[c[2]]]  # head shallower: the tail skips layers
    out.append(_decide("6b", "Deep→shallow (layers recomputed) costs less than shallow→deep (layers skipped) "
                       "(mean gap over the pairs of each kind)",
                       (layers[up].mean(axis=1) - layers[down].mean(axis=1)).to_numpy(),
                       "shallow→deep minus deep→shallow mean gap", above=0.0))
    out.append(_decide("6c", f"Deep→shallow ≈ the net alone (mean gap within {100 * LITTLE:.0f} points)",
                       layers[down].mean(axis=1).to_numpy(), "mean deep→shallow gap", below=LITTLE))
    res = dict(zip(df.tap_a, df.size_a, strict=True))  # each tap's grid size (its resolution)
    across = [c for c in up if res[c[0]] != res[c[2]]]
    within = [c for c in up if res[c[0]] == res[c[2]]]
    text = "Shallow→deep costs more across a resolution change than within one (mean gap over the pairs of each kind)"
    if across and within:
        out.append(_decide("6d", text, (layers[across].mean(axis=1) - layers[within].mean(axis=1)).to_numpy(),
                           "across minus within mean gap", above=0.0))
    else:
        out.append(Claim("6d", text, verdict_of(None), "needs shallow→deep pairs both across and within a resolution"))
    nets = _per_seed(df, "nets")
    first, last = taps[0], taps[-1]
    for net in sorted({c[1] for c in nets.columns}):
        g = nets.xs(net, axis=1, level="net_b")
        out.append(_decide("6e", f"Early layers are interchangeable with {net}'s, late ones less: the stitch gap "
                           f"into {net} is larger at {last} than at {first}",
                           (g[(last, last)] - g[(first, first)]).to_numpy(), f"gap at {last} minus at {first}",
                           above=0.0))
    st = stitched(df)
    spread = st.groupby(["kind", "tap_a", "net_b", "tap_b"]).top1_error.agg(["mean", "std"])
    spread["gap"] = spread["mean"] - spread.index.get_level_values("net_b").map(lambda n: baseline(df, n))
    good, bad = spread[spread.gap <= LITTLE]["std"], spread[spread.gap > LITTLE]["std"]
    text = (f"The spread over seeds of E is small where the stitch is good (std of the stitches within "
            f"{100 * LITTLE:.0f} points of the net alone below the others')")
    if len(good) < 3 or len(bad) < 3:
        out.append(Claim("6f", text, verdict_of(None), f"needs ≥ 3 good and ≥ 3 poor stitches, have {len(good)} and {len(bad)}"))
    else:
        from eqlab.report.intervals import decide_sign, difference_interval

        iv = difference_interval(bad.to_numpy(), good.to_numpy())
        out.append(Claim("6f", text, verdict_of(decide_sign(iv)),
                         f"mean std {100 * bad.mean():.1f} points over {len(bad)} poor stitches vs {100 * good.mean():.1f} "
                         f"over {len(good)} good ones; difference [{100 * iv.low:.1f}, {100 * iv.high:.1f}] (Welch 95 %, "
                         f"over pairs)", interval=(iv.low, iv.high), n=len(good) + len(bad)))
    return out


def departure(df: pd.DataFrame) -> str:
    """Where the self-stitches cost more than "a little", say so with the numbers, and the likely cause."""
    st = stitched(df[(df.kind == "layers") & (df.tap_a == df.tap_b)])
    gaps = (st.groupby("tap_a", sort=False).top1_error.mean() - baseline(df, st.net_b.iloc[0])) * 100
    over = gaps[gaps > 100 * LITTLE]
    if over.empty:
        return f"Every self-stitch is within {100 * LITTLE:.0f} points of the net alone, as the paper finds."
    first = st.iloc[0]
    return ("**Departure from the paper.** A self-stitch should cost a little; here it costs "
            + ", ".join(f"{g:+.1f} points at {t}" for t, g in gaps.items())
            + f" (more than {100 * LITTLE:.0f} at {', '.join(over.index)}). Likely cause: E is under-trained at this "
            f"scale — {int(first.steps)} Adam steps on {int(first.n_train)} images, against the paper's 7 epochs of "
            f"2·10⁵ samples — so the verdicts that rest on absolute gaps (6a, 6c) are about our budget; those "
            f"that compare pairs trained alike (6b, 6d, 6e, 6f) are the informative ones.")
