"""DVC stage make_dataset@<dataset>: build one dataset directory from raw files or embedded data."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from eqlab.cli import run_stage
from eqlab.data.rot_mnist import RotMnistConfig, SplitSizes, build_rot_mnist
from eqlab.data.store import save_dataset
from eqlab.params import build, check_choice, profile_of, section

DATASETS = ("rot_mnist",)
log = logging.getLogger("make_dataset")


def main(args: argparse.Namespace, params: dict[str, Any]) -> None:
    name = check_choice("make_dataset (stage item)", args.dataset, DATASETS)
    profile = profile_of(params)
    cfg = build(RotMnistConfig, section(params, f"make_dataset.{name}"), f"make_dataset.{name}")
    sizes = build(SplitSizes, section(params, f"make_dataset.{profile}.{name}"), f"make_dataset.{profile}.{name}")
    splits, meta = build_rot_mnist(cfg, sizes, Path(args.mnist_dir), Path(args.amat_dir))
    meta["profile"] = profile
    save_dataset(args.out, splits, meta)
    log.info("%s: source %s, sizes %s → %s", name, meta["source"], {k: len(s.labels) for k, s in splits.items()}, args.out)


def cli(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("dataset", help=f"dataset ID, one of {list(DATASETS)}")
    p.add_argument("--mnist-dir", required=True, help="folder with the four MNIST IDX files (optional files)")
    p.add_argument("--amat-dir", required=True, help="folder with mnist_rotation_new .amat files (optional files)")
    p.add_argument("--out", required=True, help="output dataset directory")
    return run_stage(main, p, argv)


if __name__ == "__main__":
    sys.exit(cli())
