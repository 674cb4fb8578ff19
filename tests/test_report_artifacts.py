"""The committed reports (``reports/html``), checked at DOM level: no table cut by pandas, claim ids
in the verdict table, every verdict cell coloured by its class."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from test_report_html import ID, css_rules, truncation_markers


@pytest.mark.parametrize("name", ["ien", "datasets", "jansson", "invariance_review"])
def test_committed_reports_are_complete_with_ids_and_coloured_verdicts(root: Path, name: str):
    soup = BeautifulSoup((root / "reports" / "html" / f"{name}.html").read_text(encoding="utf-8"), "html.parser")
    for table in soup.find_all("table"):
        assert not truncation_markers(str(table)), table.get("id")
    assert not re.findall(r"\d+ rows × \d+ columns", soup.get_text(" "))
    verdicts = soup.find(
        "table",
        id={"ien": "T_claims", "datasets": "T_checks", "jansson": "T_claims", "invariance_review": "T_claims"}[name],
    )
    assert verdicts is not None, "the verdict table is rendered by eqlab.report.html.verdict_html"
    first = [tr.find("td").get_text() for tr in verdicts.find("tbody").find_all("tr")]
    if name == "ien":
        assert all(ID.fullmatch(i) for i in first) and "1a" in first
    if name == "jansson":  # PAPERS.md's claims in order, then Lemma 4.1 and the δ trap
        assert first[:2] == ["1", "2a"] and first[-2:] == ["L4.1", "trap"]
    if name == "invariance_review":  # PAPERS.md 004's four claims to check, then the section's other statements
        assert first[:5] == ["1a", "1b", "2", "3", "4"] and first[-1] == "A"
    cells = verdicts.find_all("td", class_="verdict")
    assert cells and all(any(c.startswith("verdict-") for c in td["class"]) for td in cells)
    assert "td.verdict-holds" in css_rules(soup)
