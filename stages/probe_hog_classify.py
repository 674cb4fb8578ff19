"""DVC stage probe_hog_classify: equivariant classification with HOG (Lenc & Vedaldi Sec. 5.2.3, Fig. 7).

A linear classifier on the HOG template of two embedded MNIST digit classes scores test digits
transformed by g⁻¹ directly (uncompensated) and through each learned map M_g (LS, RR, FS); writes a
tidy table (Parquet + CSV: accuracy with its 95 % interval per transform × method) and a metrics JSON.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from eqlab.cli import run_stage
from eqlab.io import write_json
from eqlab.probes.hog_classify import config_from_params, hog_classify_experiment
from eqlab.probes.table import write_results

log = logging.getLogger("probe_hog_classify")


def summarise(df: pd.DataFrame) -> dict[str, float]:
    """Per method, the mean and the lowest test accuracy over the transforms."""
    acc = df.groupby("method", sort=True).accuracy
    return {**{f"accuracy_mean_{m}": float(v) for m, v in acc.mean().items()},
            **{f"accuracy_min_{m}": float(v) for m, v in acc.min().items()}}


def main(args: argparse.Namespace, params: dict[str, Any]) -> None:
    cfg = config_from_params(params)
    df = hog_classify_experiment(cfg)
    out = Path(args.out)
    write_results(out, df)
    write_json(args.metrics, summarise(df))
    log.info("digits %s: %d rows → %s", cfg.digits, len(df), out)


def cli(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--out", required=True, help="output directory: results.parquet + results.csv")
    p.add_argument("--metrics", required=True, help="output metrics JSON")
    return run_stage(main, p, argv)


if __name__ == "__main__":
    sys.exit(cli())
