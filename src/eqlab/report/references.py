"""Published numbers as data: ``references/published.csv`` (one cell per row, with its source), and
the published tables shown as printed or with our cells beside them (any paper)."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
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


NO_RUN = "no run of ours (none in train.models)"
NOTE = ("note", "why —")


def _group(column: str) -> str:
    """A column's family for the notes: its first word when it has several ("ResNet18 stage1" → ResNet18)."""
    return column.split(" ", 1)[0] if " " in column else column


def gap_notes(paper: pd.DataFrame, ours: pd.DataFrame, reasons: Iterable[tuple[str, str]] = ()) -> pd.Series:
    """Why cells read "—", one note per row, from which cells each side has.

    ``paper`` and ``ours``: wide tables (rows × columns) on the same index and columns, NaN where that
    side has no value. A row with no cell of ours: the first of ``reasons`` (regex on the row label,
    reason) whose pattern matches, else that no run of ours maps there; a row with no published cell:
    ours only. In a row with both, the columns that lack ours: "paper-only column" when no row of ours
    has them, "no <family> run" when a whole column family (first word: ResNet18, VGG) is missing,
    else named one by one; and the columns the paper leaves empty. Empty when nothing is missing."""
    reasons = tuple(reasons)
    has_p, has_o = paper.notna(), ours.notna()
    measured = set(ours.columns[has_o.any(axis=0)])
    families: dict[str, list[str]] = {}
    for c in paper.columns:
        families.setdefault(_group(c), []).append(c)
    notes = {}
    for r in paper.index:
        p, o = set(paper.columns[has_p.loc[r]]), set(ours.columns[has_o.loc[r]])
        if not p:
            notes[r] = "ours only: not in the paper" if o else ""
            continue
        if not o:
            notes[r] = next((why for pattern, why in reasons if re.search(pattern, str(r))), NO_RUN)
            continue
        missing = [c for c in paper.columns if c in p and c not in o]
        parts = []
        if never := [c for c in missing if c not in measured]:
            parts.append("paper-only column" + ("s" if len(never) > 1 else "") + ": " + ", ".join(never))
        rest = [c for c in missing if c in measured]
        for fam, cols in families.items():
            if len(cols) > 1 and all(c in rest for c in cols):
                parts.append(f"no {fam} run of ours")
                rest = [c for c in rest if c not in cols]
        if rest:
            parts.append("ours has no " + ", ".join(rest))
        if unprinted := [c for c in paper.columns if c in o and c not in p]:
            parts.append("not printed in the paper: " + ", ".join(unprinted))
        notes[r] = "; ".join(parts)
    return pd.Series(notes, dtype=object).reindex(paper.index)


def side_by_side(
    published: pd.DataFrame, ours: pd.DataFrame, table: str, profile: str, reasons: Iterable[tuple[str, str]] = ()
) -> pd.DataFrame:
    """Published table ``table`` with ours beside every cell: columns (column, paper | ours), n, and a
    note saying why cells read "—" (:func:`gap_notes`, with the paper's ``reasons``).

    ``ours`` is long: ``table, row, column, value, n`` and optionally ``ci`` (a paper's runs mapped onto its
    published rows and columns; ``ci``: the half-width of the 95 % interval over seeds, shown as ± where
    it exists and the unit is not an order of magnitude). Rows in the paper's order, then rows only we have; "—" where a side has no value.
    Units in ``MAGNITUDE_UNITS`` are shown as orders of magnitude, like the papers print them."""
    pub = published[published.table == table]
    mine = ours[ours.table == table]
    rows = list(dict.fromkeys([*pub.row, *mine.row]))
    cols = list(dict.fromkeys([*pub.column, *[c for c in mine.column if c in set(pub.column)]]))
    unit = dict(zip(pub.column, pub.unit, strict=False))
    wide = dict(index="row", columns="column", values="value", aggfunc="first")
    p = pub.pivot_table(**wide).reindex(index=rows, columns=cols)
    o = mine.pivot_table(**wide).reindex(index=rows, columns=cols)
    ci = mine.pivot_table(**{**wide, "values": "ci"}).reindex(index=rows, columns=cols) if "ci" in mine else None
    n = mine.groupby("row").n.max()
    notes = gap_notes(p, o, reasons)

    def fmt(v: float, col: str, half: float = float("nan")) -> str:
        if pd.isna(v):
            return "—"
        plain = unit.get(col) in MAGNITUDE_UNITS or pd.isna(half)
        return _fmt(v, unit.get(col), "{:.1f}" if plain else f"{{:.1f}} ± {half:.1f}")

    out = []
    for r in rows:
        rec: dict = {("", "model"): r}
        for c in cols:
            rec[(c, "paper")] = fmt(p.at[r, c], c)
            rec[(c, "ours")] = fmt(o.at[r, c], c, float("nan") if ci is None else ci.at[r, c])
        rec[("ours", "n")] = int(n.get(r, 0))
        rec[NOTE] = notes[r]
        out.append(rec)
    df = pd.DataFrame(out).set_index(("", "model"))
    df.index.name = f"model (ours: profile {profile})"
    df.columns = pd.MultiIndex.from_tuples(df.columns)
    return df
