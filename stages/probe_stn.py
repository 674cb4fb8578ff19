"""DVC stage probe_stn: the extension to Jansson et al. (PAPERS.md 003; issue 14, item 2).

Rotated and scaled embedded digits classified with no alignment, an oracle inverse warp or a learned spatial
transformer at depth 0, 1 and 2, beside the upright ceiling (:mod:`eqlab.probes.stn_digits`). Writes one tidy
table (one row per network × seed) and a small metrics JSON. No dataset stage, no pipeline model.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from tqdm.auto import tqdm

from eqlab.data.raw import embedded_digits
from eqlab.io import write_json
from eqlab.probes.stage_cli import probe_cli
from eqlab.probes.stn_digits import config_from_params, stn_experiment, variants
from eqlab.probes.table import write_results

log = logging.getLogger("probe_stn")


def summarise(df: pd.DataFrame) -> dict[str, float]:
    """Seed-mean test accuracy of every network."""
    return {(f"{v}_acc" if d < 0 else f"{v}_depth{d}_acc"): round(float(g.test_acc.mean()), 6)
            for (v, d), g in df.groupby(["variant", "depth"])}  # fmt: skip


def main(args: argparse.Namespace, params: dict[str, Any]) -> None:
    cfg = config_from_params(params)
    torch.use_deterministic_algorithms(True)
    digits = embedded_digits()
    with tqdm(total=len(cfg.seeds) * len(variants(cfg)), desc="probe_stn", unit="net") as bar:
        df = stn_experiment(cfg, digits.images, digits.labels, progress=bar)
    write_results(Path(args.out), df)
    write_json(args.metrics, summarise(df))
    log.info("%d rows → %s", len(df), args.out)


def cli(argv: list[str] | None = None) -> int:
    return probe_cli(main, __doc__, argv)


if __name__ == "__main__":
    sys.exit(cli())
