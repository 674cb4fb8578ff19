"""The short supervised fits some probes run on their own small networks (not the pipeline's training)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def fit_adam(net: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int, batch: int, lr: float,
             seed: int) -> None:  # fmt: skip
    """Adam on cross-entropy for ``steps`` mini-batches drawn with replacement by a ``seed``-ed generator;
    leaves ``net`` in eval mode."""
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    net.train()
    for _ in range(steps):
        i = torch.randint(len(x), (min(batch, len(x)),), generator=g)
        opt.zero_grad()
        F.cross_entropy(net(x[i]), y[i]).backward()
        opt.step()
    net.eval()
