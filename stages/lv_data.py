"""DVC stage lv_data: the upright natural images Lenc & Vedaldi's network analogues train on.

The embedded TIM stand-in before rotation (:func:`eqlab.models.lv_train.upright_images`), 32×32 uint8,
all 16 classes; written as one ``.npz`` (train / val / test images and labels) and the class names.
"""

from __future__ import annotations

import argparse
import io
import logging
import sys
from pathlib import Path
from typing import Any

import numpy as np

from eqlab.cli import run_stage
from eqlab.io import atomic_path, write_json
from eqlab.models.lv_train import configs, upright_images

log = logging.getLogger("lv_data")


def main(args: argparse.Namespace, params: dict[str, Any]) -> None:
    data_cfg, _, _ = configs(params)
    arrays, classes = upright_images(data_cfg)
    buf = io.BytesIO()
    np.savez(buf, **{f"{split}_{k}": v for split, (x, y) in arrays.items() for k, v in (("images", x), ("labels", y))})
    with atomic_path(Path(args.out)) as tmp:
        tmp.mkdir()
        (tmp / "images.npz").write_bytes(buf.getvalue())
        write_json(
            tmp / "meta.json",
            {
                "classes": classes,
                "sizes": {s: len(y) for s, (_, y) in arrays.items()},
                "origin": "embedded TIM stand-in before rotation (NOT TinyImageNet), 32 px",
            },
        )
    log.info("%s → %s", {s: len(y) for s, (_, y) in arrays.items()}, args.out)


def cli(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--out", required=True, help="output directory: images.npz + meta.json")
    return run_stage(main, p, argv)


if __name__ == "__main__":
    sys.exit(cli())
