"""Jansson et al.'s claims (``shared/PAPERS.md`` section 003, "Claims", numbered in the order written there),
computed from the alignment table of ``stages/probe_alignment.py``.

1 shift → 0; 2 rot90/flip → 0 only with symmetric filters (2a rot90 with C4-symmetrised and isotropic
filters, 2b h-flip with isotropic filters, 2c high for ordinary random filters, 2d C4 symmetry does not
give the flip); 3 scale and shear stay high at every depth for every warp while input alignment works (3a
aligned ≥ WELL_ABOVE × baseline, 3b every candidate warp of the sweep too, 3c the baseline itself small);
4 a G-CNN needs the channel permutation for rot90; "L4.1" Lemma 4.1 on a linear layer; "trap" the δ
filters fake alignment (why the filters are constrained); 2e rot90/flip with trained filters (the first layers
of pipeline models, :mod:`eqlab.probes.alignment_trained`), which also join the families of claims 3a–3c.

"≈ 0" is float64 precision (:data:`EXACT`, relative); "high" is ≥ :data:`HIGH`; every residual is the mean
over the images, per depth, and a claim about "every depth" must hold at each one (no interval: the images
are one draw, and the exact claims do not need one).
"""

from __future__ import annotations

import pandas as pd

from eqlab.papers.jansson.tables import TRAINED, claim_families, family_name, residuals, sweep
from eqlab.report.claims import Claim, verdict_of

EXACT = 1e-12  # "≈ 0": float64 round-off of a few convolutions is ~1e-16 relative
HIGH = 0.25  # a residual this large is no alignment
WELL_ABOVE = 2.0  # "well above the baseline": at least this factor
INPUT_WORKS = 0.25  # input alignment "works": its residual stays below this at every depth
LEMMA_FACTOR = 0.25  # interpolated Lemma 4.1: at most this fraction of the residual of the unchanged filter


def _rows(df: pd.DataFrame, transforms, families, kind: str) -> pd.DataFrame:
    r = residuals(df)
    return r[r["transform"].isin(list(transforms)) & r.family.isin(list(families))].dropna(subset=[kind])


def _where(rows: pd.DataFrame, col: str, idx) -> str:
    r = rows.loc[idx]
    return f"{r[col]:.2g} ({r['transform']}, {family_name(r.family)}, depth {int(r.depth)})"


def _kinds(df: pd.DataFrame, prefix: tuple[str, ...]) -> list[str]:
    return [t for t in dict.fromkeys(df[df.check == "residual"]["transform"]) if t.startswith(prefix)]


def claim_shift(df: pd.DataFrame) -> Claim:
    """1: integer shifts align exactly (translation covariance), every family, every depth."""
    text = f"Translations always align: the aligned residual of an integer shift is ≈ 0 (< {EXACT:g}) at every depth"
    rows = _rows(df, _kinds(df, ("shift",)), df.family.unique(), "aligned")
    if rows.empty:
        return Claim("1", text, verdict_of(None), "needs a shift<dx>,<dy> transform in probe_alignment.transforms")
    ev = f"largest {_where(rows, 'aligned_max', rows.aligned_max.idxmax())} over {rows.family.nunique()} families"
    return Claim("1", text, verdict_of(bool((rows.aligned_max < EXACT).all())), ev)


def claim_symmetric(df: pd.DataFrame, sub: str, transform: str, families: tuple[str, ...]) -> Claim:
    """2a/2b: ``transform`` aligns (≈ 0 at every depth) with filters of ``families``."""
    names = " and ".join(family_name(f) for f in families)
    text = f"{transform} aligns with symmetric filters: aligned residual ≈ 0 (< {EXACT:g}) at every depth for {names}"
    rows = _rows(df, [transform], families, "aligned")
    if rows.empty or set(rows.family) != set(families):
        return Claim(sub, text, verdict_of(None), f"needs {transform} and the families {list(families)}")
    ev = f"largest {_where(rows, 'aligned_max', rows.aligned_max.idxmax())}"
    return Claim(sub, text, verdict_of(bool((rows.aligned_max < EXACT).all())), ev)


def claim_ordinary_high(df: pd.DataFrame) -> Claim:
    """2c: with ordinary (random) filters rot90 and h-flip stay high at every depth."""
    text = f"rot90 and h-flip do not align ordinary (random) filters: aligned residual ≥ {HIGH:g} at every depth"
    rows = _rows(df, ["rot90", "hflip"], ["random"], "aligned")
    if rows.empty:
        return Claim("2c", text, verdict_of(None), "needs rot90 or hflip and the random family")
    ev = f"smallest {_where(rows, 'aligned', rows.aligned.idxmin())}"
    return Claim("2c", text, verdict_of(bool((rows.aligned >= HIGH).all())), ev)


