"""Parameter counts of the small networks the probes train themselves (no I/O, no registry)."""

from __future__ import annotations

from torch import nn


def n_params(net: nn.Module) -> int:
    """Trainable parameters of ``net``."""
    return sum(p.numel() for p in net.parameters() if p.requires_grad)
