"""DVC's command line, run in this process with its YAML parsing cached (``eqlab repro`` uses it).

``dvc repro`` rewrites ``dvc.lock`` after every stage, and each rewrite first re-parses the whole
lock with ruamel's pure-Python round-trip parser (treeverse/dvc#10629): with ~70 stages and a
~12k-line lock that is ≈ 1.2 s per stage, more than a quick stage itself. This module patches, for
this process only, the three places DVC parses YAML, the one where it looks up params, its collection of
the project's stages, its stage locks and its hashing of file dependencies:

- ``modify_yaml`` (read, update, write a lock or dvc.yaml): the document it last wrote is kept and
  handed back, once, when the file still holds exactly the text written; otherwise it parses as DVC
  does. The dump is DVC's own, so the bytes written are those plain ``dvc`` writes (tested);
- the safe parse of ``dvc.yaml``, ``dvc.lock`` and ``params.yaml`` (once per stage each): memoised
  by file text, every caller getting its own deep copy. The lock's parse (~0.4 s for ~20k lines, a
  tenth of a no-op ``dvc repro``) is also kept across processes in ``.dvc/tmp/eqlab-lock.json``, as
  JSON keyed by the SHA-256 of the text it came from, and only for plain data (:func:`_plain`, no NaN),
  which JSON holds exactly; a process that wrote the lock stores its parse when it ends;
- ``dvc repro`` with no target collects the stages of ``dvc.yaml`` by loading them all (~0.5 s here),
  only to find the same stages in the graph it then loads again: here they are taken from that graph's
  index, the same stages in the same order, loaded once;
- the stage read/write locks (``dvc.rwlock.rwlock``): each stage's check takes them four times, nested
  (reproduce ⊃ changed ⊃ changed_deps …), and each time DVC re-reads and rewrites its JSON lock file and
  checks every held path against every requested one (≈ 7 ms a call: 3.2 s of a 5.2 s no-op ``dvc
  repro`` measured here under load). A call whose paths this thread already holds, in the same or a stronger mode, through a lock
  it is inside, is let through without touching the file: no other process can hold a conflicting lock
  on those paths while the outer one is held, so DVC's check would pass and its entries would add
  nothing the outer ones do not say;
- the lookup of a stage's params (``read_param_file``): a literal key is walked down its own branch instead
  of matching the whole params tree with dpath (the same values; ~2 s of a no-op ``dvc repro`` of ~110 stages);
- the hash of a file dependency (``dvc.output.build`` with ``dry_run``: every stage's check asks for
  each of its ~35 deps, ~4,300 calls for ~270 files, each through DVC's state database and a progress
  bar): kept per path while its stat (mtime and ctime in ns, size, inode) is the same, as DVC's state
  keys it; each caller gets its own copy of the hash; ~0.5 s of a ~3.5 s no-op here;
- the dump of the lock (≈ 2.3 s for a ~19k-line lock, once per stage): the lock is ``schema`` then
  ``stages``, one block of text per stage, and a stage's block depends on that stage's entry alone;
  each block is dumped by DVC's own dumper inside a ``stages:`` mapping (so at the same column, with
  the same line folding) and reused while its entry is unchanged. This needs plain data: a lock is
  read with the safe parser (not round-trip, ~6x faster) only when the text has no comment and the
  safe data dumps back to exactly that text; otherwise it is read and dumped as DVC does.

Nothing else changes: same arguments, same output, same exit status. With ``EQLAB_JOBS=N`` (N > 1)
it also runs up to N stages at once (:mod:`eqlab.dvc_jobs`). The patch is applied only to
the DVC release it was tested with (:data:`TESTED_DVC`); any other release runs unpatched. With
``EQLAB_PEAK_MEMORY=<file>`` it also records the peak resident memory of the stages it runs.
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import os
import stat
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

TESTED_DVC = "3.67.1"

_safe: dict[tuple[str, str], Any] = {}
_written: dict[str, tuple[str, Any]] = {}
_blocks: dict[str, tuple[str, str]] = {}  # stage name -> (its entry as JSON, that stage's text in the lock)
_hashes: dict[tuple, Any] = {}  # (path, hash name, stat) -> a file dependency's build
_held = threading.local()  # the stage locks (dvc.rwlock) each thread holds, outermost first


def _key(path: Any) -> str:
    return os.path.abspath(os.fspath(path))


_PLAIN_SCALARS = (str, int, float, bool, type(None))
_MAPPINGS = (dict, OrderedDict)  # DVC builds lock entries as OrderedDicts and dumps them as dicts


def _plain(entries: Any) -> bool:
    """True when ``entries`` holds only exact dicts (or OrderedDicts), lists and scalars of the built-in
    types (what a safe parse or DVC itself makes: no ruamel styles, comments or other subclasses) and
    no dict or list object occurs twice (ruamel would write an anchor)."""
    seen: set[int] = set()
    stack = [entries]
    while stack:
        obj = stack.pop()
        kind = type(obj)
        if kind in _MAPPINGS or kind is list:
            if id(obj) in seen:
                return False
            seen.add(id(obj))
            stack.extend(obj if kind is list else obj.values())
            if kind is not list and any(type(k) is not str for k in obj):
                return False
        elif kind not in _PLAIN_SCALARS:
            return False
    return True


def _store_path(path: Any) -> str | None:
    """Where the parse of the lock at ``path`` is kept: ``.dvc/tmp/eqlab-lock.json`` beside it (None
    outside a DVC repository)."""
    tmp = os.path.join(os.path.dirname(_key(path)), ".dvc", "tmp")
    return os.path.join(tmp, "eqlab-lock.json") if os.path.isdir(tmp) else None


def stored_parse(text: str, path: Any, parse: Callable[[str, Any, str], Any]) -> Any:
    """``parse(text, path, "safe")`` of a lock: read back from the JSON store when it holds the parse of
    this very text (its SHA-256), else parsed and stored (written to a temporary file, then renamed)."""
    store = _store_path(path)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    if store is not None:
        try:
            with open(store, encoding="utf-8") as f:
                saved = json.load(f)
            if saved["sha256"] == digest:
                return saved["data"]
        except (OSError, ValueError, KeyError, TypeError):
            pass
    data = parse(text, path, "safe")
    if store is not None and _plain(data):
        try:
            blob = json.dumps({"sha256": digest, "data": data}, allow_nan=False)
        except ValueError:  # NaN or infinity: JSON cannot hold it exactly
            return data
        tmp = f"{store}.{os.getpid()}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(blob)
        os.replace(tmp, store)
    return data


GLOB = "*?[]"  # dpath's glob characters: such keys go through DVC's own (dpath) lookup


def lookup(config: Any, key_path: str) -> Any:
    """``dpath.get(config, key_path, separator=".")`` for a literal path: a walk down its segments (a list
    segment is an index), KeyError when one is missing. dpath walks the whole params tree for every key
    (~10 ms each on this project's params.yaml, ~700 keys per no-op ``dvc repro``); this walks one branch."""
    node = config
    for seg in key_path.split("."):
        if isinstance(node, dict) and seg in node:
            node = node[seg]
        elif isinstance(node, list) and seg.lstrip("-").isdigit() and -len(node) <= int(seg) < len(node):
            node = node[int(seg)]
        else:
            raise KeyError(key_path)
    return node


def dump_lock(data: Any, dump: Callable[[Any, Any], Any]) -> str:
    """The text ``dump(data, stream)`` writes for the lock mapping ``data``, built from one cached block
    per stage. Only for plain data (:func:`_plain`) laid out as ``schema``, ``stages``; anything else is
    dumped whole, as DVC does."""
    buf = io.StringIO()
    stages = data.get("stages") if type(data) in _MAPPINGS else None
    if list(data or ())[-1:] != ["stages"] or type(stages) not in _MAPPINGS or not stages or not _plain(data):
        dump(data, buf)
        return buf.getvalue()
    if len(data) > 1:
        dump({k: v for k, v in data.items() if k != "stages"}, buf)
    parts = [buf.getvalue(), "stages:\n"]
    for name, entry in stages.items():
        key = json.dumps(entry)  # plain data: JSON tells 1 from 1.0 from true from "1"
        cached = _blocks.get(name)
        if cached is None or cached[0] != key:  # one block per stage: a re-run replaces its old text
            buf = io.StringIO()
            dump({"stages": {name: entry}}, buf)  # the same column, so the same folding, as in the whole
            cached = _blocks[name] = (key, buf.getvalue().removeprefix("stages:\n"))
        parts.append(cached[1])
    return "".join(parts)


def install() -> Callable[[], None] | None:
    """Patch DVC in this process (see the module's docstring). Returns the function that undoes it, or None
    (and nothing patched) for an untested DVC release."""
    import dvc

    if dvc.__version__ != TESTED_DVC:
        return None
    import dvc.dvcfile
    import dvc.utils.serialize
    import dvc.utils.serialize._yaml as yaml_mod
    import dvc.utils.strictyaml as strict_mod
    from dvc.utils.serialize._common import _load_data

    parse = yaml_mod.parse_yaml
    dump = yaml_mod._dump
    dvc_modify_yaml = yaml_mod.modify_yaml
    last_lock: dict[str, Any] = {}

    def store_last_lock() -> None:  # at exit: the next process reads the lock this one wrote from JSON
        if last_lock and (str(last_lock["path"]), last_lock["text"]) not in _safe:
            stored_parse(last_lock["text"], last_lock["path"], parse)

    import atexit

    atexit.register(store_last_lock)

    def parse_yaml(text: str, path: Any, typ: str = "safe") -> Any:
        if typ != "safe":
            return parse(text, path, typ)
        key = (str(path), text)
        if key not in _safe:
            lock = os.path.basename(os.fspath(path)) == "dvc.lock"
            _safe[key] = stored_parse(text, path, parse) if lock else parse(text, path, typ)
        return copy.deepcopy(_safe[key])

    def parse_for_update(text: str, path: Any) -> Any:
        hit = _written.pop(_key(path), None)
        if hit is not None and hit[0] == text:
            return hit[1]
        if os.path.basename(os.fspath(path)) == "dvc.lock" and "#" not in text:
            data = parse(text, path, "safe")  # ~6x faster than round-trip; used when it dumps to the same text
            if dump_lock(data, dump) == text:
                return data
        return parse(text, path, "rt")

    @contextmanager
    def modify_yaml(path: Any, fs: Any = None) -> Iterator[Any]:
        if fs is not None and getattr(fs, "protocol", None) != "local":  # DVC's own path elsewhere
            with dvc_modify_yaml(path, fs=fs) as data:
                yield data
            return
        exists = fs.exists(os.fspath(path)) if fs else os.path.exists(path)
        data = _load_data(path, parser=parse_for_update, fs=fs) if exists else {}
        yield data
        if os.path.basename(os.fspath(path)) == "dvc.lock":
            text = dump_lock(data, dump)  # DVC's bytes, stage by stage
        else:
            buf = io.StringIO()
            dump(data, buf)  # DVC's dumper: the bytes plain `dvc` writes
            text = buf.getvalue()
        with (fs.open if fs else open)(path, "w+", encoding="utf-8") as fd:
            fd.write(text)
        _written[_key(path)] = (text, data)  # handed back once, if the file still holds `text`
        if os.path.basename(os.fspath(path)) == "dvc.lock":
            last_lock.update(path=path, text=text)

    import dvc.dependency.param as param_mod

    dvc_read_param_file = param_mod.read_param_file

    def read_param_file(fs: Any, path: str, key_paths: list[str] | None = None, flatten: bool = False,
                        **load_kwargs: Any) -> Any:  # fmt: skip
        if not (flatten and key_paths) or any(any(c in k for c in GLOB) for k in key_paths):
            return dvc_read_param_file(fs, path, key_paths, flatten=flatten, **load_kwargs)
        if load_kwargs or getattr(fs, "protocol", None) != "local" or not str(path).endswith((".yaml", ".yml")):
            config = param_mod.load_path(path, fs, **load_kwargs)
        else:  # the memoised parse itself, not a deep copy of it: only the values looked up are copied
            with open(path, encoding="utf-8") as f:
                text = f.read()
            if (str(path), text) not in _safe:
                parse_yaml(text, path)
            config = _safe[(str(path), text)]
        out = {}
        for key_path in key_paths:
            try:
                out[key_path] = copy.deepcopy(lookup(config, key_path))
            except KeyError:
                continue
        return out

    import dvc.repo.reproduce as repro_mod
    from dvc.dvcfile import PROJECT_FILE

    dvc_collect_stages = repro_mod.collect_stages

    def collect_stages(repo: Any, targets: Any, recursive: bool = False, glob: bool = False) -> list[Any]:
        targets = list(targets)
        if targets != [PROJECT_FILE] or recursive or glob:
            return dvc_collect_stages(repo, targets, recursive=recursive, glob=glob)
        project = os.path.abspath(PROJECT_FILE)  # relative to the working directory, as DVC resolves it
        stages = [stage for stage in repo.index.stages if stage.path == project] if os.path.isfile(project) else []
        return stages or dvc_collect_stages(repo, targets)  # none: DVC's own answer (or its error)

    import dvc.output as output_mod

    dvc_build = output_mod.build

    def build(odb: Any, path: str, fs: Any, name: str, *args: Any, dry_run: bool = False, **kwargs: Any) -> Any:
        try:
            st = os.stat(path) if dry_run and getattr(fs, "protocol", None) == "local" else None
        except OSError:
            st = None
        if st is None or not stat.S_ISREG(st.st_mode):
            return dvc_build(odb, path, fs, name, *args, dry_run=dry_run, **kwargs)
        key = (path, name, st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino)
        if key not in _hashes:
            _hashes[key] = dvc_build(odb, path, fs, name, *args, dry_run=dry_run, **kwargs)
        staging, meta, obj = _hashes[key]
        obj = copy.copy(obj)
        obj.hash_info = copy.copy(obj.hash_info)
        return staging, copy.copy(meta), obj

    import dvc.rwlock as rwlock_mod

    dvc_rwlock = rwlock_mod.rwlock

    @contextmanager
    def rwlock(tmp_dir: Any, fs: Any, cmd: str, read: list[str], write: list[str], hardlink: bool) -> Iterator[None]:
        stack = _held.__dict__.setdefault("stack", [])  # (tmp_dir, reads, writes) of this thread's open locks
        reads = {p for d, r, _ in stack if d == tmp_dir for p in r}
        writes = {p for d, _, w in stack if d == tmp_dir for p in w}
        if set(write) <= writes and set(read) <= reads | writes:
            yield
            return
        with dvc_rwlock(tmp_dir, fs, cmd, read, write, hardlink):
            stack.append((tmp_dir, frozenset(read), frozenset(write)))
            try:
                yield
            finally:
                stack.pop()

    patches = [(yaml_mod, "parse_yaml", parse_yaml), (strict_mod, "parse_yaml", parse_yaml),
               (dvc.utils.serialize, "parse_yaml", parse_yaml), (yaml_mod, "modify_yaml", modify_yaml),
               (dvc.utils.serialize, "modify_yaml", modify_yaml), (dvc.dvcfile, "modify_yaml", modify_yaml),
               (param_mod, "read_param_file", read_param_file), (repro_mod, "collect_stages", collect_stages),
               (rwlock_mod, "rwlock", rwlock), (output_mod, "build", build)]
    saved = [(mod, name, getattr(mod, name)) for mod, name, _ in patches]
    for mod, name, fn in patches:
        setattr(mod, name, fn)

    def restore() -> None:
        atexit.unregister(store_last_lock)
        for mod, name, fn in saved:
            setattr(mod, name, fn)
        _safe.clear()
        _written.clear()
        _blocks.clear()
        _hashes.clear()

    return restore


def _warm_peak_kib() -> int:
    """The largest resident set of the stages the warm server (:mod:`eqlab.warm`) ran, 0 without one."""
    from eqlab.warm import PEAK_ENV

    try:
        with open(os.environ[PEAK_ENV], encoding="utf-8") as f:
            return int(f.read())
    except (KeyError, OSError, ValueError):
        return 0


def record_peak_memory(out: str) -> None:
    """After every stage DVC runs in this process, note the largest resident set of any process it
    has run so far (``RUSAGE_CHILDREN``, and the warm server's children: a running maximum) and the stage that raised it; the result
    goes to the JSON file ``out`` when the process ends (``eqlab repro`` reads it)."""
    import atexit
    import json
    import resource

    import dvc.stage

    peak = {"kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, "stage": None}
    dvc_run_stage = dvc.stage.run_stage

    def run_stage(stage: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return dvc_run_stage(stage, *args, **kwargs)
        finally:
            kib = max(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, _warm_peak_kib())
            if kib > peak["kib"]:
                peak.update(kib=kib, stage=stage.addressing)

    def write() -> None:
        with open(out, "w", encoding="utf-8") as f:
            json.dump({"peak_stage_rss_mib": round(peak["kib"] / 1024, 1), "stage": peak["stage"]}, f)

    dvc.stage.run_stage = run_stage
    atexit.register(write)


def main(argv: list[str] | None = None) -> int:
    """``python -m eqlab.dvc_cache <dvc arguments>``: the ``dvc`` command with the cache installed."""
    if install() is None:
        import dvc

        print(f"eqlab: DVC {dvc.__version__} is not the tested {TESTED_DVC}; running it unpatched",
              file=sys.stderr)
    if os.environ.get("EQLAB_PEAK_MEMORY"):
        record_peak_memory(os.environ["EQLAB_PEAK_MEMORY"])
    from eqlab import dvc_jobs

    if dvc_jobs.install(int(os.environ.get(dvc_jobs.JOBS_ENV) or 1)) and os.environ.get(dvc_jobs.TIMES_ENV):
        import atexit

        atexit.register(dvc_jobs.write_times, os.environ[dvc_jobs.TIMES_ENV])
    from dvc.cli import main as dvc_main

    return dvc_main(sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    sys.exit(main())
