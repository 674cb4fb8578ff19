"""``eqlab.dvc_cache``: DVC with its YAML parsing cached writes exactly the bytes plain DVC writes.

The end-to-end check is in ``test_pipeline.py`` (stages re-run through the cache leave the lock that
plain ``dvc repro`` wrote byte-identical); here, lock edits like those of ``dvc repro`` (a stage's
hashes change, a stage is added with floats, lists and a long command, a stage is removed, the file is
edited by hand in between) give the same text with and without the cache, with one round-trip parse
instead of one per edit.
"""

from __future__ import annotations

import io
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
    """Same bytes as DVC; the lock is read once, by the safe parser unless it holds a comment (then
    round-trip, as DVC), and without a comment no edit dumps more than the one stage it changed."""
    import dvc.utils.serialize._yaml as yaml_mod

    plain_lock, cached_lock = tmp_path / "plain" / "dvc.lock", tmp_path / "cached" / "dvc.lock"
    for p in (plain_lock, cached_lock):
        p.parent.mkdir()
        p.write_text(_lock_head(12), encoding="utf-8")
    calls: list[str] = []
    dumped: list[int] = []  # stages in each document dumped
    parse, dump = yaml_mod.parse_yaml, yaml_mod._dump

    def counting(text, path, typ="safe"):
        calls.append(typ)
        return parse(text, path, typ)

    def counting_dump(data, stream):
        dumped.append(len(data.get("stages", ())))
        return dump(data, stream)

    monkeypatch.setattr(yaml_mod, "parse_yaml", counting)
    monkeypatch.setattr(yaml_mod, "_dump", counting_dump)
    plain = _apply(plain_lock, yaml_mod.modify_yaml, _edits(), hand_edit_at)
    assert calls.count("rt") == len(_edits()) and dumped.count(12) + dumped.count(13) == len(_edits())
    calls.clear()
    dumped.clear()
    restore = dvc_cache.install()
    assert restore is not None
    try:
        cached = _apply(cached_lock, yaml_mod.modify_yaml, _edits(), hand_edit_at)
    finally:
        restore()
    assert yaml_mod.parse_yaml is counting  # restored
    assert cached == plain
    if hand_edit_at is None:
        assert calls == ["safe"]  # one parse of the file, none after the cache's own writes
        # never the whole document: 12 stages once, then only entries never seen (a repeated edit is cached)
        assert max(dumped) == 1 and dumped.count(1) == 12 + 2
    else:
        assert calls.count("rt") == 1 and calls.count("safe") == 1  # the comment: DVC's own way from then on
    assert "train@new_run" in cached[-1] and "lr_min: 1e-05" in cached[-1]


def test_lock_blocks_give_the_whole_dump_on_the_projects_lock():
    """The committed lock (every stage, long commands folded by ruamel) dumps to its own bytes from
    blocks; data the blocks cannot vouch for (a shared object, a ruamel type) is dumped whole."""
    import dvc.utils.serialize._yaml as yaml_mod

    text = (ROOT / "dvc.lock").read_text(encoding="utf-8")
    data = yaml_mod.parse_yaml(text, "dvc.lock")
    try:
        assert dvc_cache.dump_lock(data, yaml_mod._dump) == text
        names = list(data["stages"])
        data["stages"][names[1]]["outs"] = data["stages"][names[0]]["outs"]  # one list in two stages: an anchor
        whole = io.StringIO()
        yaml_mod._dump(data, whole)
        assert "&id001" in whole.getvalue() and dvc_cache.dump_lock(data, yaml_mod._dump) == whole.getvalue()
        assert not dvc_cache._plain(data) and not dvc_cache._plain(yaml_mod.parse_yaml(text[:2000], "x", typ="rt"))
    finally:
        dvc_cache._blocks.clear()


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


def test_param_lookup_gives_dpaths_values_for_every_stage_key(tmp_path):
    """The patched read_param_file returns exactly what DVC's dpath lookup returns, for every params key of
    every stage of dvc.yaml (templated keys resolved as DVC resolves them), and the caller's copy is private."""
    import dpath
    import dvc.dependency.param as param_mod
    from dvc.repo import Repo

    config = yaml_mod_safe(ROOT / "params.yaml")
    keys = set()
    with Repo(str(ROOT)) as repo:
        for stage in repo.index.stages:
            for dep in stage.deps:
                if isinstance(dep, param_mod.ParamsDependency):
                    keys |= set(dep.params)
    assert len(keys) > 50
    for k in ["train.models.cnn.ien.beta", "lenc_vedaldi_nets.nets.anet_s0.transforms.0", "no.such.key", "profile.x"]:
        keys.add(k)
    want = {}
    for k in keys:
        try:
            want[k] = dpath.get(config, k, separator=".")
        except KeyError:
            pass
    restore = dvc_cache.install()
    try:
        from dvc.fs import LocalFileSystem

        got = param_mod.read_param_file(LocalFileSystem(), str(ROOT / "params.yaml"), sorted(keys), flatten=True)
        assert got == want and "no.such.key" not in got
        some = next(k for k, v in got.items() if isinstance(v, dict))
        got[some]["changed"] = 1
        again = param_mod.read_param_file(LocalFileSystem(), str(ROOT / "params.yaml"), [some], flatten=True)
        assert "changed" not in again[some]
        globbed = param_mod.read_param_file(LocalFileSystem(), str(ROOT / "params.yaml"), ["prof*le"], flatten=True)
        assert globbed == {"prof*le": config["profile"]}  # a glob goes through DVC's own (dpath) lookup
    finally:
        restore()


def yaml_mod_safe(path: Path):
    import yaml

    return yaml.safe_load(path.read_text())
