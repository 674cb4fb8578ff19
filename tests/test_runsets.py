"""Optional run sets (eqlab.runsets, `eqlab sets`): moving runs between train.models and train.optional."""

from __future__ import annotations

import copy
import shutil

import pytest
import yaml

from conftest import ROOT
from eqlab import runsets
from eqlab.__main__ import main
from eqlab.params import ParamError

TRAIN = {
    "models": {"a": {"seed": 0}, "b": {"seed": 1}},
    "sets": {"extra": ["c", "d"], "more": ["e"]},
    "optional": {"c": {"seed": 2}, "d": {"seed": 3}, "e": {"seed": 4}},
}


def test_enable_and_disable_move_the_specs_unchanged():
    train = copy.deepcopy(TRAIN)
    assert runsets.status(train) == {"extra": False, "more": False}
    assert runsets.enable(train, "extra") == ["c", "d"] and runsets.enable(train, "extra") == []
    assert list(train["models"]) == ["a", "b", "c", "d"] and train["models"]["d"] == {"seed": 3}
    assert runsets.status(train) == {"extra": True, "more": False}
    assert runsets.optional_runs(train) == {"e": ("more", {"seed": 4})}
    runsets.enable(train, "more")
    assert train["optional"] is None and runsets.optional_runs(train) == {}
    assert runsets.disable(train, "extra") == ["c", "d"]
    assert set(train["models"]) == {"a", "b", "e"} and train["optional"] == {"c": {"seed": 2}, "d": {"seed": 3}}


@pytest.mark.parametrize("edit,message", [
    (lambda t: t["models"].update(c=t["optional"].pop("c")), r"runs \['c'\] are in train.models but \['d'\]"),
    (lambda t: t["optional"].pop("e"), r"lists \['e'\], in neither train.models nor train.optional"),
    (lambda t: t["sets"]["more"].append("c"), r"lists run 'c', already in set 'extra'"),
    (lambda t: t["sets"].update(more="e"), r"'train.sets.more' must be a list of run IDs"),
    (lambda t: t["optional"].update(z={}), r"holds \['z'\], which no set of train.sets lists"),
])
def test_inconsistent_sets_name_the_key(edit, message):
    train = copy.deepcopy(TRAIN)
    edit(train)
    with pytest.raises(ParamError, match=message):
        runsets.status(train)


def test_unknown_set_and_runs_needed_elsewhere_are_refused():
    train = copy.deepcopy(TRAIN)
    with pytest.raises(ParamError, match=r"allowed values: \['extra', 'more'\]"):
        runsets.enable(train, "nope")
    runsets.enable(train, "extra")
    with pytest.raises(ParamError, match=r"runs \['d'\] are named elsewhere"):
        runsets.disable(train, "extra", keep={"d"})


def test_the_committed_default_trains_no_optional_set_and_every_model_has_three_seeds():
    train = yaml.safe_load((ROOT / "params.yaml").read_text())["train"]
    assert not any(runsets.status(train).values())
    same = {}
    for spec in train["models"].values():
        key = yaml.safe_dump({k: v for k, v in spec.items() if k != "seed"})
        same.setdefault(key, set()).add(spec["seed"])
    assert all(len(seeds) >= 3 for seeds in same.values()), same


def test_eqlab_sets_edits_the_text_and_a_round_trip_restores_it(tmp_path, capsys):
    params = tmp_path / "params.yaml"
    shutil.copy(ROOT / "params.yaml", params)
    original = params.read_text()
    names = list(runsets.sets_of(yaml.safe_load(original)["train"]))
    assert main(["sets", "--params", str(params), "enable", *names]) == 0
    enabled = yaml.safe_load(params.read_text())
    assert enabled["train"]["optional"] is None and len(enabled["train"]["models"]) > 21
    # every comment line is still there (each run's block moved with the comments above it)
    comments = sorted(line.strip() for line in original.splitlines() if line.strip().startswith("#"))
    assert sorted(line.strip() for line in params.read_text().splitlines() if line.strip().startswith("#")) == comments
    assert main(["sets", "--params", str(params), "disable", *reversed(names)]) == 0
    assert params.read_text() == original
    assert main(["sets", "--params", str(params), "enable", "nope"]) == 2
    assert "allowed values: [" in capsys.readouterr().err and params.read_text() == original
    main(["sets", "--params", str(params)])
    listing = capsys.readouterr().out
    assert all(f"{n}" in listing for n in names) and "disabled" in listing


def test_the_ien_report_marks_the_cells_a_disabled_set_would_fill():
    """collect's optional.parquet → the published rows those runs would fill get a reason naming the set."""
    import importlib.util
    import re

    from eqlab.papers.ien import tables
    from eqlab.report.references import load_published

    spec = importlib.util.spec_from_file_location("collect_stage", ROOT / "stages/collect.py")
    collect = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(collect)
    optional = collect.optional_table(yaml.safe_load((ROOT / "params.yaml").read_text())["train"])
    assert set(optional.set) == {"tim", "rot_mnist_single", "scale_mnist_56"}
    published = load_published(ROOT / "references/published.csv", "ien")
    reasons = tables.optional_reasons(optional, published)

    def why(row: str) -> str | None:
        return next((w for pattern, w in reasons if re.search(pattern, row)), None)

    assert "eqlab sets enable tim" in why("Rot-TIM CNN") and "eqlab sets enable tim" in why("VGG Het R4-2-1")
    assert "rot_mnist_single" in why("IEN β=1") and "scale_mnist_56" in why("Scale-MNIST 56×56 IEN")
    assert why("IEN β=0.1") is None and why("Scale-MNIST 28×28 IEN") is None  # default runs fill these
    note = tables.optional_note(optional)
    assert "`tim` (16 runs)" in note and tables.optional_note(optional.iloc[:0]) == ""


def test_drop_lock_entries_removes_whole_stage_blocks_only():
    from eqlab.commands.sets import drop_lock_entries

    lock = ("schema: '2.0'\nstages:\n  train@a:\n    cmd: python stages/train.py a\n    deps:\n    - path: x\n"
            "  train@b:\n    cmd: python stages/train.py b\n  collect:\n    cmd: python stages/collect.py\n")
    kept = drop_lock_entries(lock, {"train@a"})
    assert yaml.safe_load(kept)["stages"] == {"train@b": {"cmd": "python stages/train.py b"},
                                              "collect": {"cmd": "python stages/collect.py"}}
    assert drop_lock_entries(lock, set()) == lock
