"""Closed-form ridge regression for 1×1 channel maps (the F_g of M_g = F_g ∘ P_g)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def pixels(x: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """``(N, C, H, W)`` → ``(N·P, C)`` rows, one per (image, pixel inside ``mask``)."""
    n, c, h, w = x.shape
    rows = x.transpose(0, 2, 3, 1).reshape(n, h * w, c)
    if mask is not None:
        rows = rows[:, mask.reshape(-1)]
    return rows.reshape(-1, c)


def normal_equations(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The centred normal equations of ``y ≈ x Aᵀ + b`` in float64: ``(XcᵀXc, XcᵀYc, x̄, ȳ)``, computed without
    materialising centred copies (XcᵀXc = XᵀX − n·x̄x̄ᵀ)."""
    x64, y64 = x.astype(np.float64), y.astype(np.float64)
    n = len(x64)
    mx, my = x64.mean(0), y64.mean(0)
    return x64.T @ x64 - n * np.outer(mx, mx), x64.T @ y64 - n * np.outer(mx, my), mx, my


def fit_ridge(x: np.ndarray, y: np.ndarray, lam: float) -> tuple[np.ndarray, np.ndarray]:
    """Minimise ‖Y − XAᵀ − b‖² + λ'‖A‖_F² with an unpenalised bias, λ' = λ·tr(XcᵀXc)/d.

    ``x``: ``(n, d)``, ``y``: ``(n, k)`` → ``A`` ``(k, d)``, ``b`` ``(k,)``. Scaling λ by the mean
    feature energy makes one λ mean the same at every layer. Solved in float64 from the ``d × d``
    normal equations (``lam = 0`` is ordinary least squares, through a least-squares solve).
    """
    gram, rhs, mx, my = normal_equations(x, y)
    d = gram.shape[0]
    if lam > 0:
        a = np.linalg.solve(gram + lam * np.trace(gram) / d * np.eye(d), rhs).T
    else:
        a = np.linalg.lstsq(gram, rhs, rcond=None)[0].T
    return a, my - a @ mx


def ridge_path(x: np.ndarray, y: np.ndarray, lams: Sequence[float]) -> list[tuple[np.ndarray, np.ndarray]]:
    """:func:`fit_ridge` for every λ > 0 in ``lams``, solved from one set of normal equations."""
    gram, rhs, mx, my = normal_equations(x, y)
    d = gram.shape[0]
    scale = np.trace(gram) / d
    out = []
    for lam in lams:
        a = np.linalg.solve(gram + lam * scale * np.eye(d), rhs).T
        out.append((a, my - a @ mx))
    return out


def apply_1x1(x: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Apply a 1×1 channel map to ``(N, C, H, W)``: out[:, k] = Σ_c a[k, c] x[:, c] + b[k]."""
    return (np.einsum("kc,nchw->nkhw", a, x, optimize=True) + b[None, :, None, None]).astype(np.float32)
