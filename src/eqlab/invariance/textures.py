"""A texture with its phase-randomised twin: two images with the same Fourier power spectrum.

``strokes``: short straight strokes (length ``length`` px, width about 1 px, random centres and
orientations) drawn on a periodic ``size`` × ``size`` canvas and summed — a sparse, edge-like texture.
``phase_twin``: x̃ = F⁻¹(|x̂| e^{iφ}) with φ the phase of the transform of white noise (Hermitian, so x̃ is
real) and the mean kept (φ(0) = 0): |x̃̂(ω)| = |x̂(ω)| at every ω, a Gaussian-looking texture with exactly
the power spectrum of x.
"""

from __future__ import annotations

import math

import torch


def strokes(n: int, size: int, count: int, length: float, generator: torch.Generator) -> torch.Tensor:
    """(n, size, size) float64 images, each the sum of ``count`` strokes: a pixel at distance d ≤ ½ from a
    segment of the given length gets 1 (periodic boundary), antialiased over one pixel."""
    yy, xx = torch.meshgrid(torch.arange(size, dtype=torch.float64), torch.arange(size, dtype=torch.float64),
                            indexing="ij")  # fmt: skip
    centres = torch.rand(n, count, 2, generator=generator, dtype=torch.float64) * size
    angles = torch.rand(n, count, generator=generator, dtype=torch.float64) * math.pi
    out = torch.zeros(n, size, size, dtype=torch.float64)
    for i in range(n):
        cy, cx = centres[i, :, 0, None, None], centres[i, :, 1, None, None]  # (count, 1, 1)
        cos, sin = torch.cos(angles[i])[:, None, None], torch.sin(angles[i])[:, None, None]
        dy = (yy - cy + size / 2) % size - size / 2  # periodic offsets in [−size/2, size/2)
        dx = (xx - cx + size / 2) % size - size / 2
        d_along = ((dx * cos + dy * sin).abs() - length / 2).clamp_min(0)
        d_across = (-dx * sin + dy * cos).abs()
        out[i] = (1.5 - torch.sqrt(d_across**2 + d_along**2)).clamp(0, 1).sum(0)
    return out


def phase_twin(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Each image of x (n, H, W) with its Fourier phases replaced by those of white noise (mean kept)."""
    noise = torch.randn(x.shape, generator=generator, dtype=torch.float64)
    ph = torch.fft.fft2(noise)
    ph = ph / ph.abs().clamp_min(1e-30)
    ph[..., 0, 0] = 1.0
    return torch.fft.ifft2(torch.fft.fft2(x.double()).abs() * ph).real
