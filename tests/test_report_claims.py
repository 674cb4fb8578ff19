"""Generic report machinery: the one Claim type, the verdict table, selectors, and the layering rule
(papers → report → pandas/matplotlib; nothing in report imports a paper)."""

import ast
from pathlib import Path

import pandas as pd
import pytest

from eqlab.report.claims import VERDICTS, Claim, verdict_of, verdict_table
from eqlab.report.results import accuracy_pct, extent

SRC = Path(__file__).resolve().parents[1] / "src" / "eqlab"
LONG = "A claim whose text is much longer than the fifty characters pandas shows by default in a cell"


def test_verdict_values_are_validated():
    assert VERDICTS == ("holds", "does not hold", "not established")
    assert [verdict_of(x) for x in (True, False, None)] == list(VERDICTS)
    with pytest.raises(ValueError, match="verdict 'maybe'"):
        Claim("3", "text", "maybe", "evidence")
    with pytest.raises(ValueError, match="verdict True"):
        Claim("3", "text", True, "evidence")  # a bool is not a verdict
    with pytest.raises(ValueError, match="id"):
        Claim("", "text", "holds", "evidence")
    with pytest.raises(ValueError, match="low > high"):
        Claim("6a", "text", "holds", "evidence", interval=(1.0, 0.0))


def test_verdict_table_keeps_ids_order_and_full_text():
    cs = [Claim("6a", LONG, "holds", "ev 1"), Claim("3", "short", "not established", "ev 2")]
    t = verdict_table(cs)
    assert list(t.columns) == ["id", "claim", "verdict", "evidence"]
    assert list(t["id"]) == ["6a", "3"] and t.at[0, "claim"] == LONG  # paper's numbering, order kept, not cut
    assert list(t.verdict) == ["holds", "not established"]
    shown = verdict_table(cs, ids=False, label="check")
    assert list(shown.columns) == ["check", "verdict", "evidence"] and shown.at[0, "check"] == LONG


def test_verdict_table_shows_interval_and_n_only_when_known():
    cs = [Claim("4", "gap", "holds", "ev", interval=(-0.5, 0.8), n=3), Claim("5", "het", "holds", "ev")]
    t = verdict_table(cs)
    assert list(t.columns) == ["id", "claim", "verdict", "evidence", "interval", "n"]
    assert t.at[0, "interval"] == (-0.5, 0.8) and t.at[0, "n"] == 3 and pd.isna(t.at[1, "n"])
    assert "interval" not in verdict_table(cs[1:]).columns


def test_selectors_ignore_other_probes():
    rows = [
        dict(run="a", probe=p, metric=m, layer="conv1", transform=t, value=v)
        for p, v in (("extent_of_equivariance", 1.0), ("lie_derivative", 9.0))
        for m in ("abs", "rel")
        for t in ("r4", "rot45_odd")
    ]
    results = pd.DataFrame(rows)
    assert set(extent(results).value) == {1.0} and set(extent(results)["transform"]) == {"r4"}
    assert list(extent(results, "rel", odd45=True)["transform"]) == ["rot45_odd"]
    runs = pd.DataFrame({"run": ["a"], "test_acc": [0.9], "val_acc": [0.8]})
    assert accuracy_pct(runs)["a"] == pytest.approx(90.0) and accuracy_pct(runs, "val")["a"] == pytest.approx(80.0)


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
    return out


def test_dependencies_point_down_and_modules_stay_small():
    for path in sorted((SRC / "report").glob("*.py")):
        bad = [m for m in _imports(path) if m.startswith("eqlab.papers")]
        assert not bad, f"{path.name} imports {bad}: report must not depend on a paper"
    for paper in sorted(p.parent for p in (SRC / "papers").glob("*/__init__.py")):
        for path in paper.glob("*.py"):
            others = [
                m
                for m in _imports(path)
                if m.startswith("eqlab.papers.") and not m.startswith(f"eqlab.papers.{paper.name}")
            ]
            assert not others, f"{paper.name}/{path.name} imports another paper: {others}"
    for path in [*(SRC / "report").glob("*.py"), *(SRC / "papers").rglob("*.py")]:
        assert len(path.read_text(encoding="utf-8").splitlines()) <= 400, path


def test_lie_by_layer_draws_one_panel_per_flow_and_skips_runs_without_rows():
    import matplotlib

    matplotlib.use("Agg")
    from eqlab.report.plots import lie_by_layer

    rows = [dict(run=r, layer=f"conv{i}", transform=f, probe="lie_derivative", metric="rel", value=0.1 * i)
            for r in ("a", "b") for i in (1, 2) for f in ("rotate", "scale")]
    results = pd.DataFrame(rows)
    fig = lie_by_layer(results, pd.DataFrame({"run": ["a", "b"]}), title="t")
    assert [ax.get_title() for ax in fig.axes] == ["rotate: ‖Lĥ‖² / ‖ĥ‖²", "scale: ‖Lĥ‖² / ‖ĥ‖²"]
    assert len(fig.axes[0].lines) == 2
    assert lie_by_layer(results, pd.DataFrame({"run": ["c"]})) is None


def test_interval_claim_decides_by_the_t_interval():
    from eqlab.report.claims import FAILS, HOLDS, OPEN, interval_claim

    assert interval_claim("x", "t", [0.10, 0.12, 0.11], "gap", above=0.0).verdict == HOLDS
    assert interval_claim("x", "t", [-0.10, -0.12, -0.11], "gap", above=0.0).verdict == FAILS
    assert interval_claim("x", "t", [-0.10, 0.12, 0.01], "gap", above=0.0).verdict == OPEN  # straddles 0
    assert interval_claim("x", "t", [0.01, 0.02, 0.015], "gap", below=0.05).verdict == HOLDS
    assert interval_claim("x", "t", [0.01, 0.02, 0.015], "gap", above=-0.05, below=0.0).verdict == FAILS
    two = interval_claim("x", "t", [0.1, 0.2], "gap", above=0.0)
    assert two.verdict == OPEN and "needs ≥ 3 seeds, have 2" in two.evidence
    gap = interval_claim("x", "t", [0.1, float("nan"), 0.2], "gap", above=0.0)
    assert gap.verdict == OPEN and "missing for 1 of 3" in gap.evidence
    c = interval_claim("x", "t", [0.01, 0.02, 0.03], "gap", above=0.0, scale=100, unit=" points", digits=1,
                       runs="seeds of E")
    # mean 2, s = 1, t(0.975, 2) = 4.303: 2 ± 2.48 points
    assert c.evidence == "gap: +2.0 points [-0.5, +4.5] over 3 seeds of E (+1.0, +2.0, +3.0)" and c.verdict == OPEN
    assert c.interval == pytest.approx((0.02 - 0.024841, 0.02 + 0.024841), abs=1e-6) and c.n == 3
