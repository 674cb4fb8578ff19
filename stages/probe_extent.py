"""DVC stage probe_extent@<run>: the extent of equivariance and the Lie derivative of a trained model, per tap.

Reads the model (``config.json`` + state dict) and the test split of its dataset; writes
``results.parquet`` (long rows, see :mod:`eqlab.probes.extent`) and a metrics JSON with the mean
relative errors over the taps.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

import torch

from eqlab.cli import run_stage
from eqlab.data.store import load_split, to_float
from eqlab.io import atomic_path, read_json, write_json
from eqlab.models import load_trained
from eqlab.params import build, check_choice, profile_of, section
from eqlab.probes.extent import LIE_PROBE, PROBE, ROT45_ODD, ExtentProfile, extent_rows, lie_rows
from eqlab.probes.frame import probe_frame
from eqlab.probes.lie import FLOWS
from eqlab.train.device import device_from_params

log = logging.getLogger("probe_extent")


def main(args: argparse.Namespace, params: dict[str, Any]) -> None:
    profile = profile_of(params)
    prof = build(ExtentProfile, section(params, f"probe_extent.{profile}"), f"probe_extent.{profile}")
    group = section(params, "probe_extent.group_without_groups")
    flows = tuple(section(params, "probe_extent.lie_flows"))
    for i, f in enumerate(flows):
        check_choice(f"probe_extent.lie_flows[{i}]", f, FLOWS)
    device = device_from_params(params)
    config = read_json(Path(args.model_dir) / "config.json")
    model = load_trained(args.model_dir, device)
    test = load_split(args.data, "test")
    n = min(prof.n_images, len(test.labels))
    x = to_float(torch.from_numpy(test.images)[:n])
    rows = extent_rows(model, x, config["group"] or group, progress=True)
    if flows:
        rows += lie_rows(model, x[: prof.n_images_lie], flows)
    df = probe_frame(rows, config)
    with atomic_path(args.out) as tmp:
        tmp.mkdir()
        df.to_parquet(tmp / "results.parquet", index=False)
    rel = df[(df.metric == "rel") & (df.probe == PROBE)]
    summary = {"rel_mean": float(rel[rel["transform"] != ROT45_ODD].value.mean())}
    if (rel["transform"] == ROT45_ODD).any():
        summary["rel45_mean"] = float(rel[rel["transform"] == ROT45_ODD].value.mean())
    lie = df[(df.metric == "rel") & (df.probe == LIE_PROBE)]
    summary.update({f"lie_rel_mean_{f}": float(v) for f, v in lie.groupby("transform").value.mean().items()})
    write_json(args.metrics, summary)
    log.info("%s: %d rows, mean relative error %.3g → %s", args.run, len(df), summary["rel_mean"], args.out)


def cli(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("run", help="run ID, a key of train.models in params.yaml")
    p.add_argument("--data", required=True, help="dataset directory (its test split is measured)")
    p.add_argument("--model-dir", required=True, help="trained model directory")
    p.add_argument("--out", required=True, help="output directory: results.parquet")
    p.add_argument("--metrics", required=True, help="output metrics JSON")
    return run_stage(main, p, argv)


if __name__ == "__main__":
    sys.exit(cli())
