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
from eqlab.io import read_json
from eqlab.models import load_trained
from eqlab.params import ParamError, build, check_choice, profile_of, section
from eqlab.train.device import device_from_params

log = logging.getLogger("extract_features")


def probed_entry(params: dict[str, Any], run: str) -> dict[str, str]:
    """``extract_features.runs.<run>``: the stage item must be listed there as ``{dataset, family, arch}``."""
    probed = section(params, "extract_features.runs")
    check_choice("extract_features.runs (stage item)", run, sorted(probed))
    entry = probed[run]
    if not isinstance(entry, dict) or sorted(entry) != ["arch", "dataset", "family"]:
        raise ParamError(f"params key 'extract_features.runs.{run}' must be a mapping with keys "
                         f"['arch', 'dataset', 'family'], got {entry!r}")
    return entry


def check_trained_as_listed(run: str, entry: dict[str, str], data_dir: str, config: dict[str, Any]) -> None:
    """The listed dataset, family and arch must be the trained model's (its ``config.json``), and the
    data dir that dataset."""
    for k in ("dataset", "family", "arch"):
        if entry[k] != config[k]:
            raise ParamError(f"params key 'extract_features.runs.{run}.{k}' is {entry[k]!r}, but run {run!r} "
                             f"was trained with {k} {config[k]!r} (data/models/{run}/config.json)")
    if data_dir != config["dataset"]:
        raise ParamError(f"data dir {data_dir!r} is not the dataset {config['dataset']!r} run {run!r} was trained on")


def main(args: argparse.Namespace, params: dict[str, Any]) -> None:
    profile = profile_of(params)
    entry = probed_entry(params, args.run)
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
    config_path = Path(args.model_dir) / "config.json"
    if not config_path.is_file():
        raise FileNotFoundError(f"{config_path}: no trained model (run `dvc repro train@{args.run}` first)")
    check_trained_as_listed(args.run, entry, Path(args.data).name, read_json(config_path))
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
