"""DVC stage collect: every run's train metrics and probe tables → one long results table."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from eqlab.cli import run_stage
from eqlab.io import atomic_path
from eqlab.params import section
from eqlab.report.collect import collect

log = logging.getLogger("collect")


def main(args: argparse.Namespace, params: dict[str, Any]) -> None:
    runs = sorted(section(params, "train.models"))
    probed = sorted(section(params, "extract_features.runs"))
    metrics = [Path(args.train_metrics) / f"{r}.json" for r in runs]
    probes = [Path(args.probes) / r / "results.parquet" for r in probed]
    for p in [*metrics, *probes]:
        if not p.exists():
            raise FileNotFoundError(f"collect: missing {p} (run `dvc repro` for the stage that writes it)")
    results, run_table = collect(metrics, probes)
    with atomic_path(args.out) as tmp:
        tmp.mkdir()
        results.to_parquet(tmp / "results.parquet", index=False)
        run_table.to_parquet(tmp / "runs.parquet", index=False)
        run_table.to_csv(tmp / "runs.csv", index=False)
    log.info("%d runs, %d result rows → %s", len(run_table), len(results), args.out)


def cli(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--train-metrics", required=True, help="folder of train metrics JSON (<run>.json)")
    p.add_argument("--probes", required=True, help="folder of probe tables (<run>/results.parquet)")
    p.add_argument("--out", required=True, help="output folder: results.parquet, runs.parquet, runs.csv")
    return run_stage(main, p, argv)


if __name__ == "__main__":
    sys.exit(cli())
