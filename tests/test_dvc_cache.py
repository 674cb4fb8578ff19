"""``eqlab.dvc_cache``: DVC with its YAML parsing cached writes exactly the bytes plain DVC writes.

The end-to-end check is in ``test_pipeline.py`` (stages re-run through the cache leave the lock that
plain ``dvc repro`` wrote byte-identical); here, lock edits like those of ``dvc repro`` (a stage's
hashes change, a stage is added with floats, lists and a long command, a stage is removed, the file is
edited by hand in between) give the same text with and without the cache, with one round-trip parse
instead of one per edit.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import ROOT
from eqlab import dvc_cache


def _lock_head(n_stages: int) -> str:
    """The project's dvc.lock cut after its first ``n_stages`` stages (the whole one parses in ~1 s)."""
    lines = (ROOT / "dvc.lock").read_text(encoding="utf-8").splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if line.startswith("  ") and not line.startswith("   ")]
    return "".join(lines[: starts[n_stages]] if len(starts) > n_stages else lines)


def _edits() -> list[Callable[[dict], None]]:
    def change_hashes(data: dict) -> None:
        name = next(n for n in data["stages"] if n.startswith("train@"))
        entry = dict(data["stages"][name])
        entry["outs"] = [{**dict(o), "md5": "0" * 32 + ".dir", "size": 123} for o in entry["outs"]]
        data["stages"].update({name: entry})  # as Lockfile.dump_stages does: a fresh plain mapping

    def add_stage(data: dict) -> None:
        cmd = "python stages/train.py new_run " + " ".join(f"--option-{i} value-{i}" for i in range(12))
        data["stages"].update({"train@new_run": OrderedDict(
            cmd=cmd,
            deps=[OrderedDict(path="src/eqlab/io.py", hash="md5", md5="f" * 32, size=10)],
            params={"params.yaml": OrderedDict([("train.optim", {"lr_min": 1.0e-5, "lr_max": 0.005, "rise": 0.25}),
                                                ("train.models.new_run", {"het": [4, 2, 1], "augment": True,
                                                                          "beta": 0.01, "note": "yes"})])},
            outs=[OrderedDict(path="data/models/new_run", hash="md5", md5="a" * 32 + ".dir", size=1, nfiles=2)])})

    def remove_stage(data: dict) -> None:
        del data["stages"]["train@new_run"]

    return [change_hashes, add_stage, change_hashes, remove_stage, add_stage]


def _apply(path: Path, modify_yaml, edits, hand_edit_at: int | None = None) -> list[str]:
    texts = []
    for i, edit in enumerate(edits):
        if i == hand_edit_at:  # someone edits the file between two DVC writes: the cache must not be used
            path.write_text(path.read_text().replace("schema: '2.0'", "schema: '2.0'\n# edited by hand"))
        with modify_yaml(path) as data:
            edit(data)
        texts.append(path.read_text(encoding="utf-8"))
    return texts


@pytest.mark.parametrize("hand_edit_at", [None, 2])
def test_lock_edits_give_dvcs_bytes_with_one_parse(tmp_path, monkeypatch, hand_edit_at):
    import dvc.utils.serialize._yaml as yaml_mod

    plain_lock, cached_lock = tmp_path / "plain.lock", tmp_path / "cached.lock"
    for p in (plain_lock, cached_lock):
        p.write_text(_lock_head(12), encoding="utf-8")
    calls: list[str] = []
    parse = yaml_mod.parse_yaml

    def counting(text, path, typ="safe"):
        calls.append(typ)
        return parse(text, path, typ)

    monkeypatch.setattr(yaml_mod, "parse_yaml", counting)
    plain = _apply(plain_lock, yaml_mod.modify_yaml, _edits(), hand_edit_at)
    assert calls.count("rt") == len(_edits())
    calls.clear()
    restore = dvc_cache.install()
    assert restore is not None
    try:
        cached = _apply(cached_lock, yaml_mod.modify_yaml, _edits(), hand_edit_at)
    finally:
        restore()
    assert yaml_mod.parse_yaml is counting  # restored
    assert cached == plain
    assert calls.count("rt") == (1 if hand_edit_at is None else 2)
    assert "train@new_run" in cached[-1] and "lr_min: 1e-05" in cached[-1]


def test_safe_parses_are_memoised_and_private(tmp_path):
    import dvc.utils.serialize._yaml as yaml_mod

    restore = dvc_cache.install()
    try:
        text = (ROOT / "params.yaml").read_text()
        a = yaml_mod.parse_yaml(text, "params.yaml")
        a["profile"] = "changed by a caller"
        b = yaml_mod.parse_yaml(text, "params.yaml")
        assert b["profile"] == "small" and b is not a
        assert len(dvc_cache._safe) == 1
    finally:
        restore()
    assert not dvc_cache._safe


def test_other_dvc_releases_run_unpatched(monkeypatch):
    import dvc
    import dvc.utils.serialize._yaml as yaml_mod

    before = yaml_mod.modify_yaml
    monkeypatch.setattr(dvc, "__version__", "0.0.0")
    assert dvc_cache.install() is None
    assert yaml_mod.modify_yaml is before
