"""DVC stage probe_hcnn: the Jacobsen thesis's hierarchical attribute CNN in miniature (PAPERS.md 001, ch. 5).

The HCNN at several Q (separable filters per layer) against vanilla CNNs of the same depth with 1× and ~10×
its parameters, on a stratified subset of the 5,000 embedded MNIST digits (:mod:`eqlab.probes.hcnn_digits`).
Writes one tidy table (one row per network × seed) and a small metrics JSON. No dataset stage.
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
from eqlab.probes.hcnn_digits import config_from_params, hcnn_experiment
from eqlab.probes.stage_cli import probe_cli
from eqlab.probes.table import write_results

log = logging.getLogger("probe_hcnn")


def summarise(df: pd.DataFrame) -> dict[str, float]:
    """Seed-mean test accuracy of every HCNN (per Q) and vanilla CNN (per parameter ratio)."""
    out: dict[str, float] = {}
    for (model, q, ratio), g in df.groupby(["model", "q", "ratio"]):
        name = f"hcnn_q{q}" if model == "hcnn" else f"cnn_x{ratio:g}"
        out[f"{name}_acc"] = round(float(g.test_acc.mean()), 6)
    return out


def main(args: argparse.Namespace, params: dict[str, Any]) -> None:
    cfg = config_from_params(params)
    torch.use_deterministic_algorithms(True)
    digits = embedded_digits()
    with tqdm(total=len(cfg.seeds) * (len(cfg.q_values) + len(cfg.cnn_ratios)), desc="probe_hcnn", unit="net") as bar:
        df = hcnn_experiment(cfg, digits.images, digits.labels, progress=bar)
    write_results(Path(args.out), df)
    write_json(args.metrics, summarise(df))
    log.info("%d rows → %s", len(df), args.out)


def cli(argv: list[str] | None = None) -> int:
    return probe_cli(main, __doc__, argv)


if __name__ == "__main__":
    sys.exit(cli())
