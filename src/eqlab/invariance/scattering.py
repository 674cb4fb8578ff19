"""An order ≤ 2 Morlet scattering transform (Mallat; Bruna & Mallat) in torch, filters built in Fourier.

On an M × M periodic grid with frequencies ω ∈ [−π, π)², for scales j = 0 … J−1 and orientations
θ_l = π l / L, l = 0 … L−1:

* Gabor ĝ_{σ,ξ,θ}(ω) = exp(−σ²(u − ξ)²/2 − (σ/s)² v²/2) with (u, v) the coordinates of ω along and across
  θ, σ = σ₀ 2^j, ξ = ξ₀ 2^{−j}, slant s (< 1: narrower across θ, i.e. orientation-selective);
* Morlet ψ̂_{j,l}(ω) = c (ĝ(ω) − β ĝ_{σ,0,θ}(ω)), β chosen so that ψ̂(0) = 0 (zero mean);
* low pass φ̂(ω) = exp(−σ_J² |ω|²/2), σ_J = σ₀ 2^J (φ̂(0) = 1: φ averages over about 2^J pixels);

every Gaussian periodised over the neighbouring 2π-translates. The wavelets share one constant c, the
largest with Littlewood–Paley sum A(ω) = |φ̂(ω)|² + ½ Σ_{j,l} (|ψ̂_{j,l}(ω)|² + |ψ̂_{j,l}(−ω)|²) ≤ 1, so for a
real x, ‖x ⋆ φ‖² + Σ ‖x ⋆ ψ_{j,l}‖² = Σ_ω A(ω)|x̂(ω)|²/M² ≤ ‖x‖² (Parseval): the wavelet transform, and
hence the scattering built from it with the modulus, is non-expansive.

Coefficients, all convolutions circular on the (zero-padded) grid, sampled every 2^J pixels:

* order 0  S₀x = x ⋆ φ
* order 1  S₁x(j₁, l₁) = |x ⋆ ψ_{j₁,l₁}| ⋆ φ
* order 2  S₂x(j₁, l₁, j₂, l₂) = ||x ⋆ ψ_{j₁,l₁}| ⋆ ψ_{j₂,l₂}| ⋆ φ, only j₂ > j₁ (the second wavelet coarser
           than the first: |x ⋆ ψ_{j₁}| has little energy above the frequencies of scale j₁)

Output (N, 1 + JL + L² J(J−1)/2, M/2^J, M/2^J); :func:`paths` names the channels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd
import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class MorletBank:
    """The filters of one grid size: ``psi`` (J·L, M, M) indexed j·L + l, ``phi`` (M, M), both real
    Fourier transforms (Morlet filters are real in Fourier)."""

    size: int
    J: int
    L: int
    psi: torch.Tensor
    phi: torch.Tensor
    sigma0: float = 0.8
    xi0: float = 3 * math.pi / 4
    slant: float = field(default=0.5)

    def littlewood_paley(self) -> torch.Tensor:
        """A(ω) = |φ̂(ω)|² + ½ Σ (|ψ̂(ω)|² + |ψ̂(−ω)|²) on the grid (M, M)."""
        flipped = torch.roll(torch.flip(self.psi, (-2, -1)), (1, 1), (-2, -1))  # ψ̂(−ω) on the fft grid
        return self.phi**2 + 0.5 * (self.psi**2 + flipped**2).sum(0)


def _freqs(m: int) -> tuple[torch.Tensor, torch.Tensor]:
    w = 2 * math.pi * torch.fft.fftfreq(m, dtype=torch.float64)
    return torch.meshgrid(w, w, indexing="ij")  # (ω_y, ω_x), each (M, M)


def _gauss(wy: torch.Tensor, wx: torch.Tensor, sigma: float, xi: float, theta: float, slant: float) -> torch.Tensor:
    """Periodised exp(−σ²(u − ξ)²/2 − (σ/s)² v²/2), u along θ, v across (θ measured from the x axis)."""
    out = torch.zeros_like(wy)
    for a in (-1, 0, 1):
        for b in (-1, 0, 1):
            y, x = wy + 2 * math.pi * a, wx + 2 * math.pi * b
            u = x * math.cos(theta) + y * math.sin(theta)
            v = -x * math.sin(theta) + y * math.cos(theta)
            out += torch.exp(-0.5 * sigma**2 * (u - xi) ** 2 - 0.5 * (sigma / slant) ** 2 * v**2)
    return out


def morlet_bank(size: int, J: int, L: int, sigma0: float = 0.8, xi0: float = 3 * math.pi / 4,
                slant: float = 0.5) -> MorletBank:  # fmt: skip
    """The Morlet filters and the low pass on a ``size`` × ``size`` grid (float64), normalised so that the
    Littlewood–Paley sum is ≤ 1 (see the module docstring)."""
    if size % 2**J:
        raise ValueError(f"grid size {size} must be a multiple of 2^J = {2**J}")
    wy, wx = _freqs(size)
    psi = []
    for j in range(J):
        sigma, xi = sigma0 * 2**j, xi0 / 2**j
        for l_ in range(L):
            theta = math.pi * l_ / L
            g = _gauss(wy, wx, sigma, xi, theta, slant)
            env = _gauss(wy, wx, sigma, 0.0, theta, slant)
            psi.append(g - g[0, 0] / env[0, 0] * env)
    psi_t = torch.stack(psi)
    phi = _gauss(wy, wx, sigma0 * 2**J, 0.0, 0.0, 1.0)
    phi = phi / phi[0, 0]
    bank = MorletBank(size, J, L, psi_t, phi, sigma0, xi0, slant)
    wave = bank.littlewood_paley() - phi**2
    room = (1 - phi**2).clamp_min(0)
    mask = wave > 1e-12
    c2 = float((room[mask] / wave[mask]).min())
    return MorletBank(size, J, L, psi_t * math.sqrt(c2), phi, sigma0, xi0, slant)


def paths(J: int, L: int) -> pd.DataFrame:
    """One row per output channel: ``order`` (0, 1, 2), ``j1``, ``l1``, ``j2``, ``l2`` (−1 where unused)."""
    rows = [(0, -1, -1, -1, -1)]
    rows += [(1, j, l_, -1, -1) for j in range(J) for l_ in range(L)]
    rows += [(2, j1, l1, j2, l2) for j1 in range(J) for l1 in range(L) for j2 in range(j1 + 1, J) for l2 in range(L)]
    return pd.DataFrame(rows, columns=["order", "j1", "l1", "j2", "l2"])


def lowpass_matrix(bank: MorletBank, subsample: bool = True, coarse: int = 0) -> torch.Tensor:
    """P (M/2^J, M/2^c) (rows every pixel without ``subsample``): φ is separable, φ̂(ω) = φ̂₁(ω_y) φ̂₁(ω_x) (a
    periodised isotropic Gaussian), so the low pass sampled every 2^J pixels of a map u given on every
    2^c-th pixel (c = ``coarse``) is y = P u Pᵀ with P[n, k] = 2^c h[(n·2^J − 2^c k) mod M], h the circular
    1-D filter with transform φ̂₁ — exact for c = 0, and for c > 0 a Riemann sum whose error is of the
    order of φ̂₁(2π/2^c), negligible (< 1e-20) for c ≤ J − 1."""
    m, step = bank.size, 2**bank.J if subsample else 1
    w = 2 * math.pi * torch.fft.fftfreq(m, dtype=torch.float64)
    sigma = bank.sigma0 * 2**bank.J
    phi1 = sum(torch.exp(-0.5 * sigma**2 * (w + 2 * math.pi * a) ** 2) for a in (-1, 0, 1))
    h = torch.fft.ifft(phi1 / phi1[0]).real
    n = torch.arange(0, m, step)[:, None]
    k = torch.arange(0, m, 2**coarse)[None, :]
    return 2**coarse * h[(n - k) % m]


def coarse_level(j2: int, exact: bool) -> int:
    """Order 2 with second scale j₂ is computed on every 2^c-th pixel, c = max(j₂ − 1, 0): ψ̂_{j₂} (centre
    ξ₀ 2^{−j₂}, radial width 2^{−j₂}/σ₀) is negligible beyond π/2^c, so the samples of U₂ are those of the
    full-resolution map up to that aliasing (< 1 % relative); c = 0 everywhere with ``exact``."""
    return 0 if exact else max(j2 - 1, 0)


def crop_spectrum(yf: torch.Tensor, c: int) -> torch.Tensor:
    """Spectrum (…, M, M) → its low frequencies |k| < M/2^{c+1} as an (…, M/2^c, M/2^c) spectrum: for a
    map band-limited to |ω| < π/2^c, the inverse transform is the map on every 2^c-th pixel divided by 4^c
    (exactly so when nothing lies outside the band; otherwise what is dropped is the aliasing)."""
    if c == 0:
        return yf
    m, half = yf.shape[-1], yf.shape[-1] // 2 ** (c + 1)
    idx = torch.cat([torch.arange(half), torch.arange(m - half, m)])
    return yf.index_select(-1, idx).index_select(-2, idx)


def _modulus(z: torch.Tensor) -> torch.Tensor:
    """|z| as sqrt(re² + im²) (faster on CPU than torch.abs, which guards against overflow we cannot reach)."""
    return torch.sqrt(z.real.square() + z.imag.square())


def _lowpass(u: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    return p @ u @ p.T  # (…, M, M) → (…, M/2^J, M/2^J)


def scattering(x: torch.Tensor, bank: MorletBank, subsample: bool = True, chunk: int = 64,
               dtype: torch.dtype = torch.float32, exact: bool = False) -> torch.Tensor:  # fmt: skip
    """S x for images x (N, H, W) with H, W ≤ M, zero-padded (centred) to M × M → (N, P, M/2^J, M/2^J), P
    paths in the order of :func:`paths` (every pixel instead of every 2^J-th with ``subsample=False``, which
    implies ``exact``). Computed in ``dtype`` (float32 or float64) in chunks of ``chunk`` images; order 2
    on coarser grids (:func:`coarse_level`) unless ``exact``."""
    m, J, L = bank.size, bank.J, bank.L
    n, h, w = x.shape
    if h > m or w > m:
        raise ValueError(f"images {h}×{w} do not fit the scattering grid {m}×{m}")
    exact = exact or not subsample
    top, left = (m - h) // 2, (m - w) // 2
    psi = bank.psi.to(dtype)
    levels = sorted({coarse_level(j2, exact) for j2 in range(J)})
    p = {c: lowpass_matrix(bank, subsample, c).to(dtype) for c in levels}
    psi_c = {
        (j2, c): crop_spectrum(psi[j2 * L : (j2 + 1) * L], c) for j2 in range(J) for c in [coarse_level(j2, exact)]
    }
    out = []
    for i in range(0, n, chunk):
        xb = F.pad(x[i : i + chunk].to(dtype), (left, m - w - left, top, m - h - top))  # (n, M, M)
        xf = torch.fft.fft2(xb)
        u1 = _modulus(torch.fft.ifft2(xf[:, None] * psi))  # (n, JL, M, M)
        u1f = torch.fft.fft2(u1)
        s2 = []  # per j1: (n, L·(J−1−j1)·L, ·, ·) with channels ordered (l1, j2, l2) as in paths()
        for j1 in range(J - 1):
            a = u1f[:, j1 * L : (j1 + 1) * L, None]  # (n, L, 1, M, M)
            per_j2 = []
            for j2 in range(j1 + 1, J):
                c = coarse_level(j2, exact)
                prod = crop_spectrum(a, c) * psi_c[j2, c][None, None]  # (n, L, L, M/2^c, M/2^c)
                per_j2.append(_lowpass(_modulus(torch.fft.ifft2(prod)) / 4**c, p[c]))
            s2.append(torch.stack(per_j2, 2).flatten(1, 3))
        out.append(torch.cat([_lowpass(xb, p[0])[:, None], _lowpass(u1, p[0]), *s2], 1))
    return torch.cat(out)


def orientation_pooled(s: torch.Tensor, J: int, L: int) -> torch.Tensor:
    """Rotation-pooled coefficients (N, 1 + J + L·J(J−1)/2): each path's spatial mean, order 1 summed over
    l₁, order 2 summed over (l₁, l₂) with the same relative orientation (l₂ − l₁) mod L. A rotation of the
    image by a multiple of π/L permutes orientations (and moves pixels), so these are invariant to it up
    to the grid's interpolation."""
    p = paths(J, L)
    mean = s.mean((-2, -1))  # (N, P)
    cols = [mean[:, p.index[p.order == 0]].sum(1, keepdim=True)]
    cols += [mean[:, p.index[(p.order == 1) & (p.j1 == j)]].sum(1, keepdim=True) for j in range(J)]
    two = p[p.order == 2]
    rel = (two.l2 - two.l1) % L
    for j1 in range(J):
        for j2 in range(j1 + 1, J):
            for d in range(L):
                idx = two.index[(two.j1 == j1) & (two.j2 == j2) & (rel == d)]
                cols.append(mean[:, idx].sum(1, keepdim=True))
    return torch.cat(cols, 1)
