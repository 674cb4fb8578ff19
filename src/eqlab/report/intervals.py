"""95 % intervals over seeds, and verdicts decided by them.

A run is one draw of the training noise (initialisation and batch order); on another CPU the same
params move single-run accuracies by up to 3 points. So a claim about a difference between two models
is decided by a confidence interval over their seeds, never by one run:

- :func:`mean_interval`: Student-t interval of a mean over n runs, mean ± t₀.₉₇₅(n−1)·s/√n;
- :func:`difference_interval`: Welch's interval of mean(a) − mean(b) for two independent sets of runs
  (different seeds train each model), with the Welch–Satterthwaite degrees of freedom;
- :func:`decide_sign` / :func:`decide_within`: holds when the interval lies on the claimed side (or inside
  the tolerance), does not hold when it lies wholly on the other side, otherwise not established —
  and never decided below ``MIN_SEEDS`` runs a side.

Equivariance errors span orders of magnitude, so claims compare them on a log10 scale (:func:`log10`):
the interval of a difference of mean log errors is the interval of the log of a ratio of geometric means.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

LEVEL = 0.95
MIN_SEEDS = 3  # fewer runs a side: no verdict (the interval is shown where n ≥ 2)


@dataclass(frozen=True)
class Interval:
    """``estimate`` with its ``level`` interval [``low``, ``high``]; ``n`` runs (the smaller side for a
    difference). With n < 2 the bounds are NaN: one run has no spread to estimate."""

    estimate: float
    low: float
    high: float
    n: int

    @property
    def bounds(self) -> tuple[float, float] | None:
        return None if math.isnan(self.low) else (self.low, self.high)

    @property
    def radius(self) -> float:
        """The larger distance from the estimate to a bound (the half-width of a symmetric interval)."""
        return max(self.high - self.estimate, self.estimate - self.low)

    def __neg__(self) -> Interval:
        return Interval(-self.estimate, -self.high, -self.low, self.n)

    def __add__(self, shift: float) -> Interval:
        """The interval moved by a constant (to test against a threshold: ``decide_sign(iv + 1)`` is iv > −1)."""
        return Interval(self.estimate + shift, self.low + shift, self.high + shift, self.n)

    def format(self, digits: int = 2, signed: bool = False) -> str:
        """``1.23 [0.98, 1.48] (n = 3)``; without bounds ``1.23 (n = 1)``."""
        f = f"{{:+.{digits}f}}" if signed else f"{{:.{digits}f}}"
        if self.bounds is None:
            return f"{f.format(self.estimate)} (n = {self.n})"
        return f"{f.format(self.estimate)} [{f.format(self.low)}, {f.format(self.high)}] (n = {self.n})"


def paired(a: pd.Series, b: pd.Series) -> np.ndarray:
    """a − b over the runs (index: seed) both have: the per-seed differences a seed-paired interval is built on."""
    j = a.index.intersection(b.index)
    return (a[j] - b[j]).to_numpy()


def half_width(std: float, n: int, level: float = LEVEL) -> float:
    """Half-width of the Student-t interval of a mean of ``n`` runs with sample std ``std`` (NaN for n < 2)."""
    return float(stats.t.ppf(0.5 + level / 2, n - 1) * std / math.sqrt(n)) if n >= 2 else math.nan


def _values(x: Iterable[float]) -> np.ndarray:
    v = np.asarray(list(x), dtype=float)
    if np.isnan(v).any():
        raise ValueError(f"interval of values with NaN: {v.tolist()}")
    return v


def mean_interval(values: Iterable[float], level: float = LEVEL) -> Interval:
    """Student-t interval of the mean of independent runs."""
    v = _values(values)
    n = len(v)
    if n == 0:
        raise ValueError("interval of no values")
    m = float(v.mean())
    if n < 2:
        return Interval(m, math.nan, math.nan, n)
    half = half_width(float(v.std(ddof=1)), n, level)
    return Interval(m, m - half, m + half, n)


def difference_interval(a: Iterable[float], b: Iterable[float], level: float = LEVEL) -> Interval:
    """Welch interval of mean(a) − mean(b); ``n`` is the smaller sample. Both spreads 0 (identical runs):
    a zero-width interval at the difference."""
    a, b = _values(a), _values(b)
    if not len(a) or not len(b):
        raise ValueError("difference interval needs runs on both sides")
    d = float(a.mean() - b.mean())
    n = min(len(a), len(b))
    if n < 2:
        return Interval(d, math.nan, math.nan, n)
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    se = math.sqrt(va + vb)
    if se == 0:
        return Interval(d, d, d, n)
    dof = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    half = float(stats.t.ppf(0.5 + level / 2, dof) * se)
    return Interval(d, d - half, d + half, n)


def binomial_interval(p: float, n: int, level: float = LEVEL) -> Interval:
    """Wilson score interval of an error rate ``p`` measured on ``n`` test images (an interval over images
    within one run: it says how many images a cell needs, not how much another seed would move it)."""
    if n < 1:
        raise ValueError(f"binomial interval needs n ≥ 1 images, got {n}")
    z = float(stats.norm.ppf(0.5 + level / 2))
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return Interval(p, max(0.0, centre - half), min(1.0, centre + half), n)


def paired_binomial_difference(worse: int, better: int, n: int, level: float = LEVEL) -> Interval:
    """Interval of the difference of two error rates measured on the same ``n`` images, from its discordant
    pairs: ``worse`` images only the first gets wrong, ``better`` images only the second gets wrong. The
    estimate is (worse − better)/n; the bounds are Agresti and Min's (2005) adjusted Wald interval (half an
    image added to each cell of the 2×2 table), which keeps its coverage when few pairs disagree."""
    if n < 1 or worse < 0 or better < 0 or worse + better > n:
        raise ValueError(f"paired counts need 0 ≤ worse + better ≤ n with n ≥ 1, got worse={worse}, better={better}, n={n}")
    z = float(stats.norm.ppf(0.5 + level / 2))
    m = n + 2
    p_worse, p_better = (worse + 0.5) / m, (better + 0.5) / m
    d = p_worse - p_better
    half = z * math.sqrt(max(p_worse + p_better - d * d, 0.0) / m)
    return Interval((worse - better) / n, max(-1.0, d - half), min(1.0, d + half), n)


def log10(values: Iterable[float]) -> np.ndarray:
    """log10 of positive errors (a zero error, e.g. an exactly equivariant layer, is floored at 1e-30)."""
    return np.log10(np.maximum(_values(values), 1e-30))


def decide_sign(iv: Interval, min_n: int = MIN_SEEDS) -> bool | None:
    """True when the whole interval is above 0, False when wholly below or touching it from below,
    None when it straddles 0 or n < ``min_n``."""
    if iv.n < min_n or iv.bounds is None:
        return None
    if iv.low > 0:
        return True
    if iv.high <= 0:
        return False
    return None


def decide_within(iv: Interval, tolerance: float, min_n: int = MIN_SEEDS) -> bool | None:
    """True when the interval lies inside [−tolerance, +tolerance], False when it lies wholly outside,
    None otherwise or when n < ``min_n``."""
    if iv.n < min_n or iv.bounds is None:
        return None
    if -tolerance <= iv.low and iv.high <= tolerance:
        return True
    if iv.low > tolerance or iv.high < -tolerance:
        return False
    return None


def combine(verdicts: Iterable[bool | None]) -> bool | None:
    """A claim made of parts (every tap, both halves): False if any part is established false, True if
    every part is established true, else None."""
    v = list(verdicts)
    if any(x is False for x in v):
        return False
    return True if v and all(x is True for x in v) else None


# ---------------------------------------------------------------------------------------------------
# Per-run tables (one row per run, a column per tap): models compared tap by tap over their seeds.


def runs_of(ours: pd.DataFrame, label: str) -> pd.DataFrame:
    """The runs (seeds) of one model of a per-run table (column ``row`` names the model)."""
    return ours[ours.row == label]


def log_gap(a: pd.DataFrame, b: pd.DataFrame, tap: str) -> Interval:
    """Interval of mean log10 error of runs ``a`` minus that of runs ``b`` at ``tap`` (log of the ratio of
    geometric means)."""
    return difference_interval(log10(a[tap].astype(float)), log10(b[tap].astype(float)))


def ratio_text(iv: Interval) -> str:
    """A log10 gap read back as a ratio, with its interval when there is one."""
    if iv.bounds is None:
        return f"{10**iv.estimate:.2g}×"
    return f"{10**iv.estimate:.2g}× [{10**iv.low:.2g}, {10**iv.high:.2g}]"


def seed_note(*parts: pd.DataFrame) -> str:
    """How many seeds the smaller side has, and that it decides nothing below ``MIN_SEEDS``."""
    n = min(len(p) for p in parts)
    return f"n = {n} seeds" if n >= MIN_SEEDS else f"n = {n} < {MIN_SEEDS} seeds, not established"


def below_at_taps(
    a: pd.DataFrame, b: pd.DataFrame, taps: list[str]
) -> tuple[dict[str, Interval], bool | None, list[str]]:
    """Model ``a`` below model ``b`` at every tap, by the interval of the log gap: (gap per tap, the
    combined verdict, the taps where ``a`` is established not below)."""
    gaps = {t: log_gap(a, b, t) for t in taps}
    below = {t: decide_sign(-iv) for t, iv in gaps.items()}
    return gaps, combine(below.values()), [t for t, v in below.items() if v is False]
