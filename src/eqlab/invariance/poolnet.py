"""A small CNN whose pooling is the variable, and its seeded training on digits.

``PoolNet``: three blocks conv3×3 ('same') → BatchNorm → ReLU, the first two followed by a local pooling
layer (2 × 2, :class:`eqlab.invariance.pooling.LocalPool`), then a global head (average or max over the
map) and a linear classifier: (N, 1, 28, 28) → (N, c1, 14, 14) → (N, c2, 7, 7) → (N, c3, 7, 7) → (N, c3)
→ (N, classes). Training is Adam on cross-entropy with minibatches in an order drawn from the run's seed;
validation accuracy is recorded after every epoch.
"""

from __future__ import annotations

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


@dataclass(frozen=True)
class TrainSpec:
    epochs: int
    batch: int
    lr: float
    widths: tuple[int, int, int]
    p_init: float


@dataclass
class TrainResult:
    val_acc: list[float]  # after each epoch
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
    val = []
    for _ in range(spec.epochs):
        model.train()
        perm = torch.randperm(len(x), generator=order)
        for i in range(0, len(x), spec.batch):
            idx = perm[i : i + spec.batch]
            loss = F.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        val.append(accuracy(model, x_val, y_val))
    return TrainResult(val, model)


def epochs_to_converge(val_acc: list[float], within: float = 0.005) -> int:
    """The first epoch (1-based) whose validation accuracy is within ``within`` of the best epoch's."""
    best = max(val_acc)
    return next(i + 1 for i, a in enumerate(val_acc) if a >= best - within)
