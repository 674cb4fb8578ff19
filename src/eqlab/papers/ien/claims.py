"""IEN's claims (``shared/IEN.md``, "Claims a miniature must confirm", numbered as there), computed.

Claim ids: 1 ordering E2CNN ≪ IEN ≪ CNN-aug (1a: the e2cnn twins read ≈ 0, the check on metric and
group actions; 1b: IEN below CNN-aug and below chance, :mod:`eqlab.report.chance`), 2 monotone in β, 3 augmentation (3a accuracy, 3b error kept),
4 accuracy parity, 5 Het-IEN, 6 scale (IEN below CNN-aug on Scale-MNIST).

Models are selected by ``kind`` and β (run metadata), never by parsing a displayed label.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from eqlab.papers.ien.claims_all import claim_e2cnn_exact_all, claim_het_tim, claim_ien_below_aug_all, exact
from eqlab.papers.ien.tables import LAYERS, by_model, table5_label
from eqlab.report.chance import chance_table, describe_model_chance, model_chance
from eqlab.report.claims import Claim, verdict_of
from eqlab.report.intervals import (
    MIN_SEEDS,
    below_at_taps,
    combine,
    decide_sign,
    decide_within,
    difference_interval,
    log_gap,
    ratio_text,
    runs_of,
    seed_note,
)


def _layers(by: pd.DataFrame) -> list[str]:
    return [c for c in LAYERS if c in by.columns]


def _model(by: pd.DataFrame, kind: str) -> str | None:
    """The label of the (first) model of this kind, if any."""
    labels = by.index[by.kind == kind]
    return labels[0] if len(labels) else None


# ---------------------------------------------------------------------------------------------------
# Rot-MNIST (Table 5): ``ours`` is the per-run table of ``tables.ours_table5``; a model is its label
# (``row``) and its runs are its seeds. Differences are decided by 95 % intervals over the seeds
# (:mod:`eqlab.report.intervals`); a model with fewer than three seeds gets no verdict.


def claim_e2cnn_exact(ours_abs: pd.DataFrame, bound: float = 1e-9) -> Claim:
    """The check on metric and group actions: an exactly C4-equivariant net reads ≈ 0 at every layer, in
    every run (a property of the construction, so one run decides it)."""
    text = f"E2CNN (C4) absolute L_G ≤ {bound:g} at every tapped layer (metric and group actions are right)"
    by = by_model(ours_abs)
    e2 = _model(by, "E2CNN")
    if e2 is None:
        return Claim("1a", text, verdict_of(None), "needs an E2CNN run")
    vals = runs_of(ours_abs, e2)[_layers(by)].astype(float).max()
    n = len(runs_of(ours_abs, e2))
    return Claim(
        "1a", text, verdict_of(exact(vals, bound)), f"max {vals.max():.1e} (at {vals.idxmax()}) over {n} runs", n=n
    )


def claim_ordering(ours_rel: pd.DataFrame) -> Claim:
    """Claim 1: E2CNN ≪ IEN ≪ CNN-aug at every tapped layer (relative error, each IEN and Het-IEN model),
    each inequality decided by the interval of the log gap over seeds."""
    text = "Equivariance ordering at every layer: E2CNN < IEN (every β) < CNN-aug"
    by = by_model(ours_rel)
    e2, aug = _model(by, "E2CNN"), _model(by, "CNN-aug")
    iens = list(by.index[by.kind.isin(["IEN", "Het"])])
    if e2 is None or aug is None or not iens:
        return Claim("1", text, verdict_of(None), "needs E2CNN, CNN-aug and IEN runs")
    taps = _layers(by)
    verdicts, bad, undecided = [], [], []
    for label in iens:
        r = runs_of(ours_rel, label)
        _, above_e2, not_above = below_at_taps(runs_of(ours_rel, e2), r, taps)
        _, below_aug, not_below = below_at_taps(r, runs_of(ours_rel, aug), taps)
        verdicts += [above_e2, below_aug]
        bad += [f"{label} not above E2CNN at {t}" for t in not_above] + [
            f"{label} not below CNN-aug at {t}" for t in not_below
        ]
        if combine([above_e2, below_aug]) is None and not (not_above or not_below):
            undecided.append(f"{label} (n = {len(r)})")
    ev = f"{len(iens)} IEN models × {len(taps)} layers"
    ev += "; violations: " + ", ".join(bad) if bad else ""
    ev += "; undecided (interval or < 3 seeds): " + ", ".join(undecided) if undecided else ""
    return Claim("1", text, verdict_of(combine(verdicts)), ev)


def claim_ien_below_aug(ours_rel: pd.DataFrame, chance: pd.DataFrame) -> list[Claim]:
    """Claim 1 (IEN ≪ CNN-aug), per IEN model: relative error below CNN-aug's *and* below chance at every
    tapped layer, both by 95 % intervals over seeds (:func:`eqlab.report.chance.model_chance`); where
    CNN-aug itself sits at chance the evidence says so. ``chance``: :func:`eqlab.report.chance.chance_table`."""
    by = by_model(ours_rel)
    aug = _model(by, "CNN-aug")
    text = "relative equivariance error below CNN-aug's and below chance at every tapped layer"
    if aug is None:
        return [Claim("1b", f"IEN {text}", verdict_of(None), "needs a CNN-aug run")]
    taps = _layers(by)
    a = runs_of(ours_rel, aug)
    aug_chance = model_chance(chance, list(a.index))
    out = []
    for label in by.index[by.kind == "IEN"]:
        r = runs_of(ours_rel, label)
        gaps, below_aug, worse = below_at_taps(r, a, taps)
        own = model_chance(chance, list(r.index))
        below_chance = combine(b for _, b in own.values()) if own else None
        evidence = "IEN/CNN-aug per layer: " + ", ".join(f"{t} {ratio_text(iv)}" for t, iv in gaps.items())
        evidence += f"; not below CNN-aug at {', '.join(worse)}" if worse else ""
        evidence += (
            f"; {describe_model_chance(own, label)}; {describe_model_chance(aug_chance, aug)}; {seed_note(r, a)}"
        )
        out.append(
            Claim(
                "1b",
                f"{label}: {text}",
                verdict_of(combine([below_aug, below_chance])),
                evidence,
                n=min(len(r), len(a)),
            )
        )
    return out


def claim_beta_monotone(ours_rel: pd.DataFrame) -> Claim:
    """Claim 2: IEN's error falls monotonically as β rises, at every layer: each step to the next larger β
    lowers the error, decided by the interval of the log gap over seeds."""
    text = "IEN relative equivariance error falls monotonically as β rises, at every layer"
    by = by_model(ours_rel)
    by = by[by.kind == "IEN"].sort_values("beta")
    if len(by) < 2:
        return Claim("2", text, verdict_of(None), "needs at least two IEN runs with different β")
    verdicts, bad = [], []
    for lo, hi in zip(by.index[:-1], by.index[1:]):
        _, falls, not_falling = below_at_taps(runs_of(ours_rel, hi), runs_of(ours_rel, lo), _layers(by))
        verdicts.append(falls)
        bad += [f"{lo} → {hi} at {t}" for t in not_falling]
    betas = ", ".join(f"{b:g} (n = {n})" for b, n in zip(by.beta, by.n))
    return Claim(
        "2", text, verdict_of(combine(verdicts)), f"β = {betas}" + (f"; not falling: {', '.join(bad)}" if bad else "")
    )


def claim_last_layer_largest(ours_rel: pd.DataFrame) -> Claim:
    """Claim 2, second half: for IEN the error is usually largest at the last layer — in the majority
    of IEN runs (every β and seed; ≥ 3 runs) the relative error peaks at the last tapped layer."""
    text = "IEN relative equivariance error is usually largest at the last tapped layer"
    iens = ours_rel[ours_rel.kind == "IEN"]
    layers = [c for c in LAYERS if c in iens.columns]
    if len(iens) < MIN_SEEDS or len(layers) < 2:
        return Claim("2b", text, verdict_of(None), f"needs ≥ {MIN_SEEDS} IEN runs with ≥ 2 tapped layers")
    peaks = iens[layers].astype(float).idxmax(axis=1)
    last = int((peaks == layers[-1]).sum())
    counts = peaks.groupby(iens.row, sort=False).agg(lambda p: f"{(p == layers[-1]).sum()}/{len(p)}")
    ev = "runs peaking there per model: " + ", ".join(f"{k} {v}" for k, v in counts.items())
    return Claim(
        "2b",
        text,
        verdict_of(last > len(iens) / 2),
        f"{last} of {len(iens)} runs peak at {layers[-1]}; {ev}",
        n=len(iens),
    )


def claim_aug_keeps_error(ours_rel: pd.DataFrame, factor: float = 3.0) -> Claim:
    """Claim 3b: augmentation does not lower intermediate equivariance error: CNN-aug/CNN above 1/factor
    at every inner layer (the interval of the log ratio over seeds above −log10(factor))."""
    text = f"Augmentation leaves intermediate equivariance error within ×{factor:g} of the unaugmented CNN"
    by = by_model(ours_rel)
    aug, cnn = _model(by, "CNN-aug"), _model(by, "CNN")
    if aug is None or cnn is None:
        return Claim("3b", text, verdict_of(None), "needs CNN and CNN-aug runs")
    a, c = runs_of(ours_rel, aug), runs_of(ours_rel, cnn)
    gaps = {t: log_gap(a, c, t) for t in _layers(by)[:-1]}
    shift = np.log10(factor)  # above 1/factor ⇔ log gap + log10(factor) > 0
    ok = combine(decide_sign(iv + shift) for iv in gaps.values())
    ev = (
        "CNN-aug / CNN per layer: "
        + ", ".join(f"{t} {ratio_text(iv)}" for t, iv in gaps.items())
        + f"; {seed_note(a, c)}"
    )
    return Claim("3b", text, verdict_of(ok), ev, n=min(len(a), len(c)))


def claim_aug_accuracy(ours: pd.DataFrame) -> Claim:
    """Claim 3a: augmentation raises accuracy (the interval of the accuracy gap over seeds above 0)."""
    text = "CNN-aug accuracy above CNN (no aug) accuracy"
    by = by_model(ours)
    aug, cnn = _model(by, "CNN-aug"), _model(by, "CNN")
    if aug is None or cnn is None:
        return Claim("3a", text, verdict_of(None), "needs both a CNN and a CNN-aug run")
    a, c = runs_of(ours, aug), runs_of(ours, cnn)
    iv = difference_interval(a.acc.astype(float), c.acc.astype(float))
    return Claim(
        "3a",
        text,
        verdict_of(decide_sign(iv)),
        f"CNN-aug {a.acc.mean():.2f} % vs CNN {c.acc.mean():.2f} %: gap {iv.format(1, signed=True)} points; "
        f"{seed_note(a, c)}",
        interval=iv.bounds,
        n=iv.n,
    )


def claim_accuracy_parity(ours: pd.DataFrame, tolerance: float = 1.0) -> Claim:
    """Claim 4: with a good β (chosen on validation, never test), IEN within ``tolerance`` points of CNN-aug
    and of E2CNN: each gap's 95 % interval over seeds inside ±tolerance (outside it wholly: does not hold)."""
    text = f"Best-β IEN within {tolerance:g} point of CNN-aug and E2CNN (Rot-MNIST, 95 % interval over ≥ {MIN_SEEDS} seeds)"
    summ = by_model(ours)
    iens = summ[summ.kind == "IEN"]
    aug, e2 = _model(summ, "CNN-aug"), _model(summ, "E2CNN")
    if iens.empty or aug is None or e2 is None:
        return Claim("4", text, verdict_of(None), "needs IEN, CNN-aug and E2CNN runs")
    best = iens.val_acc.idxmax() if "val_acc" in iens else iens.acc.idxmax()  # chosen on validation, never test
    b = runs_of(ours, best).acc.astype(float)
    gaps = {k: difference_interval(b, runs_of(ours, k).acc.astype(float)) for k in (aug, e2)}
    ev = (
        f"{best} (best β on validation): {b.mean():.2f} %; gap to "
        + ", ".join(f"{k} {iv.format(1, signed=True)}" for k, iv in gaps.items())
        + " points"
    )
    ok = combine(decide_within(iv, tolerance) for iv in gaps.values())
    n = min(iv.n for iv in gaps.values())
    if n < MIN_SEEDS:
        ev += f"; n = {n} < {MIN_SEEDS} seeds, not established"
    widest = max(gaps.values(), key=lambda iv: abs(iv.estimate))
    return Claim("4", text, verdict_of(ok), ev, interval=widest.bounds, n=n)


