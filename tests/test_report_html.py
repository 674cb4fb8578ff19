"""Report tables: complete (nothing cut by pandas), claim ids, coloured verdicts, a note on every "—".
Checked on the exported HTML (DOM level, through the same nbconvert export the report stage uses) and
on the committed reports."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
from bs4 import BeautifulSoup

from eqlab.papers.ien import tables
from eqlab.report.claims import FAILS, HOLDS, OPEN, Claim, by_id, verdict_table
from eqlab.report.html import VERDICT_STYLE, table_html, verdict_html
from eqlab.report.notebook import render_html
from eqlab.report.references import NO_RUN, NOTE, load_published, side_by_side

LONG = "A claim whose text is much longer than the fifty characters pandas shows by default, " * 2
ID = re.compile(r"\d+[a-z]?")


def truncation_markers(html: str) -> list[str]:
    """What pandas leaves when it cuts a frame: "..." / "…" cells (hidden rows or columns), cell text
    ending in "..." (max_colwidth), "N rows × M columns" under a truncated frame."""
    soup = BeautifulSoup(html, "html.parser")
    cells = [c.get_text(strip=True) for c in soup.find_all(["td", "th"])]
    found = [c for c in cells if c in ("...", "…") or c.endswith(("...", "…"))]
    return found + re.findall(r"\d+ rows × \d+ columns", soup.get_text(" "))


def exported(*fragments: str) -> str:
    """HTML fragments as display outputs of a notebook, exported like the report stage exports it."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("show()", outputs=[nbformat.v4.new_output("display_data", data={"text/html": f})])
        for f in fragments
    ]
    return render_html(nb)


def css_rules(soup: BeautifulSoup) -> str:
    return "\n".join(s.get_text() for s in soup.find_all("style"))


def wide_frame(rows: int = 70, cols: int = 25) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    df = pd.DataFrame(rng.random((rows, cols)), columns=[f"layer {i}" for i in range(cols)])
    df.insert(0, "text", [f"{i}: {LONG}" for i in range(rows)])
    return df


def test_the_detector_sees_what_pandas_cuts():
    with pd.option_context("display.max_rows", 60, "display.max_columns", 20, "display.max_colwidth", 50):
        assert truncation_markers(wide_frame()._repr_html_())


def test_tables_are_exported_complete():
    df = wide_frame()
    soup = BeautifulSoup(exported(table_html(df, "wide", wrap=["text"])), "html.parser")
    table = soup.find("table", id="T_wide")
    assert not truncation_markers(str(table))
    body = table.find("tbody").find_all("tr")
    assert len(body) == 70 and all(len(tr.find_all("td")) == 26 for tr in body)
    assert body[0].find("td").get_text() == f"0: {LONG}"  # every character
    assert "#T_wide td.col0" in css_rules(soup) and "white-space: normal" in css_rules(soup)  # wrapped


def test_cell_text_is_escaped():
    html = table_html(pd.DataFrame({"claim": ["E2CNN < IEN <b>"]}), "esc")
    assert "E2CNN &lt; IEN &lt;b&gt;" in html


def test_verdicts_show_claim_ids_and_colours_that_survive_the_export():
    claims = [Claim("6a", LONG, HOLDS, "ev 1"), Claim("3", "fails", FAILS, "ev 2"), Claim("4", "open", OPEN, "ev 3")]
    soup = BeautifulSoup(exported(verdict_html(verdict_table(claims), "claims")), "html.parser")
    table = soup.find("table", id="T_claims")
    assert not truncation_markers(str(table))
    rows = [[td for td in tr.find_all("td")] for tr in table.find("tbody").find_all("tr")]
    assert [r[0].get_text() for r in rows] == ["6a", "3", "4"]  # the paper's numbers, not 0, 1, 2
    assert not table.find("tbody").find_all("th")  # no positional index
    assert rows[0][1].get_text() == LONG
    classes = {r[2].get_text(): r[2]["class"] for r in rows}
    css = css_rules(soup)
    for verdict, (cls, bg, fg) in VERDICT_STYLE.items():
        assert cls in classes[verdict] and "verdict" in classes[verdict]
        rule = re.search(rf"#T_claims td\.{cls} \{{([^}}]*)\}}", css)
        assert rule and f"background-color: {bg}" in rule.group(1) and f"color: {fg}" in rule.group(1)


def test_claims_are_ordered_by_the_papers_numbers():
    cs = [Claim(i, f"c{i}", HOLDS, "") for i in ("1a", "10", "2", "1", "blobs", "1b", "1a")]
    assert [c.id for c in by_id(cs)] == ["1", "1a", "1a", "1b", "2", "10", "blobs"]


def _published_and_ours():
    pub = pd.DataFrame(
        [
            ("ien", "9", r, c, 1.0, "%", "", "src")
            for r in ("A", "B", "C", "STL-10 D")
            for c in ("R acc", "R s1", "V acc")
        ]
        + [("ien", "9", "A", "Z only", 2.0, "%", "", "src")],
        columns=["paper", "table", "row", "column", "value", "unit", "note", "source"],
    )
    ours = pd.DataFrame(
        [("9", "A", c, 3.0, 1) for c in ("R acc", "R s1", "V acc")]
        + [("9", "B", "V acc", 3.0, 1), ("9", "E", "V acc", 3.0, 2)],
        columns=["table", "row", "column", "value", "n"],
    )
    return pub, ours


def test_every_dash_says_why():
    pub, ours = _published_and_ours()
    t = side_by_side(pub, ours, "9", "small", reasons=[(r"^STL-10 ", "STL-10 is not available offline")])
    notes = t[NOTE].to_dict()
    assert notes == {
        "A": "paper-only column: Z only",
        "B": "no R run of ours",
        "C": NO_RUN,
        "STL-10 D": "STL-10 is not available offline",
        "E": "ours only: not in the paper",
    }


def _dash_rows(t: pd.DataFrame) -> list[str]:
    values = t.drop(columns=[NOTE, ("ours", "n")], errors="ignore")
    return [r for r in t.index if (values.loc[r] == "—").any()]


def test_every_dash_in_the_ien_tables_has_a_note(root: Path):
    results = pd.read_parquet(root / "reports/tables/results.parquet")
    runs = pd.read_parquet(root / "reports/tables/runs.parquet")
    pub = load_published(root / "references/published.csv", "ien")
    cells = tables.ours_cells(results, runs)
    shown = [side_by_side(pub, cells, t, "small", reasons=tables.NO_RUN_REASONS) for t in ("1", "2", "4", "8", "9")]
    shown.append(tables.table5_side_by_side(pub, tables.ours_table5(results, runs, "abs")))
    for t in shown:
        dashes = _dash_rows(t)
        assert all(t.at[r, NOTE] for r in dashes), [r for r in dashes if not t.at[r, NOTE]]
        assert not t.loc[[r for r in t.index if r not in dashes], NOTE].astype(bool).any()


def test_notes_become_marks_spelled_out_once_under_the_table():
    pub, ours = _published_and_ours()
    t = side_by_side(pub, ours, "9", "small")
    soup = BeautifulSoup(table_html(t, "t9", notes=NOTE), "html.parser")
    marks = [tr.find_all("td")[-1].get_text() for tr in soup.find("tbody").find_all("tr")]
    assert marks == ["a", "b", "c", "c", "d"]  # C and STL-10 D share one note
    legend = soup.find("p", class_="table-notes").get_text()
    assert "a: paper-only column: Z only" in legend and f"c: {NO_RUN}" in legend and legend.count(NO_RUN) == 1
