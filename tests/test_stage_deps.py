"""Every stage depends on the code it runs: the module-level import closure of its script (plus the
architecture and family modules a model-loading stage imports by name) is inside its declared deps.

Static (``ast``), so it runs in well under a second; together with the pipeline test (a new model
module and a new transform module rerun nothing) it keeps ``dvc.yaml``'s code deps honest both ways.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import ROOT

SRC = ROOT / "src"


def module_file(name: str) -> Path | None:
    base = SRC.joinpath(*name.split("."))
    for p in (base.with_suffix(".py"), base / "__init__.py"):
        if p.is_file():
            return p
    return None


def top_level_imports(path: Path) -> set[str]:
    """eqlab modules imported at module level (not inside functions: those are imported on use)."""
    out: set[str] = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("eqlab")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("eqlab"):
            out.add(node.module)
            out |= {f"{node.module}.{a.name}" for a in node.names if module_file(f"{node.module}.{a.name}")}
    return out


def closure(paths: list[Path]) -> set[Path]:
    """Files of every eqlab module imported (transitively, at module level) by ``paths``, with each
    package's ``__init__.py`` on the way."""
    seen: set[Path] = set()
    todo = list(paths)
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        for name in top_level_imports(p):
            parts = name.split(".")
            for i in range(1, len(parts) + 1):
                f = module_file(".".join(parts[:i]))
                if f is not None and f not in seen:
                    todo.append(f)
    return seen


def covered(file: Path, deps: list[str]) -> bool:
    rel = file.relative_to(ROOT).as_posix()
    return any(rel == d or rel.startswith(d.rstrip("/") + "/") for d in deps)


def stages() -> list[tuple[str, str, list[str], list[Path]]]:
    """(stage name, script, deps, extra modules it imports by name) for one instance of each template."""
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    out = []
    from dvc.repo import Repo

    with Repo(str(ROOT)) as repo:
        for stage in repo.index.stages:
            cmd = stage.cmd if isinstance(stage.cmd, str) else " ".join(stage.cmd)
            script = cmd.split()[1]
            deps = [Path(d.def_path).as_posix() for d in stage.deps]
            extra: list[Path] = []
            run = stage.name.split("@")[-1]
            spec = params["train"]["models"].get(run) if "@" in stage.name else None
            if spec is not None and stage.name.split("@")[0] in ("train", "probe_extent", "extract_features",
                                                                 "probe_lv_maps"):
                extra = [SRC / f"eqlab/models/{spec['arch']}.py", SRC / f"eqlab/models/{spec['family']}.py"]
            out.append((stage.name, script, deps, extra))
    return out


@pytest.mark.parametrize("name,script,deps,extra", stages(), ids=lambda v: v if isinstance(v, str) else "")
def test_stage_deps_cover_the_code_it_runs(name, script, deps, extra):
    assert script in deps, f"{name}: its script {script} is not a dependency"
    missing = sorted(f.relative_to(ROOT).as_posix() for f in closure([ROOT / script, *extra]) if not covered(f, deps))
    assert not missing, f"{name} imports {missing} but dvc.yaml does not list them"


def test_closure_sees_module_level_imports_only(tmp_path):
    f = tmp_path / "m.py"
    f.write_text("from eqlab.io import write_json\n\ndef g():\n    from eqlab.models import e2cnn\n")
    assert top_level_imports(f) == {"eqlab.io"}


def test_dvc_lock_holds_only_stages_of_dvc_yaml(root):
    """DVC keeps lock entries of removed stages; stale ones mislead readers and slow every lock rewrite."""
    dvc = Path(sys.executable).parent / "dvc"
    live = set(subprocess.run([dvc, "stage", "list", "--name-only"], cwd=root, capture_output=True, text=True,
                              check=True).stdout.split())
    locked = set(yaml.safe_load((root / "dvc.lock").read_text())["stages"])
    assert live and not (locked - live), sorted(locked - live)


def test_every_stage_declares_the_thread_count_it_runs_with():
    """eqlab.cli.run_stage sets every stage's CPU threads from the top-level ``threads`` param, and results
    depend on it: each stage must list it, or a change would not rerun it."""
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    missing = [name for name, st in stages.items() if "threads" not in (st.get("do", st).get("params") or [])]
    assert not missing, f"stages without the 'threads' param: {missing}"


def test_a_bad_thread_count_names_the_key():
    from eqlab.cli import threads_of
    from eqlab.params import ParamError

    assert threads_of({}) == 1 and threads_of({"threads": 4}) == 4
    for bad in (0, -1, 1.5, "2", True):
        with pytest.raises(ParamError, match="params key 'threads'"):
            threads_of({"threads": bad})
