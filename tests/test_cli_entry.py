"""Entry points: `eqlab` / `python -m eqlab` / `python -m eqlab.cli`, a --help for every verb, and
`eqlab stage` reaching every stage script."""

from __future__ import annotations

import subprocess
import sys

import pytest

from eqlab.__main__ import COMMANDS


def eqlab(*args: str, module: str = "eqlab", cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True, cwd=cwd)


@pytest.mark.parametrize("module", ["eqlab", "eqlab.cli"])
def test_top_level_help_lists_every_verb(module):
    r = eqlab("--help", module=module)
    assert r.returncode == 0 and all(f"    {c} " in r.stdout for c in COMMANDS), r.stdout
    assert "stage" in COMMANDS and "repro" in COMMANDS


@pytest.mark.parametrize("verb", COMMANDS)
def test_every_verb_has_help(verb, root):
    r = eqlab(verb, "--help", cwd=root)
    assert r.returncode == 0 and r.stdout.startswith(f"usage: eqlab {verb}"), r.stdout + r.stderr


def test_stage_lists_and_runs_every_stage_script(root):
    listing = eqlab("stage", cwd=root)
    names = sorted(p.stem for p in (root / "stages").glob("*.py"))
    assert listing.returncode == 0 and all(f"  {n} " in listing.stdout for n in names), listing.stdout
    train = eqlab("stage", "train", "--help", cwd=root)
    assert train.returncode == 0 and "--model-dir" in train.stdout
    unknown = eqlab("stage", "trian", cwd=root)
    assert unknown.returncode == 2 and "allowed values" in unknown.stderr and "'train'" in unknown.stderr
    elsewhere = eqlab("stage", cwd=root / "stages")
    assert elsewhere.returncode == 2 and "repository root" in elsewhere.stderr
