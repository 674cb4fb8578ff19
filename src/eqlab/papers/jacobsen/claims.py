"""The Jacobsen thesis's claims (``shared/PAPERS.md`` section 001), computed from the ``probe_rfnn`` and
``probe_irevnet`` tables.

RFNN (ch. 3): 1a order 1 clearly worst; 1b order 3 ≈ best; 1c order 4 saturates; 1d multi-scale ≥
single scale (Table 1's RFNiN-Scale rows over RFNiN); 2 the fixed Gaussian basis beats the freely
learned basis of the same shapes (Table 2); 3 RFNN ≥ CNN at every training size (Fig. 6); 3g the gap
grows as the training data shrink. i-RevNet (ch. 6): 9a/9b ε ≤ 1e-5 in float32 and ≤ 1e-12 in float64
(bijective; 9a-inj/9b-inj the injective variant; random and trained weights, noise and test images); 9c the Jacobian's singular values
decay fast; 9d accuracy rises with depth (per model); 9e SVM ≥ 1-NN; 9f accuracy flat under PCA.

Every comparison across training runs is a seed-paired difference decided by its 95 % t-interval:
holds when the interval lies on the claimed side, does not hold when it lies on the other, not
established otherwise (or with fewer than :data:`MIN_SEEDS` seeds). The ε claims are exact bounds over
every seed (no interval needed).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from eqlab.papers.jacobsen.tables import acc, t_interval
from eqlab.report.claims import FAILS, HOLDS, OPEN, Claim
from eqlab.report.intervals import paired

MIN_SEEDS = 3
MARGIN = 0.02  # "≈" for accuracies: within 2 percentage points
EPS32, EPS64 = 1e-5, 1e-12  # the done-when bounds on ε
FAST_DECAY = 0.10  # "decays fast": 80 % of the Jacobian's energy in at most this fraction of its dimensions
PCA_MARGIN = 0.05  # "flat": the SVM at the reduced dimension loses at most 5 pp


def _iv(d: np.ndarray) -> tuple[float, float, float, int]:
    return t_interval(np.asarray(d, dtype=float))


def greater(cid: str, text: str, d: np.ndarray, what: str, margin: float = 0.0) -> Claim:
    """'d > margin': holds if the interval's low end > margin, does not hold if its high end < margin."""
    m, lo, hi, n = _iv(d)
    if n < MIN_SEEDS or math.isnan(lo):
        return Claim(cid, text, OPEN, f"{what}: {n} seed(s), need ≥ {MIN_SEEDS}", n=n)
    verdict = HOLDS if lo > margin else FAILS if hi < margin else OPEN
    ev = f"{what}: mean {100 * m:+.1f} pp, 95 % interval [{100 * lo:+.1f}, {100 * hi:+.1f}] pp over {n} seeds"
    return Claim(cid, text, verdict, ev, interval=(100 * lo, 100 * hi), n=n)


def rfnn_claims(df: pd.DataFrame) -> list[Claim]:
    t1 = df[df.experiment == "table1"]
    multi = {o: acc(t1, "table1", "rfnn", o, "multi") for o in sorted(t1[t1.scales == "multi"].order.unique())}
    out: list[Claim] = []
    text = "Order 1 is clearly worst: every higher order beats it (Table 1)"
    if 1 in multi and len(multi) > 1:
        worst = min((_iv(paired(multi[o], multi[1]))[1], o) for o in multi if o != 1)
        out.append(
            greater("1a", text, paired(multi[worst[1]], multi[1]), f"order {worst[1]} − order 1 (the weakest gap)")
        )
    else:
        out.append(Claim("1a", text, OPEN, "needs order 1 and another order in ablation_orders"))
    text = f"Order 3 ≈ best: no other order beats it by more than {100 * MARGIN:g} pp (Table 1)"
    if 3 in multi and len(multi) > 1:
        cs = [greater("1b", text, paired(multi[3], multi[o]), f"order 3 − order {o}", -MARGIN) for o in multi if o != 3]
        worst = min(cs, key=lambda c: c.interval[0] if c.interval else math.inf)
        verdict = (
            FAILS if any(c.verdict == FAILS for c in cs) else HOLDS if all(c.verdict == HOLDS for c in cs) else OPEN
        )
        out.append(Claim("1b", text, verdict, worst.evidence, worst.interval, worst.n))
    else:
        out.append(Claim("1b", text, OPEN, "needs order 3 and another order in ablation_orders"))
    text = f"Order 4 saturates: it gains less than {100 * MARGIN:g} pp over order 3 (Table 1)"
    if 3 in multi and 4 in multi:
        c = greater("1c", text, paired(multi[3], multi[4]), "order 3 − order 4", -MARGIN)
        out.append(c)
    else:
        out.append(Claim("1c", text, OPEN, "needs orders 3 and 4"))
    text = "Multi-scale ≥ single scale at the same order (Table 1, RFNiN-Scale over RFNiN)"
    singles = sorted(t1[t1.scales == "single"].order.unique())
    common = [o for o in singles if o in multi]
    if common:
        o = common[-1]
        out.append(greater("1d", text, paired(multi[o], acc(t1, "table1", "rfnn", o, "single")),
                           f"order {o}: multi − single"))  # fmt: skip
    else:
        out.append(Claim("1d", text, OPEN, "needs a single_scale_order that is also an ablation order"))
    t2 = df[df.experiment == "table2"]
    text = "A fixed Gaussian basis beats the same layers with the basis learned freely (Table 2 refactorisation)"
    if len(t2):
        o, n = int(t2.order.iloc[0]), int(t2.n_train.iloc[0])
        g = acc(t1[t1.n_train == n], "table1", "rfnn", o, "multi")
        out.append(greater("2", text, paired(g, acc(t2, "table2", "refactor", o, "multi")), f"Gauss − free, n = {n}"))
    else:
        out.append(Claim("2", text, OPEN, "no table2 rows"))
    f6 = df[df.experiment == "fig6"]
    sizes = sorted(f6.n_train.unique())
    gaps = {}
    for i, n in enumerate(sizes):
        o = int(f6.order.iloc[0])
        gaps[n] = paired(acc(f6, "fig6", "rfnn", o, "multi", n), acc(f6, "fig6", "cnn", o, "multi", n))
        out.append(greater(f"3{'abcdef'[i]}", f"RFNN ≥ CNN with {n} training digits (Fig. 6)", gaps[n], "RFNN − CNN"))
    text = "The RFNN − CNN gap grows as the training data shrink (Fig. 6)"
    if len(sizes) >= 2:
        d = gaps[sizes[0]] - gaps[sizes[-1]] if len(gaps[sizes[0]]) == len(gaps[sizes[-1]]) else np.array([])
        out.append(greater("3g", text, d, f"gap at {sizes[0]} − gap at {sizes[-1]} images"))
    else:
        out.append(Claim("3g", text, OPEN, "needs ≥ 2 training sizes"))
    return out


