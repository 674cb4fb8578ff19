"""`eqlab compare`: tolerances decide a reproduction, not bit-exactness; verdicts must not move."""

from __future__ import annotations

import subprocess

import pandas as pd

from eqlab.__main__ import main
from eqlab.commands import compare as cmd
from eqlab.report.claims import Claim
from eqlab.report.compare import compare_accuracy, compare_measurements, compare_verdicts


def tables(acc=0.9, rel=0.2, e2=1e-12):
    runs = pd.DataFrame({"run": ["a", "b"], "test_acc": [acc, 0.8]})
    results = pd.DataFrame({"run": ["a", "a", "b"], "probe": ["extent_of_equivariance"] * 3,
                            "layer": ["conv1", "conv2", "conv1"], "transform": ["r4"] * 3,
                            "metric": ["rel"] * 3, "value": [rel, 0.3, e2]})
    return results, runs


def test_tolerances():
    (r0, u0), (r1, u1) = tables(), tables(acc=0.925, rel=0.9, e2=3e-10)
    assert compare_accuracy(u0, u1).ok.all()  # 2.5 points
    m = compare_measurements(r0, r1)
    assert m.ok.all() and m.n.sum() == 3  # 0.65 orders; e2cnn noise below the floor
    assert not compare_accuracy(u0, tables(acc=0.95)[1]).ok.all()  # 5 points
    far = compare_measurements(r0, tables(rel=3.0)[0])
    assert far.outside.sum() == 1 and not far.ok.all()
    missing = compare_measurements(r0, r0.iloc[:2])
    assert missing.missing.sum() == 1 and not missing.ok.all()


def test_verdicts_are_matched_by_claim_text():
    a = [Claim("1", "x below y", "holds", ""), Claim("2", "z", "not established", "")]
    b = [Claim("1", "x below y", "does not hold", ""), Claim("2", "z", "not established", "")]
    v = compare_verdicts(a, b)
    assert list(v.ok) == [False, True]


def test_cli_against_a_commit(tmp_path, monkeypatch, capsys):
    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    folder = tmp_path / "reports/tables"
    folder.mkdir(parents=True)
    results, runs = tables()
    results.to_parquet(folder / "results.parquet")
    runs.to_parquet(folder / "runs.parquet")
    git("init", "-q")
    git("add", "-A")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "reference")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cmd, "PAPER_CLAIMS", {"demo": "tests_compare_demo:claims"})
    (tmp_path / "tests_compare_demo.py").write_text(
        "from eqlab.report.claims import Claim\n"
        "def claims(results, runs):\n"
        "    ok = runs.test_acc.iloc[0] > 0.85\n"
        "    return [Claim('1', 'a is accurate', 'holds' if ok else 'does not hold', '')]\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert main(["compare"]) == 0
    assert "agrees" in capsys.readouterr().out
    tables(acc=0.8)[1].to_parquet(folder / "runs.parquet")  # 10 points lower, and the verdict flips
    assert main(["compare"]) == 1
    out = capsys.readouterr().out
    assert "2 difference(s) outside tolerance" in out and "does not hold" in out
