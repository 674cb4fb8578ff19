"""``eqlab compare``: does this reproduction agree with the committed results?

Reads ``reports/tables/{results,runs}.parquet`` from the working tree and from a git revision
(default ``HEAD``: ``core.autostage`` stages ``dvc.lock`` and the tables, so the index is not a
reference) and prints three tables: accuracy per run (within ``--acc-points``), every equivariance
measurement per probe and metric (within ``--orders`` orders of magnitude; float noise below
``--floor`` counts as equal), and every claim verdict of every paper (must be unchanged). Exit 0 when
all agree, 1 when something differs, 2 on a usage error. Bit-exact results are not expected across
machines; these are the checks that decide whether a reproduction reproduces.
"""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
from pathlib import Path

# paper → its claims over the collected tables (results, runs) -> list[Claim]
PAPER_CLAIMS = {"ien": "eqlab.papers.ien.claims:all_claims"}


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("compare", help="compare a reproduction with the committed results (tolerances, verdicts)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--against", default="HEAD", help="git revision holding the reference tables (default: HEAD)")
    p.add_argument("--tables", default="reports/tables", help="collected tables folder (default: reports/tables)")
    p.add_argument("--acc-points", type=float, default=3.0, help="accuracy tolerance in points (default: 3)")
    p.add_argument("--orders", type=float, default=1.0, help="equivariance tolerance, orders of magnitude (default: 1)")
    p.add_argument("--floor", type=float, default=1e-8, help="values below this on both sides are equal (default: 1e-8)")
    return p


def _read(rev: str, path: Path):
    import pandas as pd

    r = subprocess.run(["git", "show", f"{rev}:{path.as_posix()}"], capture_output=True)
    if r.returncode:
        raise FileNotFoundError(f"{rev}:{path.as_posix()}: {r.stderr.decode().strip()}")
    return pd.read_parquet(io.BytesIO(r.stdout))


def _claims(results, runs) -> dict[str, list]:
    import importlib

    out = {}
    for paper, target in PAPER_CLAIMS.items():
        module, fn = target.split(":")
        out[paper] = getattr(importlib.import_module(module), fn)(results, runs)
    return out


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from eqlab.report.compare import compare_accuracy, compare_measurements, compare_verdicts

    tables = Path(args.tables)
    try:
        ref = {n: _read(args.against, tables / f"{n}.parquet") for n in ("results", "runs")}
        new = {n: pd.read_parquet(tables / f"{n}.parquet") for n in ("results", "runs")}
    except (FileNotFoundError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    acc = compare_accuracy(ref["runs"], new["runs"], args.acc_points)
    meas = compare_measurements(ref["results"], new["results"], args.orders, args.floor)
    old_claims, new_claims = _claims(ref["results"], ref["runs"]), _claims(new["results"], new["runs"])
    verdicts = pd.concat([compare_verdicts(old_claims[p], new_claims[p]).assign(paper=p) for p in PAPER_CLAIMS],
                         ignore_index=True)
    with pd.option_context("display.max_rows", None, "display.max_columns", None, "display.width", 250,
                           "display.max_colwidth", 120):
        print(f"Accuracy per run (reference: {args.against}; tolerance ±{args.acc_points:g} points)")
        print(acc.round(2).to_string())
        print(f"\nEquivariance measurements (tolerance {args.orders:g} order(s) of magnitude; "
              f"both below {args.floor:g} count as equal)")
        print(meas.round(3).to_string(index=False))
        print("\nClaim verdicts")
        print(verdicts[["paper", "reference", "reproduced", "ok", "claim"]].to_string(index=False))
    bad = int((~acc.ok).sum()) + int((~meas.ok).sum()) + int((~verdicts.ok).sum())
    print(f"\n{'agrees' if not bad else f'{bad} difference(s) outside tolerance'}: "
          f"{len(acc)} runs, {int(meas.n.sum())} measurements, {len(verdicts)} verdicts")
    return 1 if bad else 0
