"""DVC stage extract_features@<run>: tap activations on held-out x and g·x → Parquet."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

import numpy as np

from eqlab.cli import run_stage
from eqlab.data.store import load_split
from eqlab.features.extract import ExtractConfig, ExtractProfile, extract_features
from eqlab.groups import INTERPOLATIONS, get_transform
from eqlab.models import load_trained
from eqlab.params import ParamError, build, check_choice, profile_of, section
from eqlab.train.device import device_from_params

log = logging.getLogger("extract_features")


def check_probed_run(params: dict[str, Any], run: str, dataset: str) -> None:
    """The stage item must be a run of ``train.models`` listed in ``extract_features.runs`` with the
    dataset that run trains on (the foreach value)."""
    check_choice("train.models (stage item)", run, sorted(section(params, "train.models")))
    probed = section(params, "extract_features.runs")
    check_choice("extract_features.runs (stage item)", run, sorted(probed))
    trained_on = section(params, f"train.models.{run}.dataset")
    if probed[run] != trained_on or dataset != trained_on:
        raise ParamError(f"params key 'extract_features.runs.{run}' is {probed[run]!r} (data dir {dataset!r}), "
                         f"but train.models.{run}.dataset is {trained_on!r}")


def main(args: argparse.Namespace, params: dict[str, Any]) -> None:
    profile = profile_of(params)
    check_probed_run(params, args.run, Path(args.data).name)
    cfg = build(ExtractConfig, {k: v for k, v in section(params, "extract_features").items()
                                if k not in ("small", "paper", "smoke", "runs")}, "extract_features")
    prof = build(ExtractProfile, section(params, f"extract_features.{profile}"), f"extract_features.{profile}")
    check_choice("extract_features.interpolation", cfg.interpolation, INTERPOLATIONS)
    transforms = []
    for i, name in enumerate(("identity", *cfg.transforms)):
        try:
            transforms.append(get_transform(name))
        except ValueError as e:
            raise ParamError(f"params key 'extract_features.transforms[{i - 1}]': {e}") from None
    test = load_split(args.data, "test")
    n = min(prof.n_images, len(test.labels))
    ids = np.sort(np.random.default_rng(cfg.seed).permutation(len(test.labels))[:n])
    device = device_from_params(params)
    model = load_trained(args.model_dir, device)
    manifest = extract_features(model, test.images[ids], test.labels[ids], ids, transforms, args.out,
                                {"run": args.run, "dataset": Path(args.data).name, "split": "test"},
                                cfg.interpolation)
    log.info("%s: %d images × %d transforms × %d layers → %s", args.run, n, len(transforms),
             len(manifest["layers"]), args.out)


def cli(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("run", help="run ID, a key of train.models in params.yaml")
    p.add_argument("--data", required=True, help="dataset directory")
    p.add_argument("--model-dir", required=True, help="trained model directory")
    p.add_argument("--out", required=True, help="output feature directory")
    return run_stage(main, p, argv)


if __name__ == "__main__":
    sys.exit(cli())