def claim_trained(df: pd.DataFrame) -> Claim:
    """2e: filters a CNN learned (the first layers of pipeline models) have no exact symmetry, so rot90 and
    h-flip leave a high residual at every depth — even for a net trained with rotation augmentation."""
    text = (f"rot90 and h-flip do not align trained filters (first layers of pipeline models): aligned residual "
            f"≥ {HIGH:g} at every depth")  # fmt: skip
    fams = [f for f in df.family.unique() if str(f).startswith(TRAINED)]
    rows = _rows(df, ["rot90", "hflip"], fams, "aligned")
    if rows.empty:
        return Claim("2e", text, verdict_of(None), "needs rot90 or hflip and probe_alignment.trained_runs")
    ev = f"smallest {_where(rows, 'aligned', rows.aligned.idxmin())} over {len(fams)} trained model(s)"
    return Claim("2e", text, verdict_of(bool((rows.aligned >= HIGH).all())), ev)


def claim_c4_no_flip(df: pd.DataFrame) -> Claim:
    """2d: only the matching symmetry helps: C4-symmetrised filters are not reflection-symmetric, so the
    h-flip does not align them (the residual is not ≈ 0 at any depth)."""
    text = "Only the matching symmetry aligns: h-flip does not align C4-symmetrised filters (residual not ≈ 0 at any depth)"
    rows = _rows(df, ["hflip"], ["c4"], "aligned")
    if rows.empty:
        return Claim("2d", text, verdict_of(None), "needs hflip and the c4 family")
    ev = f"smallest {_where(rows, 'aligned', rows.aligned.idxmin())}"
    return Claim("2d", text, verdict_of(bool((rows.aligned > 1e3 * EXACT).all())), ev)


def claim_scale_shear(df: pd.DataFrame) -> Claim:
    """3a: every scale and shear aligned residual ≥ WELL_ABOVE × the input-alignment baseline, at every depth,
    for every claim family."""
    text = (f"Scale and shear never align: the aligned residual stays ≥ {WELL_ABOVE:g} × the input-alignment "
            f"baseline at every depth, for random, C4-symmetrised, isotropic and trained filters")  # fmt: skip
    rows = _rows(df, _kinds(df, ("scale", "shear")), claim_families(df), "aligned")
    if rows.empty:
        return Claim("3a", text, verdict_of(None), "needs scale or shear transforms")
    ratio = rows.aligned / rows.input
    i = ratio.idxmin()
    r = rows.loc[i]
    ev = (f"smallest ratio {ratio[i]:.2f} ({r['transform']}, {family_name(r.family)}, depth {int(r.depth)}: "
          f"R {r.aligned:.3f} vs baseline {r.input:.3f}); {len(rows)} transform × family × depth cells")  # fmt: skip
    return Claim("3a", text, verdict_of(bool((ratio >= WELL_ABOVE).all())), ev)


def claim_no_warp(df: pd.DataFrame) -> Claim:
    """3b: no candidate warp of the sweep (scalings around 1/s, shears around −s) comes within WELL_ABOVE ×
    the baseline at any depth."""
    text = (f"No warp aligns scaled or sheared feature maps: every candidate T_g of the sweep leaves a residual "
            f"≥ {WELL_ABOVE:g} × the input-alignment baseline, at every depth (random, C4, isotropic, trained)")  # fmt: skip
    sw = sweep(df)
    sw = sw[sw.family.isin(claim_families(df))]
    if sw.empty:
        return Claim("3b", text, verdict_of(None), "needs the warp sweep (scale or shear transforms)")
    ratio = sw.residual / sw.input
    r = sw.loc[ratio.idxmin()]
    ev = (f"{sw.warp.nunique()} candidate warps over {sw['transform'].nunique()} transforms; closest: T_g = {r.warp} "
          f"for {r['transform']} ({family_name(r.family)}, depth {int(r.depth)}), ratio {ratio.min():.2f}")  # fmt: skip
    return Claim("3b", text, verdict_of(bool((ratio >= WELL_ABOVE).all())), ev)


def claim_input_works(df: pd.DataFrame) -> Claim:
    """3c: aligning the input (T_h⁻¹ before Λ) works: its residual, the round trip's interpolation loss, stays
    below INPUT_WORKS at every depth for every scale and shear."""
    text = f"Input alignment works: Λ T_h⁻¹ T_h f ≈ Λ f (residual < {INPUT_WORKS:g}) for every scale and shear, every depth"
    rows = _rows(df, _kinds(df, ("scale", "shear")), claim_families(df), "input")
    if rows.empty:
        return Claim("3c", text, verdict_of(None), "needs scale or shear transforms")
    ev = f"largest {_where(rows, 'input', rows.input.idxmax())}"
    return Claim("3c", text, verdict_of(bool((rows.input < INPUT_WORKS).all())), ev)


