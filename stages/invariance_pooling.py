"""DVC stage invariance_pooling: pooling variants on embedded digits (PAPERS.md section 004, issue 14 item 3).

Every variant of ``invariance_review.pooling.variants`` (max, average, Lp with fixed p, learned p,
stochastic, heterogeneous, entropy, and max pooling with a global-max head) × every seed trains the small
CNN of :mod:`eqlab.invariance.poolnet` on one stratified split of the 5,000 embedded MNIST digits
(:mod:`eqlab.invariance.experiments`). Writes one tidy table (Parquet + CSV) and a small metrics JSON.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from eqlab.cli import run_stage
from eqlab.data.raw import embedded_digits
from eqlab.invariance.config import config_from_params
from eqlab.invariance.experiments import pooling_experiment
from eqlab.io import write_json
from eqlab.probes.table import write_results

log = logging.getLogger("invariance_pooling")


def summarise(df: pd.DataFrame) -> dict[str, float]:
    """Per variant the mean test accuracy and train–test gap over seeds, and the mean learned p."""
    out: dict[str, float] = {}
    for metric in ("test_acc", "gap"):
        means = df[df.metric == metric].groupby("model", sort=False).value.mean()
        out |= {f"{metric}_{k}": float(v) for k, v in means.items()}
    p = df[df.metric == "learned_p"].value
    if len(p):
        out["learned_p_mean"] = float(p.mean())
    return out


def main(args: argparse.Namespace, params: dict[str, Any]) -> None:
    cfg = config_from_params(params)
    d = embedded_digits()
    df = pooling_experiment(cfg, d.images, d.labels)
    write_results(Path(args.out), df)
    write_json(args.metrics, summarise(df))
    log.info("%d rows (%d variants × %d seeds) → %s", len(df), len(cfg.pooling.variants), len(cfg.seeds), args.out)


def cli(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--out", required=True, help="output directory: results.parquet + results.csv")
    p.add_argument("--metrics", required=True, help="output metrics JSON")
    return run_stage(main, p, argv)


if __name__ == "__main__":
    sys.exit(cli())
