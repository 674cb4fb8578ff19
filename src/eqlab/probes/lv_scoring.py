"""Scoring Lenc & Vedaldi's hybrids ψ(F φ): per-image mistakes through the frozen tail, the relative L2 residual
before and after the ReLU on a map's valid sites, and percentile-bootstrap intervals of their means."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from eqlab.models.lv_nets import TappedStages


@torch.no_grad()
def wrong(model: TappedStages, tap: str, h: torch.Tensor, y: torch.Tensor, batch: int = 256) -> np.ndarray:
    """Per image: does ψ(h) misclassify it? (Conv inputs go in channels-last: ~25 % faster here.)"""
    model.eval()
    if h.dim() == 4:
        h = h.contiguous(memory_format=torch.channels_last)
    out = [model.forward_from(tap, h[i : i + batch]).argmax(1) != y[i : i + batch] for i in range(0, len(h), batch)]
    return torch.cat(out).numpy()


def bootstrap_ci(errors: np.ndarray, n_boot: int, rng: np.random.Generator) -> tuple[float, float]:
    """95 % percentile-bootstrap interval of the mean of ``errors`` (any value per test item)."""
    idx = rng.integers(0, len(errors), size=(n_boot, len(errors)))
    means = errors.astype(np.float64)[idx].mean(1)
    return float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))


def binary_bootstrap_ci(mistakes: np.ndarray, n_boot: int, rng: np.random.Generator) -> tuple[float, float]:
    """:func:`bootstrap_ci` of a 0/1 error per test image, drawn in O(``n_boot``): resampling the n images
    with replacement counts Binomial(n, p̂) mistakes, so each resampled mean is drawn as such a count / n
    (the same distribution as resampling indices, which costs n_boot × n draws)."""
    flags = np.asarray(mistakes)
    if flags.size and not np.isin(flags, (0, 1)).all():
        raise ValueError("binary_bootstrap_ci takes 0/1 (or bool) errors; use bootstrap_ci for other values")
    n = len(flags)
    means = rng.binomial(n, float(flags.mean()), size=n_boot) / n
    return float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))


def masked_residual(pred: torch.Tensor, target: torch.Tensor, mask: np.ndarray | None) -> float:
    """‖(pred − target)·m‖² / ‖target·m‖² for a 0/1 site mask m (as dot products: no squared copies)."""
    diff, tgt = pred - target, target
    if mask is not None:
        m = torch.from_numpy(mask.astype(np.float32))
        diff, tgt = diff * m, tgt * m
    num, den = (torch.dot(v.reshape(-1), v.reshape(-1)) for v in (diff, tgt.contiguous()))
    return float(num / den.clamp_min(1e-30))


def relu_residual(pred: torch.Tensor, target: torch.Tensor, mask: np.ndarray | None) -> float:
    """:func:`masked_residual` after the ReLU (ReLU-OPT's objective, relative)."""
    return masked_residual(F.relu(pred), F.relu(target), mask)


@torch.no_grad()
def scored(model: TappedStages, tap: str, h: torch.Tensor, target: torch.Tensor, y: torch.Tensor,
           mask: np.ndarray | None, batch: int = 256) -> tuple[np.ndarray, float, float]:
    """:func:`wrong`, :func:`masked_residual` and :func:`relu_residual` of ``h`` in one pass over batches of
    images: each batch is read while it is in cache (whole-split passes over a conv1 map of 2,400 images,
    ~150 MB, cost more than the forward pass they sit beside)."""
    model.eval()
    w = None if mask is None or h.dim() != 4 else torch.from_numpy(mask.astype(np.float32))
    sums = np.zeros(4)  # ‖d‖², ‖t‖², ‖relu d‖², ‖relu t‖² on the mask's sites
    out = []
    for i in range(0, len(h), batch):
        hb, tb = h[i : i + batch], target[i : i + batch]
        rt = F.relu(tb)
        parts = (hb - tb, tb, F.relu(hb) - rt, rt)
        for k, v in enumerate(parts):
            v = v if w is None else v * w
            sums[k] += float(torch.dot(v.reshape(-1), v.reshape(-1)))
        x = hb.contiguous(memory_format=torch.channels_last) if hb.dim() == 4 else hb
        out.append(model.forward_from(tap, x).argmax(1) != y[i : i + batch])
    return torch.cat(out).numpy(), float(sums[0] / max(sums[1], 1e-30)), float(sums[2] / max(sums[3], 1e-30))
