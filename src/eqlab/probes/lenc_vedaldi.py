"""Lenc & Vedaldi's equivariance maps for CNN layers (IJCV, Eq. 6–7).

For a transform g the stored features are φ(g·x). A map M must undo g: M φ(g·x) ≈ φ(x). With
``M = F ∘ P`` the spatial part ``P = g⁻¹`` re-arranges the feature grid (the same group-action code
as for images, valid because every tap's grid is centred on the image grid) and ``F`` mixes channels.

Compensation methods, each scored on a held-out split:

* ``none``     — φ(g·x) as it is (the uncompensated reference);
* ``p_only``   — ``P φ(g·x)``: matches ``M`` when the layer is invariant up to the spatial motion;
* ``ridge``    — ``F`` a 1×1 conv with bias, fitted in closed form (L2 to φ(x), ridge λ);
* ``task``     — ``F`` trained through the frozen tail ψ (eval mode) on the classification loss,
  initialised at the ridge solution (so it starts from the L2 optimum and moves towards what the
  tail needs; the paper does not say how F is initialised).

Metrics: ``residual_l2`` = ‖(M φ(g·x) − φ(x))·m‖² / ‖φ(x)·m‖² with m the transform's valid mask,
and ``top1_error`` of ψ(M φ(g·x)); ``original`` rows give ψ(φ(x))'s error for reference; an ``eval``
row gives ``n_images``, how many held-out images scored the cell (its binomial interval, in the report).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from eqlab.groups import Transform
from eqlab.models import TappedModel
from eqlab.probes.ridge import apply_1x1, fit_ridge, pixels


@dataclass(frozen=True)
class LVConfig:
    """``probe_lv_maps``."""

    ridge_lambda: float = field(default=1e-3, metadata={"min": 0.0})
    fit_fraction: float = field(default=0.5, metadata={"min": 0.05, "max": 0.95})
    task_epochs: int = field(default=20, metadata={"min": 0})
    task_lr: float = field(default=1e-2, metadata={"min": 0.0})
    task_batch_size: int = field(default=32, metadata={"min": 1})
    seed: int = 0


def split_indices(n: int, fit_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.random.default_rng(seed).permutation(n)
    k = int(round(n * fit_fraction))
    return np.sort(order[:k]), np.sort(order[k:])


def residual(pred: np.ndarray, target: np.ndarray, mask: np.ndarray) -> float:
    m = mask[None, None].astype(np.float64)
    num = (((pred.astype(np.float64) - target) ** 2) * m).sum()
    den = ((target.astype(np.float64) ** 2) * m).sum()
    return float(num / max(den, 1e-300))


@torch.no_grad()
def top1_error(model: TappedModel, index: int, h: np.ndarray, labels: np.ndarray, batch: int = 256) -> float:
    device = next(model.parameters()).device
    wrong = 0
    for i in range(0, len(h), batch):
        logits = model.forward_from(index, torch.from_numpy(h[i : i + batch]).to(device))
        wrong += int((logits.argmax(1).cpu().numpy() != labels[i : i + batch]).sum())
    return wrong / max(1, len(h))


def train_task_map(
    model: TappedModel,
    index: int,
    h: np.ndarray,
    labels: np.ndarray,
    cfg: LVConfig,
    init: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Train a 1×1 conv F to minimise CE of ψ(F h) with ψ frozen in eval mode.

    ``init`` = (A, b) starts F there; the default is the identity."""
    for p in model.parameters():
        p.requires_grad_(False)
    with torch.no_grad():  # e2cnn caches its expanded filters on eval(): keep them out of the graph
        model.eval()
    device = next(model.parameters()).device
    c = h.shape[1]
    a0, b0 = init if init is not None else (np.eye(c, dtype=np.float32), np.zeros(c, dtype=np.float32))
    weight = torch.tensor(a0, dtype=torch.float32, device=device).view(c, c, 1, 1).requires_grad_(True)
    bias = torch.tensor(b0, dtype=torch.float32, device=device).requires_grad_(True)
    opt = torch.optim.Adam([weight, bias], lr=cfg.task_lr)
    gen = torch.Generator().manual_seed(cfg.seed)
    ht, yt = torch.from_numpy(h), torch.from_numpy(labels)
    for _ in range(cfg.task_epochs):
        for idx in torch.randperm(len(ht), generator=gen).split(cfg.task_batch_size):
            logits = model.forward_from(index, F.conv2d(ht[idx].to(device), weight, bias))
            loss = F.cross_entropy(logits, yt[idx].to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return weight.detach().cpu().numpy()[:, :, 0, 0], bias.detach().cpu().numpy()


def lv_layer(
    model: TappedModel,
    layer: str,
    g: Transform,
    phi_x: np.ndarray,
    phi_gx: np.ndarray,
    labels: np.ndarray,
    fit: np.ndarray,
    ev: np.ndarray,
    cfg: LVConfig,
    interp: str = "bilinear",
) -> list[dict]:
    """All compensation results for one layer and transform → rows (layer, transform, probe, metric, value)."""
    index = model.tap_index(layer)
    h, w = phi_x.shape[-2:]
    mask = g.valid_mask(h, w).numpy()
    aligned = g.inverse().apply(torch.from_numpy(phi_gx), interp).numpy()  # P φ(g·x)
    a, b = fit_ridge(pixels(aligned[fit], mask), pixels(phi_x[fit], mask), cfg.ridge_lambda)
    ridge = apply_1x1(aligned, a, b)
    ta, tb = train_task_map(model, index, aligned[fit], labels[fit], cfg, init=(a, b))
    task = apply_1x1(aligned, ta, tb)

    def row(probe: str, metric: str, value: float) -> dict:
        return dict(layer=layer, transform=g.name, probe=probe, metric=metric, value=value)

    rows = [row("eval", "n_images", float(len(ev)))]
    for probe, feats in (("none", phi_gx), ("p_only", aligned), ("ridge", ridge), ("task", task), ("original", phi_x)):
        rows.append(row(probe, "top1_error", top1_error(model, index, feats[ev], labels[ev])))
        if probe != "original":
            rows.append(row(probe, "residual_l2", residual(feats[ev], phi_x[ev], mask)))
    return rows
