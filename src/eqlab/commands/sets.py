"""``eqlab sets [enable|disable NAME …]``: list the optional run sets, or switch them on or off.

A run set is a named group of runs in ``train.sets`` (:mod:`eqlab.runsets`). ``enable`` moves its
runs' specs from ``train.optional`` into ``train.models``, so the next ``dvc repro`` (or ``make
reproduce``) trains and probes them and the reports show them; ``disable`` moves them back, deletes
their stages' outputs from the workspace (DVC's cache keeps what it cached) and their entries from
``dvc.lock``. ``params.yaml`` is
edited as text (each run's block moves with the comments above it; the
result is checked to mean exactly the moved specs), so the change shows in ``git diff``,
``dvc params diff`` and ``dvc exp show``. Without arguments: every set, enabled or not, with its runs.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
from pathlib import Path

import yaml

from eqlab.io import write_text
from eqlab.params import ParamError


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("sets", help="list the optional run sets, or enable/disable them in params.yaml",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--params", default="params.yaml", help="params file (default: params.yaml)")
    p.add_argument("action", nargs="?", choices=("list", "enable", "disable"), default="list")
    p.add_argument("names", nargs="*", help="set names (train.sets)")
    return p


def _stages_of(root: Path, runs: list[str]) -> tuple[list[str], list[Path]]:
    """The stages of ``runs`` (``<template>@<run>``) and their declared outputs, from DVC's own reading of
    dvc.yaml (the only place paths are written)."""
    from dvc.exceptions import NotDvcRepoError
    from dvc.repo import Repo

    try:
        repo = Repo(str(root))
    except NotDvcRepoError:  # params outside a DVC project: nothing of DVC's to delete
        return [], []
    with repo:
        stages = [st for st in repo.index.stages if st.addressing.partition("@")[2] in runs]
        return [st.addressing for st in stages], [Path(o.fs_path) for st in stages for o in st.outs]


def drop_lock_entries(text: str, stages: set[str]) -> str:
    """``dvc.lock`` text without the entries of ``stages`` (DVC keeps entries of stages that left
    dvc.yaml; stale ones mislead readers and slow every lock write)."""
    out, skip = [], False
    for line in text.split("\n"):
        m = re.match(r"^  (\S+):$", line)
        if m:
            skip = m.group(1) in stages
        elif line and not line.startswith("   "):
            skip = False
        if not skip:
            out.append(line)
    return "\n".join(out)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


RUN_KEY = re.compile(r"^    ([A-Za-z0-9_.-]+):\s*(#.*)?$")


def _section_span(lines: list[str], name: str) -> tuple[int, int]:
    """Lines ``[head, end)`` of ``train.<name>`` in DVC's dump layout: ``head`` is the ``  <name>:`` line,
    its entries follow at four spaces; a comment at two spaces belongs to the key after it."""
    top = next((i for i, line in enumerate(lines) if line.rstrip() == "train:"), None)
    if top is None:
        raise ParamError("params.yaml has no top-level 'train:' section")
    for i in range(top + 1, len(lines)):
        if lines[i] and not lines[i].startswith(" "):
            break
        if re.match(rf"^  {name}:(\s|$)", lines[i]):
            end = i + 1
            while end < len(lines) and (not lines[end].strip() or lines[end].startswith("    ")):
                end += 1
            return i, end
    raise ParamError(f"params.yaml has no 'train.{name}:' line at two spaces (the layout DVC writes)")


def _blocks(lines: list[str], head: int, end: int) -> list[tuple[str, list[str]]]:
    """The entries of a section as (run, its lines with the comment lines above it)."""
    out: list[tuple[str, list[str]]] = []
    pending: list[str] = []
    for line in lines[head + 1 : end]:
        m = RUN_KEY.match(line)
        if m:
            out.append((m.group(1), [*pending, line]))
            pending = []
        elif line.startswith("    #") or not line.strip():
            pending.append(line)
        elif out:
            out[-1][1].append(line)
    if pending and out:
        out[-1][1].extend(pending)
    return out


def move_runs(text: str, runs: list[str], to: str, order: list[str]) -> str:
    """``params.yaml`` text with the blocks of ``runs`` (comments above them included) moved to the end of
    ``train.<to>`` (``models`` or ``optional``); ``train.optional`` is kept in ``order`` (the sets' runs).
    Text moves keep every comment and the layout, which a YAML round trip does not for moved entries."""
    lines = text.split("\n")
    frm = "optional" if to == "models" else "models"
    h, e = _section_span(lines, frm)
    moving = {name: block for name, block in _blocks(lines, h, e) if name in runs}
    if sorted(moving) != sorted(runs):
        raise ParamError(f"train.{frm}: no entries for {sorted(set(runs) - set(moving))} in params.yaml's layout")
    kept = [line for name, block in _blocks(lines, h, e) if name not in moving for line in block]
    lines[h + 1 : e] = kept
    h, e = _section_span(lines, to)
    blocks = _blocks(lines, h, e) + [(r, moving[r]) for r in runs]
    if to == "optional":
        rank = {r: i for i, r in enumerate(order)}
        blocks.sort(key=lambda b: rank.get(b[0], len(rank)))
    lines[h + 1 : e] = [line for _, block in blocks for line in block]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from eqlab import runsets
    from eqlab.params import load_params

    path = Path(args.params)
    try:
        train = load_params(path).get("train") or {}
        state = runsets.status(train)
        if args.action == "list" or not args.names:
            if args.action != "list":
                print(f"error: `eqlab sets {args.action}` needs set names; allowed values: {sorted(state)}",
                      file=sys.stderr)
                return 2
            for name, runs in runsets.sets_of(train).items():
                print(f"{name:<16} {'enabled' if state[name] else 'disabled':<9} {len(runs):>2} runs: {', '.join(runs)}")
            return 0
        args.names = list(dict.fromkeys(args.names))
        for name in args.names:
            runsets.check_choice("set", name, sorted(state))
        if args.action == "disable":  # outputs of runs about to leave train.models (validate calls them stale)
            stages, outs = _stages_of(path.resolve().parent,
                                      [r for n in args.names if state[n] for r in runsets.sets_of(train)[n]])
        params = load_params(path)
        keep = set((params.get("extract_features") or {}).get("runs") or {})
        moved = {n: (runsets.enable(params["train"], n) if args.action == "enable"
                     else runsets.disable(params["train"], n, keep)) for n in args.names}
        order = [r for runs in runsets.sets_of(train).values() for r in runs]
        text = path.read_text(encoding="utf-8")
        for runs in moved.values():
            if runs:
                text = move_runs(text, runs, "models" if args.action == "enable" else "optional", order)
        if yaml.safe_load(text) != params:  # the text moves must mean exactly the mapping moves
            raise ParamError(f"{path}: its layout is not the one DVC writes; move the runs by hand")
    except ParamError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    write_text(path, text)
    if args.action == "disable":
        for out in outs:
            _remove(out)
        lock = path.resolve().parent / "dvc.lock"
        if stages and lock.exists():
            write_text(lock, drop_lock_entries(lock.read_text(encoding="utf-8"), set(stages)))
    for name, runs in moved.items():
        verb = "enabled" if args.action == "enable" else "disabled"
        print(f"{name}: {verb} ({len(runs)} runs moved)" if runs else f"{name}: already {verb}")
    if args.action == "enable" and any(moved.values()):
        print("next: `make reproduce` (or `dvc repro`) trains and probes them")
    return 0
