"""The alignment table (``stages/probe_alignment.py``: one row per check × family × transform × kind × warp
× depth, :data:`eqlab.probes.alignment.COLUMNS`) as the report's tables.

``check`` is ``residual`` (kinds ``aligned`` = T_h⁻¹ after Λ, ``unaligned`` = no warp, ``input`` = T_h⁻¹
before Λ, the input-alignment baseline), ``warp_sweep`` (kind ``candidate``, ``warp_offset`` u: T_g is the
scaling 2^u/s or the shear −s + u; u = 0 is T_h⁻¹), ``gcnn`` (``aligned``, ``aligned+permutation``,
``unaligned``) or ``lemma41`` (``lemma41``, ``untransformed_filter``). ``residual`` is the mean over the
images, ``residual_max`` the largest.
"""

from __future__ import annotations

import pandas as pd

FAMILY_NAMES = {"random": "random", "c4": "C4-symmetrised", "isotropic": "isotropic", "delta": "δ (loophole control)"}
KINDS = ("aligned", "unaligned", "input")
CLAIM_FAMILIES = ("random", "c4", "isotropic")  # the δ family shows the loophole the guard closes
NO_EXPERIMENTS = ("Paper 003 is a theory paper: it has no experiments, no tables and no published numbers. "
                  "Everything below is a numerical check of its statements on conv stacks with untrained and "
                  "trained filters, except the extension at the end, which is ours.")  # fmt: skip


TRAINED = "trained_"  # trained_<run>: the first layers of a pipeline model (eqlab.probes.alignment_trained)


def family_name(family: str) -> str:
    if family.startswith(TRAINED):
        return f"trained ({family[len(TRAINED):]})"
    return FAMILY_NAMES.get(family, family)


def claim_families(df: pd.DataFrame) -> list[str]:
    """The families the scale/shear claims are about: the untrained claim families and every trained one."""
    return [*CLAIM_FAMILIES, *sorted(f for f in df.family.unique() if str(f).startswith(TRAINED))]


def residuals(df: pd.DataFrame) -> pd.DataFrame:
    """The ``residual`` rows as transform × family × depth with columns ``aligned``, ``unaligned``, ``input``
    (image means) and ``aligned_max`` (the largest over the images)."""
    res = df[df.check == "residual"]
    if res.empty:
        return pd.DataFrame(columns=["transform", "family", "depth", *KINDS, "aligned_max"])
    wide = res.pivot_table(index=["transform", "family", "depth"], columns="kind", values="residual",
                           aggfunc="first", sort=False).reindex(columns=list(KINDS))  # fmt: skip
    worst = res[res.kind == "aligned"].set_index(["transform", "family", "depth"]).residual_max
    return wide.assign(aligned_max=worst).reset_index()


def residual_table(df: pd.DataFrame) -> pd.DataFrame:
    """One row per transform and family, over the depths: the aligned residual's range, the unaligned
    residual's smallest value, the input baseline's largest and the smallest ratio aligned / baseline."""
    r = residuals(df)
    r = r.assign(ratio=r.aligned / r.input)
    g = r.groupby(["transform", "family"], sort=False)
    out = pd.DataFrame({
        "aligned R, min over depths": g.aligned.min(),
        "aligned R, max over depths": g.aligned.max(),
        "unaligned R, min": g.unaligned.min(),
        "input baseline, max": g.input.max(),
        "aligned / baseline, min": g.ratio.min(),
    }).reset_index()  # fmt: skip
    out["family"] = out.family.map(family_name)
    return out.rename(columns={"transform": "T_h"}).set_index(["T_h", "family"])


def sweep(df: pd.DataFrame) -> pd.DataFrame:
    """The warp-sweep rows with the input baseline of the same family, transform and depth (``input``)."""
    sw = df[df.check == "warp_sweep"]
    base = residuals(df).set_index(["transform", "family", "depth"]).input
    return sw.join(base, on=["transform", "family", "depth"])


def sweep_table(df: pd.DataFrame) -> pd.DataFrame:
    """Per swept transform and family: the best candidate warp (smallest residual over candidates and
    depths' worst case), its residual, and that residual over the baseline at the same depth (minimum)."""
    sw = sweep(df)
    if sw.empty:
        return pd.DataFrame()
    rows = []
    for (h, fam), sub in sw.groupby(["transform", "family"], sort=False):
        best = sub.loc[sub.residual.idxmin()]
        rows.append({"T_h": h, "family": family_name(fam), "candidates": sub.warp.nunique(),
                     "best T_g": best.warp, "at depth": int(best.depth), "its R": best.residual,
                     "min over candidates and depths of R / baseline": float((sub.residual / sub.input).min())})  # fmt: skip
    return pd.DataFrame(rows).set_index(["T_h", "family"])


def gcnn_table(df: pd.DataFrame) -> pd.DataFrame:
    """The G-CNN under rot90: depth × kind (image means)."""
    g = df[df.check == "gcnn"]
    return g.pivot_table(index="depth", columns="kind", values="residual", aggfunc="first", sort=False)


def lemma_table(df: pd.DataFrame) -> pd.DataFrame:
    """Lemma 4.1 per transform: T_h⁻¹ Λ_λ T_h f against Λ_{λ_h} f (the lemma) and against Λ_λ f."""
    lem = df[df.check == "lemma41"]
    out = lem.pivot_table(index="transform", columns="kind", values="residual", aggfunc="first", sort=False)
    return out.rename(columns={"lemma41": "vs Λ_{|det A| λ(A·)} f (Lemma 4.1)", "untransformed_filter": "vs Λ_λ f"})


def sizes(df: pd.DataFrame) -> dict[str, int]:
    """Images, depth and crop side of the table."""
    res = df[df.check == "residual"]
    return {"n_images": int(res.n_images.max()), "depth": int(res.depth.max()), "crop": int(res.crop.max())}
