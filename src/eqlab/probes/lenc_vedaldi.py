"""Lenc & Vedaldi's equivariance maps for CNN layers (IJCV, Eq. 6–7).

For a transform g the stored features are φ(g·x). A map M must undo g: M φ(g·x) ≈ φ(x). With
``M = F ∘ P`` the spatial part ``P = g⁻¹`` re-arranges the feature grid (the same group-action code
as for images, valid because every tap's grid is centred on the image grid) and ``F`` mixes channels.

The maps are fitted on ``fit_images`` images of the validation split (unseen in training, as the
test images are) and scored on every extracted test image, so the scoring set is as large as the
extraction makes it. Compensation methods:

* ``none``     — φ(g·x) as it is (the uncompensated reference);
* ``p_only``   — ``P φ(g·x)``: matches ``M`` when the layer is invariant up to the spatial motion;
* ``ridge``    — ``F`` a 1×1 conv with bias, fitted in closed form (L2 to φ(x), ridge λ);
* ``task``     — ``F`` trained through the frozen tail ψ (eval mode) on the classification loss,
  initialised at the ridge solution (so it starts from the L2 optimum and moves towards what the
  tail needs; the paper does not say how F is initialised).

Metrics: ``residual_l2`` = ‖(M φ(g·x) − φ(x))·m‖² / ‖φ(x)·m‖² with m the transform's valid mask,
and ``top1_error`` of ψ(M φ(g·x)); ``original`` rows give ψ(φ(x))'s error for reference; ``eval`` and
``fit`` rows give ``n_images``, how many test images scored the cell (its binomial interval, in the
report) and how many validation images fitted it. Each method other than ``none`` also counts, over the
same test images, ``wrong_where_none_right`` and ``right_where_none_wrong``: the discordant pairs a
paired interval of (method − none) is built on (:func:`eqlab.report.intervals.paired_binomial_difference`).
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
    fit_images: int = field(default=256, metadata={"min": 2})
    task_epochs: int = field(default=20, metadata={"min": 0})
    task_lr: float = field(default=1e-2, metadata={"min": 0.0})
    task_batch_size: int = field(default=32, metadata={"min": 1})
    seed: int = 0


@dataclass(frozen=True)
class Features:
    """One tap on one set of images: φ(x), φ(g·x) (``(N, C, H, W)``) and the labels."""

    x: np.ndarray
    gx: np.ndarray
    labels: np.ndarray


def residual(pred: np.ndarray, target: np.ndarray, mask: np.ndarray) -> float:
    """‖(pred − target)·m‖² / ‖target·m‖²: float32 products, summed in float64."""
    p, t = torch.from_numpy(pred), torch.from_numpy(target)
    m = torch.from_numpy(np.asarray(mask, dtype=np.float32))
    d = p - t
    num = (d * d * m).sum(dtype=torch.float64)
    den = (t * t * m).sum(dtype=torch.float64)
    return float(num / max(float(den), 1e-300))


@torch.no_grad()
def mistakes(model: TappedModel, index: int, h: np.ndarray, labels: np.ndarray, batch: int = 256) -> np.ndarray:
    """Per image: is the tail's top-1 prediction on ``h`` (tap ``index``) wrong? A bool vector."""
    device = next(model.parameters()).device
    out = np.zeros(len(h), dtype=bool)
    for i in range(0, len(h), batch):
        logits = model.forward_from(index, torch.from_numpy(h[i : i + batch]).to(device))
        out[i : i + batch] = logits.argmax(1).cpu().numpy() != labels[i : i + batch]
    return out


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
    fit: Features,
    test: Features,
    cfg: LVConfig,
    interp: str = "bilinear",
    original: np.ndarray | None = None,
) -> list[dict]:
    """All compensation results for one layer and transform, the maps fitted on ``fit`` and scored on
    ``test`` → rows (layer, transform, probe, metric, value). ``original``: the tail's per-image mistakes
    on ``test.x`` (:func:`mistakes`), when the caller scored them once for every transform of the layer."""
    index = model.tap_index(layer)
    mask = g.valid_mask(*test.x.shape[-2:]).numpy()
    back = g.inverse()

    def align(h: np.ndarray) -> np.ndarray:  # P φ(g·x)
        return back.apply(torch.from_numpy(h), interp).numpy()

    fit_aligned = align(fit.gx)
    a, b = fit_ridge(pixels(fit_aligned, mask), pixels(fit.x, mask), cfg.ridge_lambda)
    ta, tb = train_task_map(model, index, fit_aligned, fit.labels, cfg, init=(a, b))
    aligned = align(test.gx)
    feats = {"none": test.gx, "p_only": aligned, "ridge": apply_1x1(aligned, a, b), "task": apply_1x1(aligned, ta, tb),
             "original": test.x}
    wrong = {probe: mistakes(model, index, h, test.labels) for probe, h in feats.items() if probe != "original"}
    wrong["original"] = mistakes(model, index, test.x, test.labels) if original is None else original

    def row(probe: str, metric: str, value: float) -> dict:
        return dict(layer=layer, transform=g.name, probe=probe, metric=metric, value=float(value))

    rows = [row("eval", "n_images", len(test.labels)), row("fit", "n_images", len(fit.labels))]
    for probe, h in feats.items():
        rows.append(row(probe, "top1_error", wrong[probe].mean()))
        if probe != "original":
            rows.append(row(probe, "residual_l2", residual(h, test.x, mask)))
        if probe != "none":
            rows.append(row(probe, "wrong_where_none_right", (wrong[probe] & ~wrong["none"]).sum()))
            rows.append(row(probe, "right_where_none_wrong", (~wrong[probe] & wrong["none"]).sum()))
    return rows
