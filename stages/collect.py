"""DVC stage collect: every run's card, accuracy and probe tables → one long results table.

Reads only the per-run files of the runs in ``train.models`` (and, for Lenc & Vedaldi maps, in
``extract_features.runs``). Files of runs no longer in params are an error naming them: they would be
hashed into ``dvc.lock`` through the folder dependencies.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from eqlab.cli import run_stage
from eqlab.io import atomic_path
from eqlab.params import section
from eqlab.report.collect import collect, stale_outputs

log = logging.getLogger("collect")


def main(args: argparse.Namespace, params: dict[str, Any]) -> None:
    runs = sorted(section(params, "train.models"))
    probed = sorted(section(params, "extract_features.runs"))
    cards, metrics = Path(args.runs), Path(args.train_metrics)
    probe_dirs = {**{Path(d): runs for d in args.run_probes}, **{Path(d): probed for d in args.feature_probes}}
    stale = [*stale_outputs(cards, runs, ".json"), *stale_outputs(metrics, runs, ".json"),
             *(s for d, names in probe_dirs.items() for s in stale_outputs(d, names))]
    if stale:
        raise FileNotFoundError("outputs of runs no longer in params.yaml would be hashed into dvc.lock: "
                                f"{', '.join(map(str, stale))}; delete them (they are not needed)")
    pairs = [(cards / f"{r}.json", metrics / f"{r}.json") for r in runs]
    tables = [d / r / "results.parquet" for d, names in probe_dirs.items() for r in names]
    for p in [*(q for pair in pairs for q in pair), *tables]:
        if not p.exists():
            raise FileNotFoundError(f"collect: missing {p} (run `dvc repro` for the stage that writes it)")
    results, run_table = collect(pairs, tables)
    with atomic_path(args.out) as tmp:
        tmp.mkdir()
        results.to_parquet(tmp / "results.parquet", index=False)
        run_table.to_parquet(tmp / "runs.parquet", index=False)
        run_table.to_csv(tmp / "runs.csv", index=False)
    log.info("%d runs, %d result rows → %s", len(run_table), len(results), args.out)


def cli(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--runs", required=True, help="folder of run cards (<run>.json)")
    p.add_argument("--train-metrics", required=True, help="folder of train metrics JSON (<run>.json)")
    p.add_argument("--run-probes", nargs="*", default=[],
                   help="folders of probes run for every run (<folder>/<run>/results.parquet)")
    p.add_argument("--feature-probes", nargs="*", default=[],
                   help="folders of probes run for the runs in extract_features.runs")
    p.add_argument("--out", required=True, help="output folder: results.parquet, runs.parquet, runs.csv")
    return run_stage(main, p, argv)


if __name__ == "__main__":
    sys.exit(cli())
