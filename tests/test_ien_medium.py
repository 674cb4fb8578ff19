"""The medium β experiment's report (:mod:`eqlab.papers.ien.medium`): the table reads the record, the
claims decide both ways by their Welch intervals, and a missing record reads "not established"."""

from __future__ import annotations

from eqlab.papers.ien import medium
from eqlab.report.claims import FAILS, HOLDS, OPEN


def _record(gaps: list[tuple[float, float]]) -> dict:
    """Configs of widths 0.125, 0.25, …; at each, β = 0.1 at 0.95 ± 0.002 and β = 1 ``gap`` below (± spread)."""
    configs = []
    for i, (gap, spread) in enumerate(gaps):
        runs = [{"beta": 0.1, "seed": s, "test_acc": 0.95 + 0.002 * (s - 1)} for s in range(3)]
        runs += [{"beta": 1.0, "seed": s, "test_acc": 0.95 - gap + spread * (s - 1)} for s in range(3)]
        configs.append({"width": 0.125 * 2**i, "epochs": 8 * (i + 1), "runs": runs, "command": "c", "device": "cpu",
                        "versions": {}, "data": {"train": 3000}})
    return {"small_width": 0.125, "configs": configs}


def test_collapse_that_shrinks_holds_and_one_that_stays_does_not():
    shrinks = medium.claims(_record([(0.40, 0.03), (0.10, 0.02), (0.02, 0.005)]), -0.1)
    assert [c.verdict for c in shrinks] == [HOLDS, HOLDS]
    assert "+40.0" in shrinks[0].evidence and "+2.0" in shrinks[0].evidence
    stays = medium.claims(_record([(0.05, 0.005), (0.20, 0.01)]), -0.1)
    assert stays[0].verdict == FAILS
    gone = medium.claims(_record([(0.40, 0.03), (-0.05, 0.005)]), -0.1)
    assert gone[1].verdict == FAILS  # β = 1 is then the better one


def test_table_and_a_missing_record():
    t = medium.table(_record([(0.40, 0.03), (0.02, 0.005)]))
    assert list(t.index) == ["0.125 (×1)", "0.25 (×2)"] and t.loc["0.125 (×1)", "β = 1, acc %"].startswith("55.0")
    assert [c.verdict for c in medium.claims(None, -0.1)] == [OPEN, OPEN]
