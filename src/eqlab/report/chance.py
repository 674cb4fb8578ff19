"""Equivariance errors beside their chance references, and the rule that reads them.

The extent probe writes, per run and tap, the error (``rel`` or ``rel_var``) and two references on the
same images (:mod:`eqlab.probes.chance`): an unrelated image (``*_unrelated``, the "no equivariance"
level) and the untransformed map (``*_invariant``, the level of a model that ignores the input's
transformation). A tap counts as *below chance* only when its error is below ``CHANCE_MARGIN`` times the
smaller reference (a fixed factor of two: the per-run reading the tables show). A *model's* verdict
reads its seeds instead (:func:`model_chance`): a tap is below chance when the 95 % interval of the mean
log10(error / chance) over the model's runs lies below 0, at chance when it lies at or above 0, and
undecided otherwise or with fewer than three runs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from eqlab.report.intervals import MIN_SEEDS, Interval, decide_sign, log10, mean_interval
from eqlab.report.results import extent

CHANCE_MARGIN = 0.5
INFORMATIVE = 1e-6  # the invariant reference counts when above this fraction of the unrelated one
NORMALISATIONS = {
    "rel": ("rel_unrelated", "rel_invariant"),  # divided by the energy Σ‖ĥ(x)‖²
    "rel_var": ("rel_var_unrelated", "rel_var_invariant"),  # divided by the across-image variance
}


def check_normalisation(metric: str) -> tuple[str, str]:
    if metric not in NORMALISATIONS:
        raise ValueError(f"unknown normalisation {metric!r}; allowed: {sorted(NORMALISATIONS)}")
    return NORMALISATIONS[metric]


def chance_table(results: pd.DataFrame, metric: str = "rel", margin: float = CHANCE_MARGIN) -> pd.DataFrame:
    """Per run and tap (the run's own group): ``error``, ``unrelated``, ``invariant``, ``chance`` (the
    smaller reference; the unrelated one alone where the invariant one is ~0 because g acts trivially
    on the tap, ``invariant_informative`` false), ``ratio`` = error / chance and ``below`` (error < margin ×
    chance); rows only where the references were measured."""
    unrelated, invariant = check_normalisation(metric)
    eq = extent(results)
    wide = eq[eq.metric.isin([metric, unrelated, invariant])].pivot_table(
        index=["run", "layer"], columns="metric", values="value")
    if wide.empty or unrelated not in wide or invariant not in wide or metric not in wide:
        return pd.DataFrame(columns=["run", "layer", "error", "unrelated", "invariant", "invariant_informative", "chance",
                                     "ratio", "below"])
    out = pd.DataFrame({"error": wide[metric], "unrelated": wide[unrelated], "invariant": wide[invariant]}).dropna()
    # where g acts trivially on the tap (a 1×1 map, a rotation-symmetric grid), ignoring the transformation
    # *is* equivariance: the invariant reference is ~0 and says nothing; chance is then the unrelated level
    out["invariant_informative"] = out.invariant > INFORMATIVE * out.unrelated
    out["chance"] = out.unrelated.where(~out.invariant_informative, out[["unrelated", "invariant"]].min(axis=1))
    out["ratio"] = out.error / out.chance
    out["below"] = out.error < margin * out.chance
    return out.reset_index()


def layers_at_chance(table: pd.DataFrame, run: str) -> list[str]:
    """The taps where ``run`` is not below chance (by :func:`chance_table`'s rule)."""
    rows = table[table.run == run]
    return list(rows.layer[~rows.below.astype(bool)])


def describe_chance(table: pd.DataFrame, run: str, label: str | None = None) -> str:
    """One sentence: where ``run`` sits at chance, or that it is below chance at every tap."""
    rows = table[table.run == run]
    name = label or run
    if rows.empty:
        return f"{name}: no chance reference measured"
    at = layers_at_chance(table, run)
    if not at:
        return f"{name} below chance at every tap (error/chance {rows.ratio.min():.2g}–{rows.ratio.max():.2g})"
    if len(at) == len(rows):
        return f"{name} at chance at every tap (error/chance {rows.ratio.min():.2g}–{rows.ratio.max():.2g})"
    return f"{name} at chance at {', '.join(at)}"


def model_chance(table: pd.DataFrame, runs: list[str]) -> dict[str, tuple[Interval, bool | None]]:
    """Per tap measured for every one of ``runs`` (the seeds of one model): the interval of the mean
    log10(error / chance) and whether the model is below chance there (True: interval below 0; False:
    at or above 0; None: undecided or < 3 runs). Empty when some run has no chance reference."""
    rows = table[table.run.isin(runs)]
    if rows.empty or set(rows.run) != set(runs):
        return {}
    out = {}
    for layer, g in rows.groupby("layer", sort=False):
        if len(g) != len(runs):
            continue
        iv = mean_interval(log10(g.ratio.astype(float)))
        out[layer] = (iv, decide_sign(-iv))
    return out


def describe_model_chance(per_tap: dict[str, tuple[Interval, bool | None]], label: str) -> str:
    """One sentence over a model's seeds: below chance at every tap, at chance where established, or
    undecided; error/chance as a geometric mean over the seeds."""
    if not per_tap:
        return f"{label}: no chance reference measured"
    ratios = np.array([10**iv.estimate for iv, _ in per_tap.values()])
    n = min(iv.n for iv, _ in per_tap.values())
    span = f"error/chance {ratios.min():.2g}–{ratios.max():.2g}, n = {n}"
    if n < MIN_SEEDS:
        return f"{label}: {span} (no interval to decide by)"
    at = [t for t, (_, b) in per_tap.items() if b is False]
    open_ = [t for t, (_, b) in per_tap.items() if b is None]
    if not at and not open_:
        return f"{label} below chance at every tap ({span})"
    parts = [f"at chance at {', '.join(at)}"] if at else []
    parts += [f"undecided at {', '.join(open_)}"] if open_ else []
    return f"{label} {'; '.join(parts)} ({span})"
