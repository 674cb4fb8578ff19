"""``eqlab stage <name> [arguments]``: run one pipeline stage's script by hand (what DVC runs).

The stage scripts live in the repository's ``stages/`` folder (one per ``dvc.yaml`` stage template);
``eqlab stage`` lists them with their purpose, ``eqlab stage <name> --help`` shows a stage's
arguments. Paths are DVC's to choose: copy a stage's command from ``dvc.yaml`` (or ``dvc repro
--dry``) rather than inventing outputs, or run ``dvc repro -s <stage>@<item>`` to keep dvc.lock true.
Run it from the repository root (or pass ``--root``).
"""

from __future__ import annotations

import argparse
import ast
import runpy
import sys
from pathlib import Path


def find_stages(root: Path) -> dict[str, str]:
    """``{name: first docstring line}`` of ``root/stages/*.py``."""
    folder = root / "stages"
    if not folder.is_dir():
        raise FileNotFoundError(f"no stages/ folder under {root.resolve()}: run from the repository root or pass --root")
    out = {}
    for path in sorted(folder.glob("*.py")):
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
        out[path.stem] = doc.splitlines()[0] if doc else ""
    return out


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("stage", help="run one pipeline stage's script (list them without a name)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", type=Path, default=Path("."), help="repository root (default: .)")
    p.add_argument("name", nargs="?", help="stage script name (stages/<name>.py); omit to list them")
    p.add_argument("stage_args", nargs=argparse.REMAINDER, help="the stage's own arguments (--help for its list)")
    return p


def run(args: argparse.Namespace) -> int:
    try:
        stages = find_stages(args.root)
    except FileNotFoundError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.name is None:
        width = max(map(len, stages))
        print("stages (eqlab stage <name> --help):")
        for name, doc in stages.items():
            print(f"  {name:<{width}}  {doc}")
        return 0
    if args.name not in stages:
        print(f"error: unknown stage {args.name!r}; allowed values: {sorted(stages)}", file=sys.stderr)
        return 2
    script = args.root / "stages" / f"{args.name}.py"
    sys.argv = [str(script), *args.stage_args]
    try:
        runpy.run_path(str(script), run_name="__main__")
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    return 0
