"""The invariance review's claims (``shared/PAPERS.md`` section 004, "Claims to check", numbered in the order
written there), then the section's other statements we can test (lettered ``L4``, ``P``, ``G``, ``T``) and
those we cannot (``A``).

Comparisons across training runs are decided by the 95 % t-interval of the paired (same-seed) difference
over ≥ :data:`MIN_SEEDS` seeds: "≈" holds when the interval lies inside ±:data:`EQUIV` points, and does not
hold when it lies wholly outside; "better"/"smaller" holds when the interval excludes 0 on the claimed side
and does not hold when it excludes 0 on the other; anything else is "not established".
"""

from __future__ import annotations

import math

import pandas as pd

from eqlab.papers.invariance_review.tables import learned_p, paired, per_seed, rotated_difference, texture_table
from eqlab.report.claims import Claim, verdict_of

MIN_SEEDS = 3
EQUIV = 1.0  # "essentially identical": within ±1 accuracy point
P_MOVED = 0.1  # learned p that moved less than this from its start says nothing about an optimum
GULCEHRE = (3.4, 0.38)  # the review: MNIST optimum p = 3.4, std 0.38


def _ci(mean: float, lo: float, hi: float, n: int, unit: str = "pts") -> str:
    return f"mean {mean:+.2f} {unit}, 95 % CI [{lo:+.2f}, {hi:+.2f}] over {n} seeds"


def _interval(lo: float, hi: float) -> tuple[float, float] | None:
    """The claim's interval column: None where there is none (fewer than two seeds had a value)."""
    return None if math.isnan(lo) or math.isnan(hi) else (lo, hi)


def _better(lo: float, hi: float, n: int, sign: int) -> bool | None:
    """sign +1: claimed > 0; −1: claimed < 0."""
    if n < MIN_SEEDS or math.isnan(lo):
        return None
    lo, hi = (lo, hi) if sign > 0 else (-hi, -lo)
    return True if lo > 0 else False if hi < 0 else None


def _equal(lo: float, hi: float, n: int) -> bool | None:
    if n < MIN_SEEDS or math.isnan(lo):
        return None
    return True if -EQUIV <= lo and hi <= EQUIV else False if hi < -EQUIV or lo > EQUIV else None


def _diff(df: pd.DataFrame, metric: str, a: str, b: str, scale: float = 100.0) -> tuple[float, float, float, int]:
    m, lo, hi, n = paired(df, metric, a, b)
    return m * scale, lo * scale, hi * scale, n


def claim_heterogeneous(df: pd.DataFrame, target: float) -> list[Claim]:
    """1: heterogeneous pooling ≈ max in accuracy (1a), converging marginally quicker (1b: fewer epochs to
    reach the validation accuracy ``target``; seeds where either run never reached it are left out and
    counted in the evidence)."""
    m, lo, hi, n = _diff(df, "test_acc", "heterogeneous", "max")
    a = Claim("1a", f"Heterogeneous pooling (half the channels max, half average) is essentially identical to max "
              f"pooling: test accuracy difference within ±{EQUIV:g} point", verdict_of(_equal(lo, hi, n)),
              _ci(m, lo, hi, n), _interval(lo, hi), n)  # fmt: skip
    m, lo, hi, n = _diff(df, "epochs_to_target", "heterogeneous", "max", 1.0)
    seeds = per_seed(df, "test_acc").index
    runs = per_seed(df, "epochs_to_target").reindex(index=seeds, columns=["heterogeneous", "max"])
    never = int(runs.isna().any(axis=1).sum())
    left_out = f"{never} seed(s) where one never reached it left out"
    if n == 0:
        ev = f"no seed to compare: {left_out}"
    else:
        ev = _ci(m, lo, hi, n, "epochs") + (f"; {left_out}" if never else "")
    b = Claim("1b", f"… and converges marginally quicker than max pooling (fewer epochs of training to reach "
              f"{100 * target:g} % validation accuracy)", verdict_of(_better(lo, hi, n, -1)), ev,
              _interval(lo, hi), n)  # fmt: skip
    return [a, b]


def claim_entropy(df: pd.DataFrame) -> Claim:
    """2: entropy pooling (max²/avg) offers no improvement over max pooling."""
    m, lo, hi, n = _diff(df, "test_acc", "entropy", "max")
    ok = None if n < MIN_SEEDS else (False if lo > 0 else True if hi <= EQUIV else None)
    return Claim("2", f"Entropy pooling (max²/avg) does not improve on max pooling: the interval of the accuracy "
                 f"difference stays below +{EQUIV:g} point (does not hold if it lies above 0)", verdict_of(ok),
                 _ci(m, lo, hi, n), _interval(lo, hi), n)  # fmt: skip


def claim_stochastic(df: pd.DataFrame) -> Claim:
    """3: stochastic pooling has a smaller train–test gap than max pooling."""
    m, lo, hi, n = _diff(df, "gap", "stochastic", "max")
    return Claim("3", "Stochastic pooling overfits less: its train−test accuracy gap is smaller than max pooling's",
                 verdict_of(_better(lo, hi, n, -1)), _ci(m, lo, hi, n), _interval(lo, hi), n)  # fmt: skip


