"""DVC stage probe_rfnn: the Jacobsen thesis's RFNN limited-data study (PAPERS.md 001, ch. 3).

RFNN (fixed Gaussian-derivative basis) versus the identical free-filter CNN on stratified subsets of the
5,000 embedded MNIST digits, the order / scale ablation and the free-basis refactorisation control
(:mod:`eqlab.probes.rfnn_digits`). Writes one tidy table (one row per experiment × network × training
size × seed) and a small metrics JSON. No dataset stage, no trained model from the pipeline.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from eqlab.cli import run_stage
from eqlab.data.raw import embedded_digits
from eqlab.io import write_json
from eqlab.probes.rfnn_digits import config_from_params, rfnn_experiment
from eqlab.probes.table import write_results

log = logging.getLogger("probe_rfnn")


def summarise(df: pd.DataFrame) -> dict[str, float]:
    """Seed-mean test accuracy of RFNN and CNN at every training size, of every Table 1 order and of the
    refactor control."""
    out: dict[str, float] = {}
    for (exp, kind, order, scales, n), g in df.groupby(["experiment", "kind", "order", "scales", "n_train"]):
        out[f"{exp}_{kind}_o{order}_{scales}_n{n}_acc"] = round(float(g.test_acc.mean()), 6)
    return out


def main(args: argparse.Namespace, params: dict[str, Any]) -> None:
    cfg = config_from_params(params)
    torch.use_deterministic_algorithms(True)
    digits = embedded_digits()
    df = rfnn_experiment(cfg, digits.images, digits.labels)
    write_results(Path(args.out), df)
    write_json(args.metrics, summarise(df))
    log.info("%d rows → %s", len(df), args.out)


def cli(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--out", required=True, help="output directory: results.parquet + results.csv")
    p.add_argument("--metrics", required=True, help="output metrics JSON")
    return run_stage(main, p, argv)


if __name__ == "__main__":
    sys.exit(cli())