def claim_gcnn(df: pd.DataFrame) -> Claim:
    """4: in a C4 G-CNN (regular fields) rot90 aligns only with the channel permutation: ρ(h⁻¹)T_h⁻¹ ≈ 0, the
    spatial T_h⁻¹ alone ≥ HIGH, at every depth."""
    text = (f"A G-CNN needs the channel permutation: under rot90, ρ(h⁻¹) T_h⁻¹ aligns (< {EXACT:g}) while the "
            f"spatial warp T_h⁻¹ alone does not (≥ {HIGH:g}), at every depth")  # fmt: skip
    g = df[df.check == "gcnn"]
    perm, spatial = g[g.kind == "aligned+permutation"], g[g.kind == "aligned"]
    if perm.empty or spatial.empty:
        return Claim("4", text, verdict_of(None), "needs the G-CNN rows")
    ok = bool((perm.residual_max < EXACT).all() and (spatial.residual >= HIGH).all())
    ev = (f"with the permutation at most {perm.residual_max.max():.2g}; spatial only at least "
          f"{spatial.residual.min():.3f} over {spatial.depth.nunique()} depths")  # fmt: skip
    return Claim("4", text, verdict_of(ok), ev)


def claim_lemma41(df: pd.DataFrame) -> Claim:
    """L4.1: T_h⁻¹ Λ_λ T_h f = Λ_{|det A_h| λ(A_h ·)} f — exactly (< EXACT) for exact h, and for interpolated
    h within LEMMA_FACTOR of the residual left when the filter is not transformed."""
    text = (f"Lemma 4.1: inversely warping the feature map of T_h f equals filtering f with the transformed filter "
            f"|det A| λ(A·): exact (< {EXACT:g}) for exact h, and ≤ {LEMMA_FACTOR:g} × the untransformed filter's "
            f"residual for interpolated h")  # fmt: skip
    lem = df[df.check == "lemma41"].pivot_table(index="transform", columns="kind", values="residual", aggfunc="first")
    if lem.empty:
        return Claim("L4.1", text, verdict_of(None), "needs the lemma41 rows")
    moves = lem.untransformed_filter > 1e3 * EXACT  # translations: the filter does not change, both are 0
    exact = lem[~moves | (lem.lemma41 < EXACT)]
    interp = lem[moves & (lem.lemma41 >= EXACT)]
    ok = bool((interp.lemma41 <= LEMMA_FACTOR * interp.untransformed_filter).all())
    ev = f"exact at {', '.join(exact.index)}"
    if len(interp):
        worst = (interp.lemma41 / interp.untransformed_filter).idxmax()
        ev += (f"; interpolated worst {worst}: {interp.lemma41[worst]:.3f} vs {interp.untransformed_filter[worst]:.3f} "
               f"with the untransformed filter")  # fmt: skip
    return Claim("L4.1", text, verdict_of(ok), ev)


def claim_delta_loophole(df: pd.DataFrame) -> Claim:
    """trap: δ (pointwise) filters commute with every warp, so their aligned scale/shear residual falls below
    WELL_ABOVE × the baseline somewhere: the reason filters must be spread (min_spread)."""
    text = (f"Trap (the δ loophole): pointwise filters commute with every warp, so with δ filters some scale or "
            f"shear residual comes within {WELL_ABOVE:g} × the baseline; the claim families are guarded against it")  # fmt: skip
    rows = _rows(df, _kinds(df, ("scale", "shear")), ["delta"], "aligned")
    if rows.empty:
        return Claim("trap", text, verdict_of(None), "needs the delta family")
    ratio = rows.aligned / rows.input
    ev = f"δ filters: aligned / baseline from {ratio.min():.2f} to {ratio.max():.2f}"
    return Claim("trap", text, verdict_of(bool((ratio < WELL_ABOVE).any())), ev)


def all_claims(df: pd.DataFrame) -> list[Claim]:
    """Every claim of section 003 computed from the alignment table, in the order of PAPERS.md."""
    return [
        claim_shift(df),
        claim_symmetric(df, "2a", "rot90", ("c4", "isotropic")),
        claim_symmetric(df, "2b", "hflip", ("isotropic",)),
        claim_ordinary_high(df),
        claim_c4_no_flip(df),
        claim_trained(df),
        claim_scale_shear(df),
        claim_no_warp(df),
        claim_input_works(df),
        claim_gcnn(df),
        claim_lemma41(df),
        claim_delta_loophole(df),
    ]
