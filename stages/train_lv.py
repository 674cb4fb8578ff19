"""DVC stage train_lv@<net>: train one Lenc & Vedaldi network analogue (h-flip augmentation only).

Reads the upright images of ``lv_data``; writes the state dict, its config, and a metrics JSON (test
top-1 error, final training loss).
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import logging
import sys
from pathlib import Path
from typing import Any

import torch

from eqlab.cli import run_stage
from eqlab.io import atomic_path, write_json
from eqlab.models.lv_train import configs, error_rate, load_split, train_net

log = logging.getLogger("train_lv")


def main(args: argparse.Namespace, params: dict[str, Any]) -> None:
    _, train_cfg, nets = configs(params)
    if args.net not in nets:
        raise ValueError(f"unknown net {args.net!r}; lenc_vedaldi_nets.nets has {sorted(nets)}")
    net = nets[args.net]
    x, y = load_split(args.data, "train", net.label_set)
    model, history = train_net(net, train_cfg, x, y, int(y.max()) + 1)
    xt, yt = load_split(args.data, "test", net.label_set)
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    with atomic_path(Path(args.model_dir)) as tmp:
        tmp.mkdir()
        (tmp / "model.pt").write_bytes(buf.getvalue())
        write_json(
            tmp / "config.json",
            {
                "net": args.net,
                **dataclasses.asdict(net),
                "n_classes": int(y.max()) + 1,
                "spec": dataclasses.asdict(model.spec),
                "train": dataclasses.asdict(train_cfg),
            },
        )
    err = error_rate(model, xt, yt)
    write_json(args.metrics, {"test_top1_error": err, "final_train_loss": history[-1]["loss"], "n_test": len(yt)})
    log.info("%s: test top-1 error %.3f", args.net, err)


def cli(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("net", help="net ID, a key of lenc_vedaldi_nets.nets in params.yaml")
    p.add_argument("--data", required=True, help="lv_data output directory")
    p.add_argument("--model-dir", required=True, help="output: model.pt (state dict) + config.json")
    p.add_argument("--metrics", required=True, help="output metrics JSON")
    return run_stage(main, p, argv)


if __name__ == "__main__":
    sys.exit(cli())
