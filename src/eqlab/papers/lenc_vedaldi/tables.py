"""The HOG map table (``stages/probe_hog_maps.py``: one row per transform × method × m × k) as the
paper's Fig. 6 and Table 2.

Methods are named by ``method`` and ``k`` columns (identity ``M_g = 1``, ``ls``, ``rr``, ``fs`` with k
non-zeros per row); ``m`` is the structured-sparsity neighbourhood side, <NA> for no spatial constraint.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

METHOD_NAMES = {"identity": "M_g = 1", "ls": "LS", "rr": "RR"}
# what survives of the paper's numbers for these figures (PAPERS.md: Table 2 lost its body)
NOT_RECOVERABLE = "published values not recoverable from the source"
GEOMETRY_NOTE = ("the paper's m sweep used a 15×15 HOG array; ours uses the same in_cells × in_cells → "
                 "out_cells × out_cells geometry as Fig. 6 left, enough for m ≤ in_cells")


def method_label(method: str, k: float | None) -> str:
    """``M_g = 1``, ``LS``, ``RR``, ``FS k=5``."""
    if method == "fs":
        return f"FS k={int(k)}"
    return METHOD_NAMES.get(method, method)


def with_labels(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with a ``label`` column (:func:`method_label`), in the table's order of methods."""
    out = df.copy()
    out["label"] = [method_label(m, k) for m, k in zip(out.method, out.k, strict=True)]
    return out


def labels_in_order(df: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(with_labels(df).label))


def unconstrained(df: pd.DataFrame) -> pd.DataFrame:
    """Rows with no spatial constraint on A_g (Fig. 6 left and centre), labelled."""
    return with_labels(df[df.m.isna()])


def kind_of(df: pd.DataFrame) -> pd.Series:
    """``rotation`` (angle set), ``scaling`` (scale set) or ``flip`` per row."""
    return pd.Series(np.where(df.angle.notna(), "rotation", np.where(df.scale.notna(), "scaling", "flip")),
                     index=df.index)


def transform_label(row: pd.Series) -> str:
    """``rot 45°``, ``scale 2^-0.5``, ``hflip``."""
    if pd.notna(row.angle):
        return f"rot {row.angle:g}°"
    if pd.notna(row.scale):
        return f"scale 2^{math.log2(row.scale):+.3g}"
    return str(row["transform"])


def fig6_table(df: pd.DataFrame) -> pd.DataFrame:
    """Mean test Hellinger error, transforms × methods (Fig. 6 left and centre, and the flips), with
    RR's validated λ."""
    rows = unconstrained(df)
    rows = rows.assign(g=rows.apply(transform_label, axis=1), kind=kind_of(rows))
    wide = rows.pivot_table(index=["kind", "g"], columns="label", values="hellinger_error", aggfunc="first", sort=False)
    wide = wide[labels_in_order(rows)]
    lam = rows[rows.method == "rr"].set_index(["kind", "g"]).lam.rename("RR λ")
    return wide.join(lam).rename_axis(index=["", "g"], columns=None)


def table2(df: pd.DataFrame) -> pd.DataFrame:
    """The m sweep at the sweep angle (Fig. 6 right, Table 2): per neighbourhood m, each method's test
    error, the inputs each output row may read (the regression's size, which the fit cost grows with)
    and FS's non-zeros, beside the unconstrained fit at the same angle."""
    swept = df[df.m.notna()]
    if swept.empty:
        return pd.DataFrame()
    angle = swept.angle.iloc[0]
    rows = with_labels(df[(df.angle == angle)])
    rows = rows.assign(neighbourhood=[f"m = {int(m)}" if pd.notna(m) else "none (all cells)" for m in rows.m])
    order = list(dict.fromkeys([*[f"m = {int(m)}" for m in sorted(swept.m.unique())], "none (all cells)"]))
    err = rows.pivot_table(index="neighbourhood", columns="label", values="hellinger_error", aggfunc="first")
    err = err.reindex(index=order, columns=labels_in_order(rows[rows.method != "identity"]))
    size = rows.groupby("neighbourhood").inputs_per_row.first().reindex(order).rename("inputs per row")
    fs = rows[rows.method == "fs"]
    nz = fs[fs.k == fs.k.max()].groupby("neighbourhood").nonzeros.first().reindex(order)
    out = err.join(size).join(nz.rename(f"non-zeros of A_g (FS k={int(fs.k.max())})"))
    out.index.name = f"rot {angle:g}°"
    return out


def nonzero_fraction(df: pd.DataFrame, k: int) -> float:
    """FS with ``k`` non-zeros per row, unconstrained: the share of A_g's d_out × d_in coefficients that are
    non-zero, averaged over transforms (%), as the paper's Sec. 5.2.1 quotes it."""
    rows = df[(df.method == "fs") & (df.k == k) & df.m.isna()]
    return float((rows.nonzeros / (rows.d_out * rows.d_in)).mean() * 100) if len(rows) else math.nan


def fig7_table(df: pd.DataFrame) -> pd.DataFrame:
    """Test accuracy (%) with its 95 % interval, transforms × (uncompensated, LS, RR, FS)."""
    rows = df[df.method != "original"]
    rows = rows.assign(g=rows.apply(transform_label, axis=1),
                       cell=[f"{100 * a:.1f} [{100 * lo:.1f}, {100 * hi:.1f}]"
                             for a, lo, hi in zip(rows.accuracy, rows.ci_low, rows.ci_high, strict=True)])  # fmt: skip
    wide = rows.pivot_table(index="g", columns="method", values="cell", aggfunc="first", sort=False)
    names = {"none": "uncompensated", "ls": "LS", "rr": "RR", "fs": "FS"}
    return wide[[m for m in names if m in wide.columns]].rename(columns=names).rename_axis(index="g", columns=None)
