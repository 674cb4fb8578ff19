"""The training loop.

Each step takes a batch x (B images); with ``augment`` the batch also carries its group copies
``[g·x for g in G]`` (|G|·B images) and cross-entropy is taken on all of them. With β > 0 the
equivariance loss β·Σ_layers Σ_g MSE(g⁻¹·ĥ(g·x), ĥ(x)) on group-pooled taps is added (IEN);
CNN-aug is the same run with β = 0, CNN trains on x alone.

``precision="bf16"`` runs the forward pass and the losses under bfloat16 autocast (the backward follows
it; weights, Adam's state and the validation accuracy stay float32); ``channels_last`` trains in NHWC
memory format and gives the model back in the default format. The epoch's logged means are summed on the
device, so a GPU step waits for nothing on the host; the sums are those of the float32 values, in float64.

With several processes (:mod:`eqlab.train.distributed`) each takes its shard of every batch and
DistributedDataParallel averages the gradients; the batches, the schedule and the logged means are those of
one process.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from tqdm.auto import tqdm

from eqlab.data.store import to_float
from eqlab.groups import Transform
from eqlab.metrics.equivariance import equivariance_loss, stack_orbit
from eqlab.models import TappedModel
from eqlab.train.distributed import SINGLE, World
from eqlab.train.schedule import get_lr

log = logging.getLogger(__name__)

__all__ = ["PRECISIONS", "EpochLog", "TrainSpec", "accuracy", "to_float", "train"]

PRECISIONS = ("fp32", "bf16")  # bf16: the step under bfloat16 autocast


@dataclass(frozen=True)
class TrainSpec:
    cycle_epochs: int
    tail_epochs: int
    batch_size: int
    lr_min: float
    lr_max: float
    rise: float
    weight_decay: float
    augment: bool
    beta: float
    seed: int
    precision: str = "fp32"  # fp32 | bf16 (autocast of the forward and the losses)
    channels_last: bool = False


@dataclass
class EpochLog:
    epoch: int
    lr: float
    loss: float
    ce: float
    equiv: float
    val_acc: float
    seconds: float


@torch.no_grad()
def accuracy(model: TappedModel, x: torch.Tensor, y: torch.Tensor, batch_size: int = 512) -> float:
    model.eval()
    device = next(model.parameters()).device
    correct = 0
    for i in range(0, len(x), batch_size):
        logits = model(to_float(x[i : i + batch_size].to(device)))
        correct += int((logits.argmax(1).cpu() == y[i : i + batch_size]).sum())
    return correct / max(1, len(x))


class _Step(nn.Module):
    """One training forward as a module DistributedDataParallel can wrap: (logits, taps) with the
    equivariance loss, (logits,) without."""

    def __init__(self, model: TappedModel, with_taps: bool) -> None:
        super().__init__()
        self.model, self.with_taps = model, with_taps

    def forward(self, x: torch.Tensor) -> tuple:
        return self.model.forward_taps(x) if self.with_taps else (self.model(x),)


def train(
    model: TappedModel,
    spec: TrainSpec,
    x_train: torch.Tensor,
    y_train: torch.Tensor,
    x_val: torch.Tensor,
    y_val: torch.Tensor,
    elements: Sequence[Transform],
    on_epoch: Callable[[EpochLog], None] | None = None,
    progress: bool = True,
    world: World = SINGLE,
) -> list[EpochLog]:
    """Train ``model`` in place; returns one :class:`EpochLog` per epoch. ``world``: this process's share
    of each batch when several processes train together (torchrun)."""
    if spec.precision not in PRECISIONS:
        raise ValueError(f"precision {spec.precision!r}; allowed values: {list(PRECISIONS)}")
    device = next(model.parameters()).device
    layout = torch.channels_last if spec.channels_last else torch.contiguous_format
    if spec.channels_last:
        model.to(memory_format=torch.channels_last)
    gen = torch.Generator().manual_seed(spec.seed)
    steps_per_epoch = math.ceil(len(x_train) / spec.batch_size)
    epochs = spec.cycle_epochs + spec.tail_epochs
    cycle_steps = spec.cycle_epochs * steps_per_epoch
    opt = torch.optim.Adam(model.parameters(), lr=spec.lr_min, weight_decay=spec.weight_decay)
    group_sizes = [t.blocks for t in model.taps]
    n_copies = len(elements) if spec.augment else 1
    history: list[EpochLog] = []
    step = 0
    forward = _Step(model, spec.beta > 0)
    if world.size > 1:
        forward = DistributedDataParallel(forward, device_ids=[device] if device.type == "cuda" else None)
    bar = tqdm(total=epochs * steps_per_epoch, desc="train", unit="step", disable=not progress or not world.main,
               mininterval=2)
    for epoch in range(epochs):
        model.train()
        t0 = time.perf_counter()
        order = torch.randperm(len(x_train), generator=gen)
        sums = torch.zeros(4, dtype=torch.float64, device=device)  # loss, ce, eq (× images), images
        for i in range(0, len(order), spec.batch_size):
            idx = order[i : i + spec.batch_size]
            if len(idx) < world.size:  # a last batch too small to share: every process skips it
                continue
            idx = world.shard(idx)
            xb = to_float(x_train[idx].to(device))
            yb = y_train[idx].to(device)
            if spec.augment:
                xb = stack_orbit(xb, elements)
                yb = yb.repeat(n_copies)
            xb = xb.contiguous(memory_format=layout)
            lr = get_lr(step, cycle_steps, spec.lr_min, spec.lr_max, spec.rise)
            for group in opt.param_groups:
                group["lr"] = lr
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=spec.precision == "bf16"):
                out = forward(xb)
                logits = out[0]
                eq = equivariance_loss(out[1], elements, group_sizes) if spec.beta > 0 else xb.new_zeros(())
                ce = F.cross_entropy(logits, yb)
                loss = ce + spec.beta * eq
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            terms = torch.stack([t.detach().float() for t in (loss, ce, eq)]).double()
            sums += torch.cat([terms, terms.new_ones(1)]) * len(idx)
            step += 1
            bar.update(1)
        total = world.all_sum(sums).cpu()  # NCCL reduces device tensors, gloo either
        means = (total[:3] / total[3].clamp(min=1)).tolist()
        val_acc = accuracy(model, x_val, y_val)
        entry = EpochLog(epoch, lr, means[0], means[1], means[2], val_acc, time.perf_counter() - t0)
        bar.set_postfix(loss=f"{entry.loss:.3f}", val_acc=f"{val_acc:.3f}")
        log.info("epoch %d: loss %.4f (ce %.4f, eq %.3g) val acc %.4f", epoch, *means, val_acc)
        history.append(entry)
        if on_epoch is not None:
            on_epoch(entry)
    bar.close()
    if spec.channels_last:
        model.to(memory_format=torch.contiguous_format)
    return history
