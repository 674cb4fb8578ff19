"""``eqlab validate``: check params.yaml, the run references and data/raw before ``dvc repro`` starts anything.

``make reproduce`` runs it first. Exit 0 when everything checks out; otherwise every problem is
printed on its own line (each naming its params key) and the exit status is 2, and nothing was run.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("validate", help="check params.yaml, run references and data/raw before dvc repro",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--params", default="params.yaml", help="params file (default: params.yaml)")
    p.add_argument("--root", default=".", help="repository root, for data/raw and stale outputs (default: .)")
    return p


def run(args: argparse.Namespace) -> int:
    from eqlab.params import ParamError, load_params
    from eqlab.validate import validate

    try:
        params = load_params(args.params)
    except ParamError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    raw = Path(args.root) / "data" / "raw"
    problems = validate(params, Path(args.root))
    for line in problems:
        print(f"error: {line}", file=sys.stderr)
    if problems:
        print(f"{len(problems)} problem(s) in {args.params} or {raw}; nothing was run", file=sys.stderr)
        return 2
    print(
        f"{args.params}: every stage's params, {len(params['train']['models'])} runs, their references "
        f"and {raw} check out"
    )
    return 0
