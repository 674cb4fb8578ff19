"""DVC stage train@<run>: train one model; write its state dict, config, accuracy and DVCLive curves.

Training only trains: every measurement of the trained model is a probe stage downstream
(``probe_extent``, ``probe_lv_maps``). Wall-clock timings are not part of any hashed output (they
would break ``dvc.lock``); they are logged and written to the undeclared, git-ignored ``--timings``
file. ``make bench`` measures speed.

``train.distributed.nproc`` > 1: the stage relaunches itself under torchrun as that many data-parallel
processes (:mod:`eqlab.train.distributed`); rank 0 writes every output, and the card records the count.
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from eqlab.cli import run_stage
from eqlab.data.store import load_split
from eqlab.env import library_versions
from eqlab.groups import group_elements
from eqlab.io import atomic_path, write_json
from eqlab.models import ARCHS, build_model, model_kwargs
from eqlab.params import ParamError, build, check_choice, profile_of, section
from eqlab.runs import describe as describe_run
from eqlab.runs import run_spec
from eqlab.train import distributed
from eqlab.train.config import ComputeConfig, DistributedConfig, OptimConfig, ProfileConfig
from eqlab.train.device import describe, device_from_params, make_deterministic
from eqlab.train.loop import TrainSpec, accuracy, train

log = logging.getLogger("train")


def main(args: argparse.Namespace, params: dict[str, Any]) -> None:
    profile = profile_of(params)
    runs = section(params, "train.models")
    check_choice("train.models (stage item)", args.run, sorted(runs))
    run = run_spec(args.run, runs[args.run])
    optim = build(OptimConfig, section(params, "train.optim"), "train.optim")
    prof = build(ProfileConfig, section(params, f"train.{profile}"), f"train.{profile}")
    for a in prof.arch_width:
        check_choice(f"train.{profile}.arch_width (key)", a, sorted(ARCHS))
    try:
        arch_kwargs = model_kwargs(run, prof.width_of(run.arch), prof.input_size)
    except ValueError as e:
        raise ParamError(f"train.models.{args.run}: {e}") from e
    dcfg = build(DistributedConfig, section(params, "train.distributed"), "train.distributed")
    compute = build(ComputeConfig, section(params, "train.compute"), "train.compute")
    device = device_from_params(params)
    try:
        distributed.backend_for(dcfg.backend, device)
    except ValueError as e:
        raise ParamError(f"train.distributed.backend: {e}") from e
    if dcfg.nproc > 1 and not distributed.launched():
        rc = distributed.relaunch(dcfg.nproc, sys.argv)
        if rc != 0:
            raise RuntimeError(f"torchrun with {dcfg.nproc} processes failed (exit {rc}); see the log above")
        return
    world = distributed.SINGLE
    if distributed.launched():
        world, device = distributed.init(dcfg.backend, device)
    make_deterministic(run.seed)

    data = Path(args.data)
    tr, va, te = (load_split(data, s) for s in ("train", "val", "test"))
    x_tr, y_tr = torch.from_numpy(tr.images), torch.from_numpy(tr.labels)
    x_va, y_va = torch.from_numpy(va.images), torch.from_numpy(va.labels)
    x_te, y_te = torch.from_numpy(te.images), torch.from_numpy(te.labels)

    arch_kwargs.update(in_channels=int(x_tr.shape[1]), n_classes=int(y_tr.max()) + 1)
    try:
        model = build_model(run.arch, run.family, **arch_kwargs).to(device)
    except ValueError as e:
        raise ParamError(f"train.models.{args.run}: {e}") from e
    elements = group_elements(run.group or "r1")
    spec = TrainSpec(prof.cycle_epochs, prof.tail_epochs, optim.batch_size, optim.lr_min, optim.lr_max,
                     optim.rise, optim.weight_decay, run.augment, run.beta, run.seed, compute.precision,
                     compute.channels_last)

    if not world.main:  # a torchrun worker other than rank 0 trains its shards and writes nothing
        train(model, spec, x_tr, y_tr, x_va, y_va, elements, world=world)
        distributed.shutdown(world)
        return

    from dvclive import Live

    with atomic_path(args.curves) as curves_tmp:
        with Live(str(curves_tmp), dvcyaml=None, save_dvc_exp=False, report=None) as live:
            def on_epoch(e) -> None:
                live.log_metric("train/loss", e.loss)
                live.log_metric("train/ce", e.ce)
                live.log_metric("train/equivariance", e.equiv)
                live.log_metric("val/acc", e.val_acc)
                live.log_metric("lr", e.lr)
                live.next_step()

            history = train(model, spec, x_tr, y_tr, x_va, y_va, elements, on_epoch, world=world)

    model.eval()
    meta = describe_run(run)
    metrics = {"test_acc": accuracy(model, x_te, y_te), "val_acc": history[-1].val_acc}
    card = {"run": args.run, "profile": profile, **meta, "width": arch_kwargs["width"],
            "channels": [t.channels for t in model.taps], "epochs": len(history), "n_train": len(y_tr),
            "n_test": len(y_te), "device": describe(device), "processes": world.size,
            # train.compute where it departs from the default (fp32, NCHW): the committed cards stay as they were
            **{k: v for k, v in (("precision", compute.precision), ("channels_last", compute.channels_last))
               if v != getattr(ComputeConfig, k)},
            "versions": library_versions()}
    with atomic_path(args.model_dir) as tmp:
        tmp.mkdir()
        torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, tmp / "model.pt")
        write_json(tmp / "config.json", {"run": args.run, "family": run.family, "arch": run.arch,
                                         "kwargs": arch_kwargs, "dataset": run.dataset, "group": run.group,
                                         "spec": meta, "taps": [asdict(t) for t in model.taps]})
    write_json(args.card, card)
    write_json(args.metrics, metrics)
    if args.timings:
        write_json(args.timings, {"run": args.run, "device": describe(device),
                                  "seconds_per_epoch": [round(h.seconds, 3) for h in history]})
    log.info("%s: test acc %.4f, seconds/epoch %.1f", args.run, metrics["test_acc"],
             sum(h.seconds for h in history) / len(history))
    distributed.shutdown(world)


def cli(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("run", help="run ID, a key of train.models in params.yaml")
    p.add_argument("--data", required=True, help="dataset directory (from make_dataset)")
    p.add_argument("--model-dir", required=True, help="output: state dict + config.json")
    p.add_argument("--metrics", required=True, help="output: metrics JSON (test and validation accuracy)")
    p.add_argument("--card", required=True, help="output: run card JSON (spec, channels, device, versions)")
    p.add_argument("--curves", required=True, help="output: DVCLive directory")
    p.add_argument("--timings", default=None, help="optional undeclared file for wall-clock timings")
    return run_stage(main, p, argv)


if __name__ == "__main__":
    sys.exit(cli())
