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


def test_the_lock_parse_is_kept_across_processes_as_exact_json(tmp_path):
    """A lock parsed once is read back from .dvc/tmp/eqlab-lock.json by the next process: the same data,
    without parsing; another text is parsed again; data JSON cannot hold exactly is never stored."""
    import json

    import dvc.utils.serialize._yaml as yaml_mod

    (tmp_path / ".dvc" / "tmp").mkdir(parents=True)
    lock = tmp_path / "dvc.lock"
    text = _lock_head(6)
    calls = []

    def parse(t: str, path: object, typ: str) -> object:
        calls.append(t)
        return yaml_mod.parse_yaml(t, path, typ)

    want = yaml_mod.parse_yaml(text, lock)
    assert dvc_cache.stored_parse(text, lock, parse) == want and len(calls) == 1
    store = tmp_path / ".dvc" / "tmp" / "eqlab-lock.json"
    assert json.loads(store.read_text())["data"] == want
    got = dvc_cache.stored_parse(text, lock, parse)  # a new process: read back, not parsed
    assert got == want and json.dumps(got) == json.dumps(want) and len(calls) == 1  # same values, types and order
    other = text.replace("md5:", "md5:  ", 1)  # the same data, another text: parsed, and now the one stored
    assert dvc_cache.stored_parse(other, lock, parse) == want and len(calls) == 2
    assert dvc_cache.stored_parse(text, lock, parse) == want and len(calls) == 3
    nan = "schema: '2.0'\nstages:\n  s:\n    cmd: x\n    params:\n      params.yaml:\n        a: .nan\n"
    dvc_cache.stored_parse(nan, lock, parse)
    assert len(calls) == 4 and json.loads(store.read_text())["data"] == want  # NaN: not stored
    dvc_cache.stored_parse(nan, lock, parse)
    assert len(calls) == 5
    store.write_text("{ torn")  # a damaged store is parsed over, not trusted
    assert dvc_cache.stored_parse(text, lock, parse) == want and len(calls) == 6
    assert dvc_cache.stored_parse(text, tmp_path / "elsewhere" / "dvc.lock", parse) == want  # no .dvc/tmp: no store
    assert not list((tmp_path / ".dvc" / "tmp").glob("*.tmp"))


def test_repro_without_targets_takes_the_project_stages_from_the_index(monkeypatch):
    """``dvc repro``'s stage collection for dvc.yaml gives the stages DVC's own collection gives, in its
    order, as the index's objects (loaded once); other targets, and a directory without dvc.yaml, go
    through DVC's own collection."""
    import dvc.repo.reproduce as repro_mod
    from dvc.repo import Repo

    dvc_collect = repro_mod.collect_stages
    restore = dvc_cache.install()
    try:
        with Repo(str(ROOT)) as repo:
            monkeypatch.chdir(ROOT)
            want = [s.addressing for s in dvc_collect(repo, ["dvc.yaml"])]
            got = repro_mod.collect_stages(repo, iter(["dvc.yaml"]))
            assert [s.addressing for s in got] == want and len(want) > 50
            index = {id(s) for s in repo.index.stages}
            assert all(id(s) in index for s in got)
            one = repro_mod.collect_stages(repo, ["collect"])
            assert [s.addressing for s in one] == ["collect"] and id(one[0]) not in index  # DVC's own path
            monkeypatch.chdir(ROOT / "src")  # no dvc.yaml here: DVC's own answer, its error
            with pytest.raises(Exception, match="dvc.yaml"):
                repro_mod.collect_stages(repo, ["dvc.yaml"])
    finally:
        restore()
    assert repro_mod.collect_stages is dvc_collect


def test_nested_stage_locks_touch_the_lock_file_once_and_others_still_block(tmp_path, monkeypatch):
    """A stage lock inside one of this thread's locks that already covers its paths (reproduce ⊃ changed ⊃
    changed_deps …) neither reads nor writes DVC's rwlock file; any other lock goes through DVC's, and a
    live process holding a conflicting lock still blocks."""
    import json
    import os

    import dvc.rwlock as rw
    from dvc.fs import LocalFileSystem
    from dvc.lock import LockError

    fs, tmp = LocalFileSystem(), str(tmp_path)
    deps, outs = [str(tmp_path / "dep")], [str(tmp_path / "out")]
    restore = dvc_cache.install()
    try:
        edits = []
        dvc_edit = rw._edit_rwlock

        def counting(*args, **kwargs):
            edits.append(args)
            return dvc_edit(*args, **kwargs)

        monkeypatch.setattr(rw, "_edit_rwlock", counting)

        def entries() -> dict:
            return json.loads((tmp_path / "rwlock").read_text())

        with rw.rwlock(tmp, fs, "cmd", deps, outs, False):  # reproduce: read deps, write outs
            assert len(edits) == 1
            held = entries()
            assert set(held["read"]) == set(deps) and set(held["write"]) == set(outs)
            with rw.rwlock(tmp, fs, "cmd", deps + outs, [], False):  # changed: read deps and outs
                with rw.rwlock(tmp, fs, "cmd", [], outs, False):
                    assert len(edits) == 1 and entries() == held
            with rw.rwlock(tmp, fs, "cmd", [str(tmp_path / "elsewhere")], [], False):  # not covered
                assert len(edits) == 2
            assert len(edits) == 3 and entries() == held
        assert len(edits) == 4 and not entries().get("read") and not entries().get("write")
        other = {"pid": os.getppid(), "cmd": "another dvc repro"}  # a live process writing our dependency
        (tmp_path / "rwlock").write_text(json.dumps({"read": {}, "write": {deps[0]: other}}))
        with pytest.raises(LockError, match="another dvc repro"):
            with rw.rwlock(tmp, fs, "cmd", deps, outs, False):
                pass
    finally:
        restore()
    assert rw.rwlock.__module__ == "dvc.rwlock"


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


def test_file_dependency_hashes_are_kept_while_the_file_is_unchanged(tmp_path):
    """A file dependency's hash is computed once per stat; rewriting the file (same size, new content)
    gives the new hash; each caller gets its own hash object; directories and cached outputs go through
    DVC's own build every time."""
    import os

    import dvc.output as output_mod
    from dvc.fs import LocalFileSystem
    from dvc_data.hashfile.db import HashFileDB

    calls: list[str] = []
    dvc_build = output_mod.build

    def counting(odb, path, *args, **kwargs):
        calls.append(path)
        return dvc_build(odb, path, *args, **kwargs)

    output_mod.build = counting
    restore = dvc_cache.install()
    try:
        fs = LocalFileSystem()
        odb = HashFileDB(fs, str(tmp_path / "cache"))
        dep = tmp_path / "dep.py"
        dep.write_text("a = 1\n")
        first = output_mod.build(odb, str(dep), fs, "md5", dry_run=True)[2].hash_info
        second = output_mod.build(odb, str(dep), fs, "md5", dry_run=True)[2].hash_info
        assert first == second and first is not second and len(calls) == 1
        dep.write_text("a = 2\n")  # same size, other bytes
        os.utime(dep, ns=(1, 1))  # a new stat even on a coarse clock
        third = output_mod.build(odb, str(dep), fs, "md5", dry_run=True)[2].hash_info
        assert third != first and len(calls) == 2
        output_mod.build(odb, str(dep), fs, "md5", dry_run=False)  # a cached output: DVC's own, every time
        output_mod.build(odb, str(tmp_path), fs, "md5", dry_run=True)  # a directory: likewise
        assert len(calls) == 4
    finally:
        restore()
        output_mod.build = dvc_build