def _bound(cid: str, text: str, r: pd.DataFrame, bound: float) -> Claim:
    if r.empty:
        return Claim(cid, text, OPEN, "no reconstruction rows")
    worst = r.loc[r.value.idxmax()]
    ev = (f"largest ε {worst.value:.2g} ({worst.model}, {worst.state}, {worst.data}) over {r.seed.nunique()} "
          f"seed(s); worst single sample {r.value_max.max():.2g}")  # fmt: skip
    return Claim(cid, text, HOLDS if (r.value <= bound).all() else FAILS, ev)


def irevnet_claims(ir: pd.DataFrame) -> list[Claim]:
    rec = ir[ir.check == "recon"]
    out = []
    for model, tag in (("irevnet_bijective", ""), ("irevnet_injective", "-inj")):
        r = rec[rec.model == model]
        name = model.split("_")[1]
        out += [
            _bound(f"9a{tag}", f"{name} i-RevNet reconstructs: ε ≤ {EPS32:g} in float32 (noise and test images, "
                   "random and trained weights)", r[r.dtype == "float32"], EPS32),
            _bound(f"9b{tag}", f"{name} i-RevNet: ε ≤ {EPS64:g} in float64", r[r.dtype == "float64"], EPS64),
        ]  # fmt: skip
    j = ir[(ir.check == "jacobian") & (ir.state == "trained")]
    text = (
        f"The Jacobian's singular values decay fast: 80 % of the energy in ≤ {100 * FAST_DECAY:g} % of the dimensions"
    )
    if j.empty:
        out.append(Claim("9c", text, OPEN, "no Jacobian rows"))
    else:
        fr = j.groupby("seed").apply(lambda g: ((g.value_max < 0.8).sum() + 1) / len(g), include_groups=False)
        v = HOLDS if (fr <= FAST_DECAY).all() else FAILS if (fr > FAST_DECAY).all() else OPEN
        out.append(Claim("9c", text, v, f"trained bijective: k(80 %)/D from {fr.min():.3g} to {fr.max():.3g} over "
                                        f"{len(fr)} seed(s) (thesis: 0.0066)"))  # fmt: skip
    b = ir[(ir.check == "block_acc") & (ir.state == "trained")]
    for i, model in enumerate(("irevnet_bijective", "resnet")):
        s = b[(b.model == model) & (b.classifier == "svm")]
        text = f"Linear-SVM accuracy rises with depth ({model}, trained): last block > first block"
        if s.empty:
            out.append(Claim(("9d", "9d-res")[i], text, OPEN, "no rows"))
            continue
        last = s[s.block == s.block.max()].set_index("seed").value
        first = s[s.block == s.block.min()].set_index("seed").value
        out.append(greater(("9d", "9d-res")[i], text, paired(last, first), "last − first block"))
    s = b[(b.model == "irevnet_bijective") & (b.block == b.block.max())]
    out.append(greater("9e", "SVM ≥ 1-NN on the last block's features (bijective i-RevNet, trained)",
                       paired(s[s.classifier == "svm"].set_index("seed").value,
                              s[s.classifier == "1nn"].set_index("seed").value), "SVM − 1-NN"))  # fmt: skip
    p = ir[(ir.check == "pca") & (ir.state == "trained") & (ir.model == "irevnet_bijective")]
    text = f"Accuracy is flat under PCA: the largest reduced dimension loses < {100 * PCA_MARGIN:g} pp"
    if p.empty or p.k.nunique() < 2:
        out.append(Claim("9f", text, OPEN, "needs ≥ 1 PCA dimension below the full one"))
    else:
        full, kd = int(p.k.max()), int(sorted(p.k.unique())[-2])
        d = paired(p[p.k == kd].set_index("seed").value, p[p.k == full].set_index("seed").value)
        out.append(greater("9f", text, d, f"d = {kd} − full d = {full}", -PCA_MARGIN))
    return out


def all_claims(rf: pd.DataFrame, ir: pd.DataFrame) -> list[Claim]:
    return rfnn_claims(rf) + irevnet_claims(ir)
