"""DVC stage make_dataset@<dataset>: build one dataset directory (and its card) from raw files or embedded data."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
from pathlib import Path
from typing import Any

from eqlab.cli import run_stage
from eqlab.data.card import write_card
from eqlab.data.raw import RawDataError
from eqlab.data.registry import DATASETS, dataset_spec
from eqlab.data.store import load_meta, save_dataset
from eqlab.params import ParamError, build, check_choice, profile_of, section

log = logging.getLogger("make_dataset")


def main(args: argparse.Namespace, params: dict[str, Any]) -> None:
    name = check_choice("make_dataset (stage item)", args.dataset, sorted(DATASETS))
    spec = dataset_spec(name)
    profile = profile_of(params)
    cfg = build(spec.config, section(params, f"make_dataset.{name}"), f"make_dataset.{name}")
    sizes = build(spec.sizes, section(params, f"make_dataset.{profile}.{name}"), f"make_dataset.{profile}.{name}")
    try:
        splits, meta = spec.build(cfg, sizes, Path(args.raw_dir))
    except ValueError as e:  # protocol/size conflicts found while building name the dataset's params
        if isinstance(e, ParamError | RawDataError):
            raise
        raise ParamError(f"make_dataset.{name} / make_dataset.{profile}.{name}: {e}") from e
    meta["profile"] = profile
    save_dataset(args.out, splits, meta)
    if args.card:
        write_card(args.card, name, spec.title, splits, load_meta(args.out), dataclasses.asdict(cfg),
                   dataclasses.asdict(sizes))
    log.info("%s: source %s, sizes %s → %s", name, meta["source"], {k: len(s.labels) for k, s in splits.items()},
             args.out)


def cli(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("dataset", help=f"dataset ID, one of {sorted(DATASETS)}")
    p.add_argument("--raw-dir", required=True, help="data/raw: optional real files, one folder per source")
    p.add_argument("--out", required=True, help="output dataset directory")
    p.add_argument("--card", default=None, help="output folder for the dataset card (card.md, examples.png)")
    return run_stage(main, p, argv)


if __name__ == "__main__":
    sys.exit(cli())
