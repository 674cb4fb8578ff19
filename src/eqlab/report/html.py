"""Tables as HTML for the report notebooks: every row, column and character shown, long text wrapped,
claim verdicts coloured.

A DataFrame displayed in a notebook goes through pandas' notebook repr, which cuts frames at 20
columns and 60 rows ("…", "18 rows × 21 columns") and every cell at 50 characters. The functions here
render through :class:`pandas.io.formats.style.Styler`, which has no such limits; the styles travel
with the table as a ``<style>`` block scoped by the table's id, so they survive the HTML export. Cell
text is HTML-escaped (claims contain "<").
"""

from __future__ import annotations

import html
from collections.abc import Hashable, Iterable, Mapping
from typing import Any

import pandas as pd

from eqlab.report.claims import FAILS, HOLDS, OPEN

# (class, background, text colour) per verdict: holds green, does not hold red, not established amber
VERDICT_STYLE = {
    HOLDS: ("verdict-holds", "#d4edda", "#155724"),
    FAILS: ("verdict-fails", "#f8d7da", "#721c24"),
    OPEN: ("verdict-open", "#fff3cd", "#665200"),
}
WRAP = "text-align: left; white-space: normal; overflow-wrap: anywhere; min-width: 14em; max-width: 40em;"


def _styler(df: pd.DataFrame, uuid: str, formats: Mapping[str, Any] | None, precision: int, na_rep: str):
    styler = df.style.set_uuid(uuid).format(precision=precision, na_rep=na_rep, escape="html")
    own = {k: v for k, v in (formats or {}).items() if k in df.columns}
    if own:  # only these columns: a dict alone would reset every other column's formatting
        styler = styler.format(own, subset=list(own), na_rep=na_rep, escape="html")
    styler = styler.format_index(escape="html", axis=0).format_index(escape="html", axis=1)
    # numbers and labels on one line (a wide table scrolls rather than breaking "1e-11" in two); row
    # labels on the left (the notebook stylesheet right-aligns every cell)
    return styler.set_table_styles(
        [
            {"selector": "td", "props": "white-space: nowrap;"},
            {"selector": "th.row_heading", "props": "text-align: left; white-space: nowrap;"},
        ],
        overwrite=False,
    )


def _wrapped(styler, columns: Iterable[str]):
    cols = [c for c in columns if c in styler.data.columns]
    styles = {c: [{"selector": "td", "props": WRAP}, {"selector": "th", "props": "text-align: left;"}] for c in cols}
    return styler.set_table_styles(styles, overwrite=False)


def _letter(i: int) -> str:
    """0 → a, 25 → z, 26 → aa, …: footnote marks."""
    out = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        out = chr(ord("a") + r) + out
    return out


def footnoted(df: pd.DataFrame, column: Hashable) -> tuple[pd.DataFrame, dict[str, str]]:
    """``df`` with each distinct non-empty note in ``column`` replaced by a mark (a, b, …, in order of
    first appearance), and the notes by mark."""
    marks: dict[str, str] = {}
    for note in df[column]:
        if note and note not in marks:
            marks[note] = _letter(len(marks))
    out = df.copy()
    out[column] = [marks.get(note, "") if note else "" for note in df[column]]
    return out, {mark: note for note, mark in marks.items()}


def table_html(
    df: pd.DataFrame,
    uuid: str,
    formats: Mapping[str, Any] | None = None,
    wrap: Iterable[str] = (),
    precision: int = 3,
    na_rep: str = "—",
    index: bool = True,
    notes: Hashable | None = None,
) -> str:
    """``df`` as one HTML table, complete: every row, every column, every character of every cell.

    ``uuid`` names the table (its id and the scope of its styles; give each table in a notebook its own,
    so the output is the same bytes on every run). ``formats``: per-column format strings or callables;
    other numbers get ``precision`` digits. ``wrap``: text columns wrapped and left-aligned. ``notes``: a
    column of notes, shown as marks (a, b, …) with each note spelled out once under the table."""
    legend: dict[str, str] = {}
    if notes is not None and notes in df.columns:
        df, legend = footnoted(df, notes)
    styler = _wrapped(_styler(df, uuid, formats, precision, na_rep), wrap)
    if not index:
        styler = styler.hide(axis="index")
    out = styler.to_html()
    if legend:
        items = "<br>\n".join(f"<b>{m}</b>: {html.escape(note)}" for m, note in legend.items())
        out += f'<p class="table-notes" style="font-size: 0.9em; margin-top: 0.3em;">\n{items}\n</p>\n'
    return out


def verdict_html(table: pd.DataFrame, uuid: str = "verdicts") -> str:
    """A verdict table (:func:`eqlab.report.claims.verdict_table`) as HTML: the claim ids as the first
    column (no positional index), full claim and evidence text wrapped, and every verdict cell of class
    ``verdict`` plus ``verdict-holds`` / ``verdict-fails`` / ``verdict-open``, coloured green / red / amber."""
    text_cols = [c for c in table.columns if c not in ("id", "verdict", "interval", "n")]
    formats: dict[str, Any] = {"interval": lambda iv: "—" if iv is None else f"[{iv[0]:.3g}, {iv[1]:.3g}]"}
    styler = _wrapped(_styler(table, uuid, formats, 3, "—"), text_cols)
    classes = pd.DataFrame("", index=table.index, columns=table.columns)
    classes["verdict"] = [f"verdict {VERDICT_STYLE[v][0]}" for v in table["verdict"]]
    styles = [
        {"selector": f"td.{cls}", "props": f"background-color: {bg}; color: {fg}; font-weight: 600;"}
        for cls, bg, fg in VERDICT_STYLE.values()
    ]
    styles.append({"selector": "td.verdict", "props": "text-align: center; white-space: nowrap;"})
    styler = styler.set_td_classes(classes).set_table_styles(styles, overwrite=False)
    return styler.hide(axis="index").to_html()