def _full_ratio(full: pd.DataFrame | None, het: pd.DataFrame, twin: pd.DataFrame, label: str) -> str:
    if full is None or not (full.row == label).any():
        return ""
    f = runs_of(full, label)
    layers = [c for c in LAYERS if c in f.columns and c in twin.columns]
    ratio = (f[layers].astype(float).mean() / twin[layers].astype(float).mean()).dropna()
    return f", full C4 reading {ratio.min():.2g}–{ratio.max():.2g}" if len(ratio) else ""


def claim_het(ours_abs: pd.DataFrame, ours_abs_full: pd.DataFrame | None = None) -> list[Claim]:
    """Claim 5 on Rot-MNIST: Het-IEN (≈ 69 % channels) loses ≤ 2 points against IEN at the same β (the
    interval of the drop below 2), with equivariance error of the same order (the interval of the log ratio
    within ±1 decade at every layer). L_G is read as the loss reads it (each block answers for its own
    rotations; decides the verdict) and, when ``ours_abs_full`` is given, as the full C4 metric over every
    group (:mod:`eqlab.probes.chance`), both ratios in the evidence."""
    by = by_model(ours_abs)
    full = ours_abs_full if ours_abs_full is not None and len(ours_abs_full) else None
    out = []
    for label in by.index[by.kind == "Het"]:
        beta = float(by.at[label, "beta"])
        twin = table5_label("IEN", beta)
        text = f"{label}: within 2 points of {twin} and L_G of the same order (×10) at every layer"
        if twin not in by.index:
            out.append(Claim("5", text, verdict_of(None), f"needs an {twin} run"))
            continue
        h, t = runs_of(ours_abs, label), runs_of(ours_abs, twin)
        drop = difference_interval(t.acc.astype(float), h.acc.astype(float))
        small_drop = decide_sign(-drop + 2)
        gaps = {c: log_gap(h, t, c) for c in _layers(by)}
        same_order = combine(decide_within(iv, 1.0) for iv in gaps.values())
        ratios = [10**iv.estimate for iv in gaps.values()]
        out.append(
            Claim(
                "5",
                text,
                verdict_of(combine([small_drop, same_order])),
                f"accuracy {h.acc.mean():.2f} vs {t.acc.mean():.2f} % (drop {drop.format(1, signed=True)} points); "
                f"L_G ratio per block {min(ratios):.2g}–{max(ratios):.2g}"
                + _full_ratio(full, h, t, label)
                + f"; {seed_note(h, t)}",
                n=drop.n,
            )
        )
    return out


def all_claims(results: pd.DataFrame, runs: pd.DataFrame) -> list[Claim]:
    """Every IEN claim over the collected tables, in the report's order (the notebook and
    ``eqlab compare`` both call this)."""
    from eqlab.papers.ien.tables import ours_cells, ours_table5

    ours_abs, ours_rel = ours_table5(results, runs, "abs"), ours_table5(results, runs, "rel")
    return [
        claim_e2cnn_exact(ours_abs),
        claim_ordering(ours_rel),
        claim_beta_monotone(ours_rel),
        claim_last_layer_largest(ours_rel),
        claim_aug_keeps_error(ours_rel),
        claim_aug_accuracy(ours_abs),
        *claim_ien_below_aug(ours_rel, chance_table(results)),
        claim_accuracy_parity(ours_abs),
        *claim_het(ours_abs, ours_table5(results, runs, "abs_full")),
        *claim_het_tim(ours_cells(results, runs), runs),
        *claim_e2cnn_exact_all(results, runs),
        *claim_ien_below_aug_all(results, runs),
    ]
