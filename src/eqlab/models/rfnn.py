"""Structured receptive fields (RFNN, Jacobsen et al. 2016; thesis ch. 3): every filter is a learned
combination of a fixed Gaussian-derivative basis (the N-jet).

1-D derivatives of the Gaussian G(x; σ) = exp(−x²/2σ²) / (σ√(2π)) through physicists' Hermite polynomials,

    G_m(x; σ) = dᵐ/dxᵐ G(x; σ) = (−1/(σ√2))ᵐ H_m(x/(σ√2)) G(x; σ),

2-D elements φ_pq(x, y) = G_p(x; σ) G_q(y; σ) for p + q ≤ N ((N+1)(N+2)/2 elements per scale), on a
(2⌈3σ_max⌉+1)² grid. A layer is w_oi(u) = Σ_b α_oib φ_b(u): either the basis convolution followed by a 1×1
convolution with α (``form="basis"``) or the composed filters convolved once (``form="composed"``); both
are the same linear map (the convolution is linear in the filter). ``free_basis=True`` learns the B basis
filters instead of fixing them (the refactorisation control of the thesis's Table 2). Nothing here is
registered in :data:`eqlab.models.ARCHS`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn


def hermite(m: int, x: torch.Tensor) -> torch.Tensor:
    """Physicists' Hermite polynomial H_m(x): H₀ = 1, H₁ = 2x, H_{m+1} = 2x H_m − 2m H_{m−1}."""
    if m < 0:
        raise ValueError(f"Hermite order must be ≥ 0, got {m}")
    h_prev, h = torch.ones_like(x), 2 * x
    if m == 0:
        return h_prev
    for k in range(1, m):
        h_prev, h = h, 2 * x * h - 2 * k * h_prev
    return h


def gaussian_derivative(m: int, x: torch.Tensor, sigma: float) -> torch.Tensor:
    """dᵐ/dxᵐ of the normalised Gaussian G(x; σ), evaluated at ``x`` (any shape)."""
    if sigma <= 0:
        raise ValueError(f"sigma must be > 0, got {sigma}")
    g = torch.exp(-(x**2) / (2 * sigma**2)) / (sigma * math.sqrt(2 * math.pi))
    return (-1 / (sigma * math.sqrt(2))) ** m * hermite(m, x / (sigma * math.sqrt(2))) * g


def basis_orders(order: int) -> list[tuple[int, int]]:
    """(p, q) with p + q ≤ order, by total order then p descending: (0,0), (1,0), (0,1), (2,0), …"""
    if not 0 <= order <= 4:
        raise ValueError(f"basis order must be in 0..4, got {order}")
    return [(n - q, q) for n in range(order + 1) for q in range(n + 1)]


def kernel_radius(sigmas: Sequence[float]) -> int:
    return int(math.ceil(3 * max(sigmas)))


def element(p: int, q: int, sigma: float, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """φ_pq(x, y) = G_p(x; σ) G_q(y; σ) at arbitrary coordinates (x: columns, y: rows)."""
    return gaussian_derivative(p, x, sigma) * gaussian_derivative(q, y, sigma)


def gaussian_basis(order: int, sigmas: Sequence[float], dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The fixed basis, shape (B, k, k), B = len(sigmas)·(order+1)(order+2)/2, k = 2⌈3σ_max⌉+1;
    element b = (scale, (p, q)) in the order of ``sigmas`` then :func:`basis_orders`."""
    if not sigmas:
        raise ValueError("at least one sigma is needed")
    r = kernel_radius(sigmas)
    u = torch.arange(-r, r + 1, dtype=torch.float64)
    y, x = torch.meshgrid(u, u, indexing="ij")
    phis = [element(p, q, s, x, y) for s in sigmas for p, q in basis_orders(order)]
    return torch.stack(phis).to(dtype)


class RFConv(nn.Module):
    """w_oi = Σ_b α_oib φ_b; 'same' zero padding, stride 1. ``form`` chooses how the map is computed."""

    def __init__(self, c_in: int, c_out: int, order: int, sigmas: Sequence[float], form: str = "composed",
                 free_basis: bool = False) -> None:  # fmt: skip
        super().__init__()
        if form not in ("basis", "composed"):
            raise ValueError(f"form must be 'basis' or 'composed', got {form!r}")
        phi = gaussian_basis(order, sigmas)
        phi = phi / phi.flatten(1).norm(dim=1).view(-1, 1, 1)  # unit-norm elements: α on one scale
        self.form, self.c_in, self.c_out = form, c_in, c_out
        if free_basis:  # same shapes and parameter count of α; the B filters themselves are learned
            self.phi = nn.Parameter(torch.randn_like(phi) / phi.shape[-1])
        else:
            self.register_buffer("phi", phi)
        b = phi.shape[0]
        self.alpha = nn.Parameter(torch.randn(c_out, c_in, b) * math.sqrt(2.0 / (c_in * b)))
        self.bias = nn.Parameter(torch.zeros(c_out))

    @property
    def pad(self) -> int:
        return self.phi.shape[-1] // 2

    def weight(self) -> torch.Tensor:
        """The composed filters W_oi = Σ_b α_oib φ_b, shape (c_out, c_in, k, k)."""
        return torch.einsum("oib,bhw->oihw", self.alpha, self.phi)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, c_in, H, W) → (N, c_out, H, W)
        if self.form == "composed":
            return F.conv2d(x, self.weight(), self.bias, padding=self.pad)
        b = self.phi.shape[0]
        k = self.phi.repeat(self.c_in, 1, 1).unsqueeze(1)  # (c_in·B, 1, k, k), channel i·B + b
        z = F.conv2d(x, k, padding=self.pad, groups=self.c_in)  # φ_b * x_i
        return F.conv2d(z, self.alpha.reshape(self.c_out, self.c_in * b, 1, 1), self.bias)


class FreeConv(nn.Conv2d):
    """The identical free-filter layer: a k×k convolution with learned pixels, 'same' padding."""

    def __init__(self, c_in: int, c_out: int, k: int) -> None:
        super().__init__(c_in, c_out, k, padding=k // 2)


def digit_net(kind: str, channels: int, order: int, sigmas: Sequence[Sequence[float]], n_classes: int = 10,
              form: str = "composed") -> nn.Sequential:  # fmt: skip
    """Three conv layers (ReLU, 2×2 max-pool after the first two), global average pool, linear head.
    ``kind``: ``rfnn`` (fixed Gaussian basis), ``refactor`` (same layers, basis learned freely) or ``cnn``
    (free k×k filters of the same sizes). ``sigmas[l]`` are the scales of layer l."""
    if kind not in ("rfnn", "refactor", "cnn"):
        raise ValueError(f"kind must be rfnn, refactor or cnn, got {kind!r}")
    if len(sigmas) != 3:
        raise ValueError(f"need the sigmas of 3 layers, got {len(sigmas)}")
    layers: list[nn.Module] = []
    c = 1
    for i, s in enumerate(sigmas):
        if kind == "cnn":
            layers.append(FreeConv(c, channels, 2 * kernel_radius(s) + 1))
        else:
            layers.append(RFConv(c, channels, order, s, form=form, free_basis=kind == "refactor"))
        layers.append(nn.ReLU())
        if i < 2:
            layers.append(nn.MaxPool2d(2))
        c = channels
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, n_classes)]
    return nn.Sequential(*layers)
