"""DVC stage collect: every run's card, accuracy and probe tables → one long results table.

Reads only the per-run files of the runs in ``train.models`` (and, for Lenc & Vedaldi maps, in
``extract_features.runs``). Files of runs no longer in params are an error naming them: they would be
hashed into ``dvc.lock`` through the folder dependencies. ``optional.parquet`` lists the runs of the run
sets that are not enabled (:mod:`eqlab.runsets`), with their set and metadata, so that a report can say
which of its cells an enabled set would fill.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from eqlab import runsets
from eqlab.cli import run_stage
from eqlab.io import atomic_path
from eqlab.params import section
from eqlab.report.collect import collect, stale_outputs
from eqlab.runs import describe, run_spec

OPTIONAL_COLUMNS = ("family", "arch", "dataset", "group", "augment", "beta", "seed", "het", "upsample")

log = logging.getLogger("collect")


def optional_table(train: dict[str, Any]) -> pd.DataFrame:
    """One row per run of a disabled run set: ``run``, ``set`` and the run's metadata (as in runs.parquet)."""
    rows = [{"run": run, "set": name, **describe(run_spec(run, entry))}
            for run, (name, entry) in runsets.optional_runs(train).items()]
    return pd.DataFrame(rows, columns=["run", "set", *OPTIONAL_COLUMNS])


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
    optional = optional_table(params.get("train") or {})
    with atomic_path(args.out) as tmp:
        tmp.mkdir()
        results.to_parquet(tmp / "results.parquet", index=False)
        optional.to_parquet(tmp / "optional.parquet", index=False)
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
    p.add_argument("--out", required=True,
                   help="output folder: results.parquet, runs.parquet, runs.csv, optional.parquet")
    return run_stage(main, p, argv)


if __name__ == "__main__":
    sys.exit(cli())
