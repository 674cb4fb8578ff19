"""Subsets of a split that keep its classes."""

from __future__ import annotations

import torch


def spread(x: torch.Tensor, y: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``k`` images spread evenly over a split (all of it when ``k`` ≥ its size). Splits stored sorted
    by class (as ``lv_data`` stores them) would give only the first classes in their first ``k``; evenly
    spaced indices keep every class in its share."""
    if k >= len(y):
        return x, y
    idx = torch.linspace(0, len(y) - 1, k).round().long()
    return x[idx], y[idx]