def claim_scattering(df: pd.DataFrame) -> Claim:
    """4: scattering + a linear classifier beats a CNN trained upright when tested on rotated digits (no 9s)."""
    m, lo, hi, n = rotated_difference(df, "scattering")
    m, lo, hi = 100 * m, 100 * lo, 100 * hi
    return Claim("4", "Scattering (order ≤ 2, J = 3) + a linear classifier beats a CNN when both are trained on "
                 "upright digits and tested on rotated digits (9s excluded)", verdict_of(_better(lo, hi, n, +1)),
                 _ci(m, lo, hi, n) + " (CNN seeds; the scattering classifier is deterministic)", _interval(lo, hi), n)  # fmt: skip


def claim_l4(df: pd.DataFrame) -> Claim:
    """L4: Sermanet et al.: L4 pooling beats max and average (on SVHN; here on digits)."""
    a = _diff(df, "test_acc", "lp4", "max")
    b = _diff(df, "test_acc", "lp4", "avg")
    oks = [_better(x[1], x[2], x[3], +1) for x in (a, b)]
    ok = True if all(o is True for o in oks) else False if any(o is False for o in oks) else None
    return Claim("L4", "L4 pooling is better than both max and average pooling (Sermanet et al., SVHN)",
                 verdict_of(ok), f"L4 − max: {_ci(*a)}; L4 − average: {_ci(*b)}")  # fmt: skip


def claim_learned_p(df: pd.DataFrame, p_init: float) -> Claim:
    """P: learned p settles near Gulcehre's MNIST optimum 3.4 (std 0.38)."""
    p = learned_p(df)
    text = f"Learned p settles near {GULCEHRE[0]} (std {GULCEHRE[1]}) on MNIST (Gulcehre et al.)"
    if p.empty:
        return Claim("P", text, verdict_of(None), "no learned-p runs")
    mean, std = float(p.p.mean()), float(p.p.std())
    ev = f"{len(p)} exponents (layers × channels × seeds): mean {mean:.2f}, std {std:.2f}, started at {p_init:g}"
    if abs(mean - p_init) < P_MOVED:
        return Claim("P", text, verdict_of(None), ev + f"; the mean moved < {P_MOVED:g} from the start, which lies "
                     "inside the published band itself, so the start and not the training would decide it")
    lo, hi = GULCEHRE[0] - 2 * GULCEHRE[1], GULCEHRE[0] + 2 * GULCEHRE[1]
    return Claim("P", text + f": mean within [{lo:.2f}, {hi:.2f}]", verdict_of(lo <= mean <= hi), ev)


def claim_global_max(df: pd.DataFrame) -> Claim:
    """G: the review's conjecture that a global-max head outperforms global average pooling."""
    m, lo, hi, n = _diff(df, "test_acc", "max+gmax", "max")
    return Claim("G", "Global max pooling would outperform global average pooling (the review's conjecture; max "
                 "local pooling in both)", verdict_of(_better(lo, hi, n, +1)), _ci(m, lo, hi, n), _interval(lo, hi), n)  # fmt: skip


def claim_texture(df: pd.DataFrame, separated: float) -> Claim:
    """T: second-order coefficients separate two textures of equal power spectrum, first-order ones do not."""
    t = texture_table(df)
    text = (f"Second-order scattering separates two textures with equal Fourier power spectrum (separation ≥ "
            f"{separated:g} within-texture spreads, normalised S₂/S₁), first-order does not (< {separated:g})")  # fmt: skip
    need = {"order 1 S₁", "order 2 normalised S₂/S₁"}
    if not need <= set(t.index):
        return Claim("T", text, verdict_of(None), "needs the texture rows")
    s1, s2 = float(t.separation["order 1 S₁"]), float(t.separation["order 2 normalised S₂/S₁"])
    raw = float(t.separation.get("order 2 S₂", math.nan))
    ok = s2 >= separated and s1 < separated
    return Claim("T", text, verdict_of(ok), f"order 1: {s1:.2f}; order 2: {raw:.2f} raw, {s2:.2f} normalised")


def all_claims(pool: pd.DataFrame, scat: pd.DataFrame, p_init: float, separated: float, target: float
               ) -> list[Claim]:
    """Every claim of section 004 we test, in the order above, then the ones we cannot decide (``target``:
    the validation accuracy whose time to reach claim 1b compares)."""
    return [
        *claim_heterogeneous(pool, target),
        claim_entropy(pool),
        claim_stochastic(pool),
        claim_scattering(scat),
        claim_l4(pool),
        claim_learned_p(pool, p_init),
        claim_global_max(pool),
        claim_texture(scat, separated),
        Claim(
            "A",
            "In scattering networks average pooling beats max pooling by 8 % with complex wavelets (equal with "
            "real ones)",
            verdict_of(None),
            "not built: our scattering uses the Gaussian low pass only",
        ),  # fmt: skip
    ]
