"""The `medium` experiment of issue 12 (item 5): is IEN's accuracy collapse at β = 1 a small-scale effect?

The small profile's IEN R4 at β = 1 loses far more accuracy against β = 0.1 than the paper's (Table 5:
98.6 % at β = 1). This runs the same Rot-MNIST task (the small profile's data: the embedded digits, 3,000 /
500 / 1,500, built by :func:`eqlab.data.rot_mnist.build_rot_mnist` exactly as ``make_dataset@rot_mnist``
builds it) with a wider net and a longer schedule — rotmnist6 at width ``--width`` (small: 0.125) for
``--cycle`` + ``--tail`` epochs (default 14 + 2; small: 7 + 1) — for β ∈ ``--betas`` and seeds ``--seeds``, the rest of
``params.yaml: train.optim`` unchanged, and writes each run's test and validation accuracy and its last
epoch's losses to ``--out`` (default ``reports/medium/beta.json``, committed; the IEN report reads it).

Not part of ``dvc repro`` (it is a medium profile, not the default). Command::

    .venv/bin/python experiments/medium_beta.py            # CPU: roughly 1–2 h on 2 cores (6 runs of 16 epochs)
    .venv/bin/python experiments/medium_beta.py --device cuda

The verdict (collapse or not) is decided in the report by the 95 % t-interval over the seeds of the
accuracy gap β = 0.1 minus β = 1, beside the same gap of the small profile.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import torch
import yaml

from eqlab.cli import setup_logging
from eqlab.data.rot_mnist import RotMnistConfig, build_rot_mnist
from eqlab.data.store import SplitSizes
from eqlab.env import library_versions
from eqlab.groups import group_elements
from eqlab.io import write_json
from eqlab.models import build_model, model_kwargs
from eqlab.params import build, section
from eqlab.runs import run_spec
from eqlab.train.config import OptimConfig
from eqlab.train.device import choose_device, describe, make_deterministic
from eqlab.train.loop import TrainSpec, accuracy, train

log = logging.getLogger("medium_beta")


def one_run(splits: dict, beta: float, seed: int, args: argparse.Namespace, optim: OptimConfig,
            device: torch.device) -> dict:
    """Train the IEN R4 rotmnist6 at ``beta`` and ``seed``; its accuracies, last losses and wall time."""
    run = run_spec("medium", {"family": "cnn", "arch": "rotmnist6", "dataset": "rot_mnist", "group": "r4",
                              "seed": seed, "ien": {"augment": True, "beta": beta}})
    make_deterministic(seed)
    x = {s: torch.from_numpy(splits[s].images) for s in splits}
    y = {s: torch.from_numpy(splits[s].labels) for s in splits}
    kwargs = model_kwargs(run, args.width, 28) | {"in_channels": 1, "n_classes": 10}
    model = build_model("rotmnist6", "cnn", **kwargs).to(device)
    spec = TrainSpec(args.cycle, args.tail, optim.batch_size, optim.lr_min, optim.lr_max, optim.rise,
                     optim.weight_decay, True, beta, seed)
    t = time.perf_counter()
    history = train(model, spec, x["train"], y["train"], x["val"], y["val"], group_elements("r4"), progress=False)
    seconds = time.perf_counter() - t
    last = history[-1]
    out = {"beta": beta, "seed": seed, "test_acc": accuracy(model, x["test"], y["test"]), "val_acc": last.val_acc,
           "final_ce": last.ce, "final_equivariance": last.equiv, "seconds": round(seconds, 1)}
    log.info("β = %g, seed %d: test acc %.4f (%.0f s)", beta, seed, out["test_acc"], seconds)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="reports/medium/beta.json")
    p.add_argument("--params", default="params.yaml")
    p.add_argument("--width", type=float, default=0.25)
    p.add_argument("--cycle", type=int, default=14, help="epochs of the one-cycle schedule")
    p.add_argument("--tail", type=int, default=2, help="epochs at lr_min after it")
    p.add_argument("--betas", type=float, nargs="+", default=[0.1, 1.0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--device", default="auto", help="auto | cpu | cuda")
    args = p.parse_args(argv)
    setup_logging()
    params = yaml.safe_load(Path(args.params).read_text())
    optim = build(OptimConfig, section(params, "train.optim"), "train.optim")
    sizes = build(SplitSizes, section(params, "make_dataset.small.rot_mnist"), "make_dataset.small.rot_mnist")
    data_cfg = build(RotMnistConfig, {**section(params, "make_dataset.rot_mnist"), "source": "embedded"},
                     "make_dataset.rot_mnist")
    splits, _ = build_rot_mnist(data_cfg, sizes, Path("data/raw"))
    device = choose_device(args.device)
    runs = [one_run(splits, b, s, args, optim, device) for b in args.betas for s in args.seeds]
    write_json(Path(args.out), {
        "experiment": "medium β (issue 12, item 5)", "command": "python experiments/medium_beta.py " + " ".join(argv or sys.argv[1:]),
        "width": args.width, "small_width": section(params, "train.small.width"), "epochs": args.cycle + args.tail,
        "small_epochs": section(params, "train.small.cycle_epochs") + section(params, "train.small.tail_epochs"),
        "data": {"train": sizes.train, "val": sizes.val, "test": sizes.test, "source": "embedded"},
        "device": describe(device), "versions": library_versions(), "runs": runs,
    })
    return 0


if __name__ == "__main__":
    sys.exit(main())
