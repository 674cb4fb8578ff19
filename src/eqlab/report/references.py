"""Published numbers as data: ``references/published.csv`` (one cell per row, with its source), and
the published tables shown as printed or with our cells beside them (any paper)."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

COLUMNS = ("paper", "table", "row", "column", "value", "unit", "note", "source")
MAGNITUDE_UNITS = {"L_G"}  # printed as orders of magnitude (1e-5) in the papers' tables


def load_published(path: str | Path, paper: str | None = None) -> pd.DataFrame:
    df = pd.read_csv(path, dtype={"table": str, "value": float})
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: missing columns {missing}; expected {list(COLUMNS)}")
    if df["source"].isna().any():
        raise ValueError(f"{path}: every published number needs a source (rows {list(df.index[df.source.isna()])})")
    return df[df.paper == paper].reset_index(drop=True) if paper else df


def order_of_magnitude(x: float) -> str:
    """``1e<k>`` with k the nearest power of ten (how papers print L_G); "0" for zero or less."""
    if not x > 0:
        return "0"
    return f"1e{math.floor(math.log10(x) + 0.5)}"


def _fmt(v: float, unit: str | None, as_printed: str) -> str:
    return order_of_magnitude(v) if unit in MAGNITUDE_UNITS else as_printed.format(v)


def published_table(published: pd.DataFrame, table: str) -> pd.DataFrame:
    """A published table as rows × columns, in the paper's order, values as printed."""
    t = published[published.table == table]
    wide = t.pivot_table(index="row", columns="column", values="value", aggfunc="first")
    wide = wide.reindex(index=list(dict.fromkeys(t.row)), columns=list(dict.fromkeys(t.column)))
    unit = dict(zip(t.column, t.unit, strict=False))
    return wide.apply(lambda col: col.map(lambda v: _fmt(v, unit[col.name], "{:g}")))


def side_by_side(published: pd.DataFrame, ours: pd.DataFrame, table: str, profile: str) -> pd.DataFrame:
    """Published table ``table`` with ours beside every cell: columns (column, paper | ours) plus n.

    ``ours`` is long: ``table, row, column, value, n`` (a paper's runs mapped onto its published rows
    and columns). Rows in the paper's order, then rows only we have; "—" where a side has no value.
    Units in ``MAGNITUDE_UNITS`` are shown as orders of magnitude, like the papers print them."""
    pub = published[published.table == table]
    mine = ours[ours.table == table]
    rows = list(dict.fromkeys([*pub.row, *mine.row]))
    cols = list(dict.fromkeys([*pub.column, *[c for c in mine.column if c in set(pub.column)]]))
    unit = dict(zip(pub.column, pub.unit, strict=False))
    p = pub.pivot_table(index="row", columns="column", values="value", aggfunc="first")
    o = mine.pivot_table(index="row", columns="column", values="value", aggfunc="first")
    n = mine.groupby("row").n.max()

    def fmt(v: float, col: str) -> str:
        return "—" if pd.isna(v) else _fmt(v, unit.get(col), "{:.1f}")

    out = []
    for r in rows:
        rec: dict = {("", "model"): r}
        for c in cols:
            rec[(c, "paper")] = fmt(p.at[r, c] if r in p.index and c in p.columns else float("nan"), c)
            rec[(c, "ours")] = fmt(o.at[r, c] if r in o.index and c in o.columns else float("nan"), c)
        rec[("ours", "n")] = int(n.get(r, 0))
        out.append(rec)
    df = pd.DataFrame(out).set_index(("", "model"))
    df.index.name = f"model (ours: profile {profile})"
    df.columns = pd.MultiIndex.from_tuples(df.columns)
    return df
