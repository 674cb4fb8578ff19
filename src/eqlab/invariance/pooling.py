"""Local pooling layers of the invariance review (PAPERS.md section 004) on non-overlapping k × k windows.

For a window P of activations a_i (i ∈ P, |P| = k², every a_i ≥ 0: each layer follows a ReLU):

* ``max``            max_i a_i
* ``avg``            (1/|P|) Σ_i a_i
* ``lp``             ((1/|P|) Σ_i a_i^p)^{1/p}: p = 1 is ``avg`` on non-negative input, p → ∞ is ``max``
                     (Sermanet et al.: p = 4 best on SVHN)
* ``lp_learned``     the same with one p per channel, p = 1 + softplus(ρ_c) > 1 learned by gradient descent
                     (Gulcehre et al.); ρ is initialised so that p starts at ``p_init``
* ``stochastic``     (Zeiler & Fergus) training: output a_j with j drawn with probability a_j / Σ_i a_i
                     (0 when Σ a = 0); evaluation: the expectation Σ_i a_i² / Σ_i a_i
* ``heterogeneous``  the first ⌊C/2⌋ channels max, the others average
* ``entropy``        max² / avg, with avg clamped below at ε: a constant window c ≥ ε gives c, a single
                     peak h among zeros gives |P|·h

Global heads reduce the whole map: ``global_avg`` (Network in Network) and ``global_max``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

LOCAL_KINDS = ("max", "avg", "lp", "lp_learned", "stochastic", "heterogeneous", "entropy")
HEADS = ("global_avg", "global_max")


def windows(x: torch.Tensor, k: int) -> torch.Tensor:
    """(N, C, H, W) → (N, C, H//k, W//k, k·k): the non-overlapping k × k windows (a trailing remainder of
    rows or columns is dropped, as by ``max_pool2d``)."""
    n, c, h, w = x.shape
    x = x[:, :, : h - h % k, : w - w % k]
    return x.unfold(2, k, k).unfold(3, k, k).reshape(n, c, h // k, w // k, k * k)


def lp_pool(x: torch.Tensor, p: torch.Tensor | float, k: int = 2) -> torch.Tensor:
    """((1/k²) Σ_window x^p)^{1/p} for x ≥ 0 (negative entries count as 0: the layer follows a ReLU); ``p``
    a number or a per-channel tensor of shape (C,). Windows of zeros give 0 with finite gradients (also
    with respect to p). x^p is formed directly: fine in float32 for activations of order 1 and p up to a
    few tens."""
    p_t = p.view(1, -1, 1, 1) if isinstance(p, torch.Tensor) else float(p)  # a number: the cheaper pow
    mean = F.avg_pool2d(x.clamp_min(0) ** p_t, k)  # torch's pow gives d(0^p)/dp = 0, not 0·(−∞)
    pos = mean > 0
    safe = torch.where(pos, mean, torch.ones_like(mean))
    return torch.where(pos, safe ** (1.0 / p_t), torch.zeros_like(mean))


def stochastic_pool(x: torch.Tensor, k: int = 2, generator: torch.Generator | None = None,
                    training: bool = True) -> torch.Tensor:  # fmt: skip
    """Training: a_j with j ~ a_j / Σ a (windows summing to 0 give 0); evaluation: Σ a² / Σ a. Needs x ≥ 0."""
    a = windows(x, k)
    total = a.sum(-1, keepdim=True)
    if not training:
        safe = torch.where(total > 0, total, torch.ones_like(total))
        return torch.where(total > 0, (a * a).sum(-1, keepdim=True) / safe, torch.zeros_like(total)).squeeze(-1)
    u = torch.rand(total.shape, generator=generator, dtype=x.dtype, device=x.device)
    cum = a.detach().cumsum(-1)
    idx = (cum <= u * total.detach()).sum(-1, keepdim=True).clamp_max(a.shape[-1] - 1)
    return a.gather(-1, idx).squeeze(-1)


def entropy_pool(x: torch.Tensor, k: int = 2, eps: float = 1e-4) -> torch.Tensor:
    """max² / max(avg, ε) over each window (x ≥ 0)."""
    a = windows(x, k)
    return a.amax(-1) ** 2 / a.mean(-1).clamp_min(eps)


def heterogeneous_pool(x: torch.Tensor, k: int = 2) -> torch.Tensor:
    """Max over the first ⌊C/2⌋ channels' windows, average over the rest."""
    half = x.shape[1] // 2
    return torch.cat([F.max_pool2d(x[:, :half], k), F.avg_pool2d(x[:, half:], k)], dim=1)


def p_init_param(p_init: float) -> float:
    """ρ with 1 + softplus(ρ) = p_init (softplus⁻¹(y) = log(eᵞ − 1))."""
    if p_init <= 1.0:
        raise ValueError(f"learned p must start above 1, got p_init = {p_init}")
    return float(torch.log(torch.expm1(torch.tensor(p_init - 1.0, dtype=torch.float64))))


class LocalPool(nn.Module):
    """One local pooling layer of kind ``kind`` (:data:`LOCAL_KINDS`) on k × k windows; ``p`` is the fixed
    exponent of ``lp``, ``p_init`` the start of ``lp_learned``; ``channels`` is needed by ``lp_learned``.
    ``generator`` drives the stochastic draws (seeded by the caller)."""

    def __init__(self, kind: str, channels: int, k: int = 2, p: float = 2.0, p_init: float = 3.0,
                 eps: float = 1e-4, generator: torch.Generator | None = None) -> None:  # fmt: skip
        super().__init__()
        if kind not in LOCAL_KINDS:
            raise ValueError(f"pooling kind {kind!r} is not one of {list(LOCAL_KINDS)}")
        if kind == "lp" and p < 1:
            raise ValueError(f"Lp pooling needs p ≥ 1, got {p}")
        self.kind, self.k, self.p, self.eps, self.generator = kind, k, float(p), eps, generator
        self.rho = nn.Parameter(torch.full((channels,), p_init_param(p_init))) if kind == "lp_learned" else None

    @property
    def learned_p(self) -> torch.Tensor | None:
        """p = 1 + softplus(ρ) per channel (``lp_learned`` only)."""
        return None if self.rho is None else 1.0 + F.softplus(self.rho)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, C, H, W) → (N, C, H//k, W//k)
        if self.kind == "max":
            return F.max_pool2d(x, self.k)
        if self.kind == "avg":
            return F.avg_pool2d(x, self.k)
        if self.kind == "lp":
            return lp_pool(x, self.p, self.k)
        if self.kind == "lp_learned":
            return lp_pool(x, self.learned_p, self.k)
        if self.kind == "stochastic":
            return stochastic_pool(x, self.k, self.generator, self.training)
        if self.kind == "heterogeneous":
            return heterogeneous_pool(x, self.k)
        return entropy_pool(x, self.k, self.eps)


def global_pool(x: torch.Tensor, head: str) -> torch.Tensor:
    """(N, C, H, W) → (N, C): the mean (``global_avg``) or the maximum (``global_max``) over the map."""
    if head == "global_avg":
        return x.mean((2, 3))
    if head == "global_max":
        return x.amax((2, 3))
    raise ValueError(f"head {head!r} is not one of {list(HEADS)}")
