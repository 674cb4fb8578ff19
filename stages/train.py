"""DVC stage train@<run>: train one model, write its state dict, metrics and DVCLive curves.

Wall-clock timings are not part of any hashed output (they would break ``dvc.lock``); they are
logged and written to the undeclared, git-ignored ``--timings`` file. ``make bench`` measures speed.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

import torch

from eqlab.cli import run_stage
from eqlab.data.store import load_split
from eqlab.env import library_versions
from eqlab.groups import exact_elements, get_transform, group_elements
from eqlab.io import atomic_path, write_json
from eqlab.metrics.equivariance import measure_equivariance
from eqlab.models import ARCHS, E2_GROUPS, build_model
from eqlab.params import ParamError, build, check_choice, profile_of, section
from eqlab.train.config import OptimConfig, ProfileConfig, RunConfig
from eqlab.train.device import describe, device_from_params, make_deterministic
from eqlab.train.loop import TrainSpec, accuracy, to_float, train

log = logging.getLogger("train")


TIM_ARCHS = ("resnet18", "resnet18_e2", "vgg", "vgg_e2")


def arch_kwargs_for(name: str, run: RunConfig, prof: ProfileConfig) -> dict:
    """The builder arguments of run ``name`` that params decide (checked before any data is read):
    width from the profile, the group's channel layout (e2cnn twins take the group itself), input
    size for the TinyImageNet family, Het / upsampling. The data adds channels and classes."""
    key = f"train.models.{name}"
    kwargs: dict[str, Any] = {"width": prof.width_of(run.arch)}
    if run.arch.endswith("_e2"):
        if run.group not in E2_GROUPS:
            raise ParamError(f"params key '{key}.group' is {run.group!r}; e2cnn models support {list(E2_GROUPS)}")
        kwargs["group"] = run.group
    else:
        kwargs["group_size"] = len(group_elements(run.group))
    if run.arch in TIM_ARCHS:
        kwargs["input_size"] = prof.input_size + 1 if run.arch.startswith("resnet18") else prof.input_size
    if run.upsample > 1:
        if run.arch != "rotmnist6":
            raise ParamError(f"params key '{key}.upsample' needs arch 'rotmnist6', not {run.arch!r}")
        kwargs["upsample"] = run.upsample
    if run.het:
        if run.arch.endswith("_e2"):
            raise ParamError(f"params key '{key}.het' needs a plain (not e2cnn) arch, not {run.arch!r}")
        if run.het[0] != kwargs["group_size"]:
            raise ParamError(f"params key '{key}.het' must start with the group size "
                             f"{kwargs['group_size']} of group {run.group!r}, got {list(run.het)}")
        kwargs["het"] = list(run.het)
    return kwargs


def main(args: argparse.Namespace, params: dict[str, Any]) -> None:
    profile = profile_of(params)
    runs = section(params, "train.models")
    check_choice("train.models (stage item)", args.run, sorted(runs))
    run = build(RunConfig, runs[args.run], f"train.models.{args.run}")
    check_choice(f"train.models.{args.run}.arch", run.arch, sorted(ARCHS))
    optim = build(OptimConfig, section(params, "train.optim"), "train.optim")
    prof = build(ProfileConfig, section(params, f"train.{profile}"), f"train.{profile}")
    for a in prof.arch_width:
        check_choice(f"train.{profile}.arch_width (key)", a, sorted(x for x in ARCHS if not x.endswith("_e2")))
    arch_kwargs = arch_kwargs_for(args.run, run, prof)
    device = device_from_params(params)
    make_deterministic(run.seed)

    data = Path(args.data)
    tr, va, te = (load_split(data, s) for s in ("train", "val", "test"))
    x_tr, y_tr = torch.from_numpy(tr.images), torch.from_numpy(tr.labels)
    x_va, y_va = torch.from_numpy(va.images), torch.from_numpy(va.labels)
    x_te, y_te = torch.from_numpy(te.images), torch.from_numpy(te.labels)

    arch_kwargs.update(in_channels=int(x_tr.shape[1]), n_classes=int(y_tr.max()) + 1)
    try:
        model = build_model(run.arch, **arch_kwargs).to(device)
    except ValueError as e:
        raise ParamError(f"train.models.{args.run}: {e}") from e
    elements = group_elements(run.group)
    spec = TrainSpec(prof.cycle_epochs, prof.tail_epochs, optim.batch_size, optim.lr_min, optim.lr_max,
                     optim.rise, optim.weight_decay, run.augment, run.beta, run.seed)

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

            history = train(model, spec, x_tr, y_tr, x_va, y_va, elements, on_epoch)

    model.eval()
    n_eq = min(prof.equivariance_images, len(x_te))
    # the exact elements of the run's group (R8: its quarter turns; scale: all of it) …
    measured = exact_elements(elements)
    eq = measure_equivariance(model, to_float(x_te[:n_eq]), measured)
    # … and the odd 45° multiples apart (interpolated rotations, compared inside the inscribed disk)
    odd45 = [get_transform(n) for n in ("identity", "rot45", "rot135", "rot225", "rot315")]
    eq45 = measure_equivariance(model, to_float(x_te[:n_eq]), odd45) if run.group != "scale" else None
    metrics = {
        "run": args.run,
        "profile": profile,
        "arch": run.arch,
        "dataset": run.dataset,
        "group": run.group,
        "augment": run.augment,
        "beta": run.beta,
        "seed": run.seed,
        "het": "-".join(map(str, run.het)),
        "upsample": run.upsample,
        "width": arch_kwargs["width"],
        "channels": [t.channels for t in model.taps],
        "test_acc": accuracy(model, x_te, y_te),
        "val_acc": history[-1].val_acc,
        "epochs": len(history),
        "n_train": len(y_tr),
        "n_test": len(y_te),
        "equivariance": {"group": run.group, "elements": [g.name for g in measured[1:]], "n_images": n_eq,
                         "layers": eq},
        "device": describe(device),
        "versions": library_versions(),
    }
    if eq45 is not None:
        metrics["equivariance_45"] = {"elements": [g.name for g in odd45[1:]], "n_images": n_eq, "layers": eq45}
    with atomic_path(args.model_dir) as tmp:
        tmp.mkdir()
        torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, tmp / "model.pt")
        write_json(tmp / "config.json", {"run": args.run, "arch": run.arch, "kwargs": arch_kwargs,
                                         "dataset": run.dataset, "group": run.group,
                                         "taps": [t.__dict__ for t in model.taps]})
    write_json(args.metrics, metrics)
    if args.timings:
        write_json(args.timings, {"run": args.run, "device": describe(device),
                                  "seconds_per_epoch": [round(h.seconds, 3) for h in history]})
    log.info("%s: test acc %.4f, seconds/epoch %.1f", args.run, metrics["test_acc"],
             sum(h.seconds for h in history) / len(history))


def cli(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("run", help="run ID, a key of train.models in params.yaml")
    p.add_argument("--data", required=True, help="dataset directory (from make_dataset)")
    p.add_argument("--model-dir", required=True, help="output: state dict + config")
    p.add_argument("--metrics", required=True, help="output: metrics JSON")
    p.add_argument("--curves", required=True, help="output: DVCLive directory")
    p.add_argument("--timings", default=None, help="optional undeclared file for wall-clock timings")
    return run_stage(main, p, argv)


if __name__ == "__main__":
    sys.exit(cli())
