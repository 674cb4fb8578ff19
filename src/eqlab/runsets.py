"""Optional run sets: named groups of runs that ``dvc repro`` trains only when enabled.

``train.models`` holds the runs this repro trains (DVC's ``foreach``); ``train.sets`` names groups of
runs (``tim: [tim_resnet_cnn, …]``) and ``train.optional`` keeps the specs of the runs of sets that are
not enabled. Enabling a set moves its specs from ``train.optional`` into ``train.models`` (appended,
unchanged); disabling moves them back. A run's spec is the same wherever it sits, so its stage's params
(``train.models.<run>``) and outputs are the same as before it was moved: a set enabled, disabled and
enabled again retrains nothing that DVC still has in its run cache.

The default profile enables no set: its runs all have ≥ 3 seeds, so every verdict of the default report
rests on intervals; the optional sets are the single-seed runs behind the paper's other table cells.
These functions edit the ``train`` mapping in place; ``eqlab sets`` makes the same moves in the text of
``params.yaml`` (comments and layout kept) and checks that the two agree.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import Any

from eqlab.params import ParamError, check_choice


def sets_of(train: Mapping[str, Any]) -> dict[str, list[str]]:
    """``train.sets``: set name → its run IDs, checked (lists of distinct names, each run in one set)."""
    sets = train.get("sets") or {}
    if not isinstance(sets, Mapping):
        raise ParamError(f"params key 'train.sets' must map set names to lists of run IDs, got {sets!r}")
    owner: dict[str, str] = {}
    for name, runs in sets.items():
        if not isinstance(runs, list) or not all(isinstance(r, str) for r in runs):
            raise ParamError(f"params key 'train.sets.{name}' must be a list of run IDs, got {runs!r}")
        for run in runs:
            if run in owner:
                raise ParamError(f"params key 'train.sets.{name}' lists run {run!r}, already in set {owner[run]!r}")
            owner[run] = name
    return {name: list(runs) for name, runs in sets.items()}


def status(train: Mapping[str, Any]) -> dict[str, bool]:
    """Set name → enabled (every run in ``train.models``) or not (every run in ``train.optional``); a
    set split between the two, or with a run in neither, is an error naming the runs."""
    models, optional = train.get("models") or {}, train.get("optional") or {}
    out = {}
    for name, runs in sets_of(train).items():
        where = {r: ("models" if r in models else "optional" if r in optional else None) for r in runs}
        missing = sorted(r for r, w in where.items() if w is None)
        if missing:
            raise ParamError(f"params key 'train.sets.{name}' lists {missing}, in neither train.models nor "
                             "train.optional")
        if len(set(where.values())) > 1:
            raise ParamError(f"params key 'train.sets.{name}': runs {sorted(r for r, w in where.items() if w == 'models')} "
                             f"are in train.models but {sorted(r for r, w in where.items() if w == 'optional')} in "
                             f"train.optional; `eqlab sets enable {name}` (or disable) puts them together")
        out[name] = not runs or next(iter(where.values())) == "models"
    stray = sorted(set(optional) - {r for runs in sets_of(train).values() for r in runs})
    if stray:
        raise ParamError(f"params key 'train.optional' holds {stray}, which no set of train.sets lists")
    return out


def enable(train: MutableMapping[str, Any], name: str) -> list[str]:
    """Move set ``name``'s runs from ``train.optional`` to the end of ``train.models``; returns them
    (empty when the set was already enabled)."""
    state = status(train)
    check_choice("set", name, sorted(state))
    if state[name]:
        return []
    runs = sets_of(train)[name]
    for run in runs:
        train["models"][run] = train["optional"].pop(run)
    if not train["optional"]:
        train["optional"] = None  # as the text reads: `optional:` with no entries
    return runs


def disable(train: MutableMapping[str, Any], name: str, keep: set[str] | frozenset[str] = frozenset()) -> list[str]:
    """Move set ``name``'s runs from ``train.models`` to ``train.optional``; returns them. ``keep``:
    runs other sections still name (e.g. ``extract_features.runs``), which are refused."""
    state = status(train)
    check_choice("set", name, sorted(state))
    if not state[name]:
        return []
    runs = sets_of(train)[name]
    needed = sorted(set(runs) & set(keep))
    if needed:
        raise ParamError(f"set {name!r}: runs {needed} are named elsewhere in params.yaml (extract_features.runs); "
                         "remove them there first")
    if not train.get("optional"):
        train["optional"] = {}
    for run in runs:
        train["optional"][run] = train["models"].pop(run)
    return runs


def optional_runs(train: Mapping[str, Any]) -> dict[str, tuple[str, Any]]:
    """Run ID → (its set, its spec) for every run of a set that is not enabled."""
    state = status(train)
    optional = train.get("optional") or {}
    return {run: (name, optional[run]) for name, runs in sets_of(train).items() if not state[name] for run in runs}
