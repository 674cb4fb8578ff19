"""A small CNN whose pooling is the variable, and its seeded training on digits.

``PoolNet``: three blocks conv3×3 ('same') → BatchNorm → ReLU, the first two followed by a local pooling
layer (2 × 2, :class:`eqlab.invariance.pooling.LocalPool`), then a global head (average or max over the
map) and a linear classifier: (N, 1, 28, 28) → (N, c1, 14, 14) → (N, c2, 7, 7) → (N, c3, 7, 7) → (N, c3)
→ (N, classes). Training is Adam on cross-entropy with minibatches in an order drawn from the run's seed, at
a constant or a cosine-decaying learning rate; validation accuracy is recorded ``evals_per_epoch`` times
an epoch (:func:`epochs_to_target` reads the time to a given accuracy from those checkpoints).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from eqlab.invariance.pooling import LocalPool, global_pool


@dataclass(frozen=True)
class Variant:
    """A pooling variant: its name, the local pooling kind (and p for ``lp``) and the global head."""

    name: str
    kind: str
    p: float = 2.0
    head: str = "global_avg"


def variant(name: str) -> Variant:
    """Parse a variant name: ``max``, ``avg``, ``lp<p>`` (e.g. ``lp3.4``), ``lp_learned``, ``stochastic``,
    ``heterogeneous``, ``entropy``; a suffix ``+gmax`` swaps the global-average head for a global max."""
    base, _, head = name.partition("+")
    if head not in ("", "gmax"):
        raise ValueError(f"pooling variant {name!r}: the only head suffix is '+gmax'")
    head_name = "global_max" if head else "global_avg"
    if base.startswith("lp") and base != "lp_learned":
        try:
            p = float(base[2:])
        except ValueError as e:
            raise ValueError(f"pooling variant {name!r}: expected lp<p> with a number p ≥ 1") from e
        if p < 1:
            raise ValueError(f"pooling variant {name!r}: p must be ≥ 1")
        return Variant(name, "lp", p, head_name)
    if base not in ("max", "avg", "lp_learned", "stochastic", "heterogeneous", "entropy"):
        raise ValueError(f"unknown pooling variant {name!r}")
    return Variant(name, base, 2.0, head_name)


class PoolNet(nn.Module):
    """conv-BN-ReLU-pool ×2, conv-BN-ReLU, global head, linear (see the module docstring)."""

    def __init__(self, v: Variant, widths: tuple[int, int, int], classes: int, p_init: float,
                 generator: torch.Generator | None = None) -> None:  # fmt: skip
        super().__init__()
        c1, c2, c3 = widths
        self.head = v.head
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU())
            for i, o in ((1, c1), (c1, c2), (c2, c3))
        )
        self.pools = nn.ModuleList(LocalPool(v.kind, c, 2, v.p, p_init, generator=generator) for c in (c1, c2))
        self.fc = nn.Linear(c3, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i < len(self.pools):
                x = self.pools[i](x)
        return self.fc(global_pool(x, self.head))

    def learned_p(self) -> list[np.ndarray]:
        """Per pooling layer, the learned p of each channel (empty unless the variant is ``lp_learned``)."""
        return [pool.learned_p.detach().numpy().copy() for pool in self.pools if pool.learned_p is not None]


SCHEDULES = ("constant", "cosine")


@dataclass(frozen=True)
class TrainSpec:
    epochs: int
    batch: int
    lr: float
    widths: tuple[int, int, int]
    p_init: float
    schedule: str = "constant"  # "cosine": lr · ½(1 + cos(π t / T)) over the T steps of the run, down to 0
    evals_per_epoch: int = 1  # validation checkpoints per epoch (at evenly spaced steps; the last ends it)

    def __post_init__(self) -> None:
        if self.schedule not in SCHEDULES:
            raise ValueError(f"unknown schedule {self.schedule!r}; schedules: {list(SCHEDULES)}")
        if self.evals_per_epoch < 1:
            raise ValueError(f"evals_per_epoch must be at least 1, got {self.evals_per_epoch}")

    def lr_at(self, step: int, total: int) -> float:
        """The learning rate of step ``step`` (0-based) of ``total``."""
        if self.schedule == "constant":
            return self.lr
        return self.lr * 0.5 * (1.0 + math.cos(math.pi * step / max(total, 1)))


@dataclass
class TrainResult:
    val_acc: list[float]  # at each checkpoint
    val_epochs: list[float]  # the checkpoints, in epochs (fractional: evals_per_epoch per epoch)
    model: PoolNet


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int = 1000) -> float:
    """Fraction of correct argmax predictions in eval mode."""
    model.eval()
    correct = sum(int((model(x[i : i + batch]).argmax(1) == y[i : i + batch]).sum()) for i in range(0, len(x), batch))
    return correct / max(len(x), 1)


def train(v: Variant, spec: TrainSpec, seed: int, x: torch.Tensor, y: torch.Tensor, x_val: torch.Tensor,
          y_val: torch.Tensor, classes: int) -> TrainResult:  # fmt: skip
    """Train a :class:`PoolNet` from ``seed`` (initialisation, batch order and stochastic draws each from
    their own generator seeded by ``seed``); x: (N, 1, H, W) float in [0, 1], y: (N,) int64."""
    torch.manual_seed(seed)  # parameter initialisation
    draws = torch.Generator().manual_seed(seed + 1)
    order = torch.Generator().manual_seed(seed + 2)
    model = PoolNet(v, spec.widths, classes, spec.p_init, generator=draws)
    opt = torch.optim.Adam(model.parameters(), lr=spec.lr)
    per_epoch = -(-len(x) // spec.batch)
    total = spec.epochs * per_epoch
    checks = {round(per_epoch * (k + 1) / spec.evals_per_epoch) for k in range(spec.evals_per_epoch)}
    val, at, step = [], [], 0
    for epoch in range(spec.epochs):
        perm = torch.randperm(len(x), generator=order)
        for j, i in enumerate(range(0, len(x), spec.batch)):
            model.train()
            for group in opt.param_groups:
                group["lr"] = spec.lr_at(step, total)
            idx = perm[i : i + spec.batch]
            loss = F.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            if j + 1 in checks:
                val.append(accuracy(model, x_val, y_val))
                at.append(epoch + (j + 1) / per_epoch)
    return TrainResult(val, at, model)


def epochs_to_target(epochs: list[float], val_acc: list[float], target: float) -> float:
    """Training time, in epochs, until the validation accuracy first reaches ``target``: linear between the
    checkpoint below it and the first at or above it (the first checkpoint's time when that one is already
    there); NaN when no checkpoint reaches it. Time-to-accuracy: unlike "epochs until within δ of the run's
    best", it does not depend on whether the run had converged when it stopped."""
    prev: tuple[float, float] | None = None
    for e, a in zip(epochs, val_acc, strict=True):
        if a >= target:
            return e if prev is None else prev[0] + (e - prev[0]) * (target - prev[1]) / (a - prev[1])
        prev = (e, a)
    return math.nan
