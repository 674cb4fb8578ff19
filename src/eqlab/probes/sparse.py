"""Sparse regression of equivariance maps on HOG (Lenc & Vedaldi, IJCV, Sec. 5.1–5.2, Eq. 3–5).

An equivariance map ``M_g = (A_g, b_g)`` predicts ``φ(g·x) ≈ A_g φ(x) + b_g`` (Eq. 1, 3). It is fitted
on pairs of flattened descriptors ``x = φ(x_i)`` ``(n, d_in)``, ``y = φ(g·x_i)`` ``(n, d_out)`` with the
l2 loss, as the paper does offline (Sec. 5.1.3: least squares, ridge regression, forward selection),
and scored by the mean per-cell Hellinger distance (Sec. 5.2.1, footnote 7). Every solver is closed
form, float64, with an unpenalised bias (the data are centred on the training means):

* :func:`least_squares` (LS) — no regulariser; the minimum-norm solution when underdetermined
  (eigen-directions below ``rtol`` of the largest eigenvalue of XᵀX are dropped);
* :func:`ridge` (RR) — ``λ‖A‖_F²`` with λ scaled by each problem's mean feature energy tr(XᵀX)/c, so
  one λ means the same for every support; :func:`ridge_validated` picks λ on a validation split;
* :func:`forward_selection` (FS, the row-sparsity constraint of Eq. 4) — for each output row, greedily
  add the input that most reduces the residual sum of squares and refit least squares on the selected
  inputs, up to ``k`` (stopping early once the residual is exhausted). Gram–Schmidt in the Gram
  metric (the Cholesky factor of the selected inputs' Gram), batched over rows. The paper used the
  forward selection of SpaSM (Sjöstrand et al. 2018).

A :class:`Support` says which inputs each output may read: :func:`full_support` (no constraint, the
5×5-from-9×9 experiment of Fig. 6 left/centre) or :func:`structured_support` (Eq. 5: output cell u
reads every channel of the m×m input cells nearest ``p⁻¹∘g⁻¹∘p(u)``, Fig. 3 and Fig. 6 right). Only
the inputs a group of outputs may read enter its problem (one c×c Gram per output cell instead of
one d_in×d_in Gram), which is why structured FS is cheap (Table 2). LS and RR solve whichever of the
c×c Gram and the n×n kernel is smaller, so with n < d_in the unconstrained fit is cheap too. All
functions are pure: numpy in, numpy out (computed on one BLAS thread, see ``one_blas_thread``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from eqlab.groups.transforms import Transform

BUDGET = 2**23  # float64 entries per batch of groups or outputs (≈ 64 MiB per work array)
# The fits run on one BLAS thread: their many small products and eigendecompositions ran 10–100×
# slower with OpenBLAS's two threads on a shared 2-core machine (25 eigh of 279² in 33 s instead of
# 0.2 s); the one large Gram of an unconstrained fit loses < 2× at most.
one_blas_thread = threadpool_limits.wrap(limits=1, user_api="blas")


def hellinger(pred: np.ndarray, target: np.ndarray, cell_dim: int) -> np.ndarray:
    """Per-cell Hellinger distance ``(Σ_t (√p_t − √y_t)²)^½`` (footnote 7), predictions clamped at 0.

    ``(n, cells·cell_dim)`` flattened descriptors → ``(n, cells)``. Like the paper, no normalisation
    of the histograms (HOG cells are already normalised by their blocks)."""
    if pred.shape != target.shape or pred.shape[-1] % cell_dim:
        raise ValueError(f"pred {pred.shape} and target {target.shape} must match and split into cells of {cell_dim}")
    diff = np.sqrt(np.maximum(pred, 0.0)) - np.sqrt(np.maximum(target, 0.0))
    return np.sqrt((diff**2).reshape(*pred.shape[:-1], -1, cell_dim).sum(-1))


def mean_hellinger(pred: np.ndarray, target: np.ndarray, cell_dim: int) -> float:
    """The paper's error: the Hellinger distance averaged over cells and images (Fig. 6)."""
    return float(hellinger(pred, target, cell_dim).mean())


@dataclass(frozen=True)
class Support:
    """Group g's outputs ``outputs[g]`` ``(o,)`` may read only its inputs ``inputs[g]`` ``(c,)``."""

    inputs: np.ndarray  # (G, c) int
    outputs: np.ndarray  # (G, o) int

    def __post_init__(self) -> None:
        if self.inputs.ndim != 2 or self.outputs.ndim != 2 or len(self.inputs) != len(self.outputs):
            raise ValueError(
                f"support needs (G, c) inputs and (G, o) outputs, got {self.inputs.shape}, {self.outputs.shape}"
            )

    def is_full(self, d_in: int, d_out: int) -> bool:
        return (
            len(self.inputs) == 1
            and np.array_equal(self.inputs[0], np.arange(d_in))
            and np.array_equal(self.outputs[0], np.arange(d_out))
        )


def full_support(d_in: int, d_out: int) -> Support:
    """Every output reads every input (no spatial constraint)."""
    return Support(np.arange(d_in)[None], np.arange(d_out)[None])


def neighbourhoods(
    g: Transform, in_grid: tuple[int, int], out_grid: tuple[int, int], m: int, cell_size: float
) -> np.ndarray:
    """Ω_{g,m}(u) of Eq. 5: for each output cell u (row-major), the m×m input cells nearest ``p⁻¹∘g⁻¹∘p(u)``.

    Both grids are centred on the same image centre with cells of ``cell_size`` pixels (p maps cell
    offsets to pixel offsets); g acts on pixel offsets as in :mod:`eqlab.groups`. The window is moved
    inside the input grid where it would cross its border. Returns ``(n_out_cells, m²)`` cell indices."""
    if m < 1 or m > min(in_grid):
        raise ValueError(f"m={m} must be between 1 and the input grid's smaller side {min(in_grid)}")
    a, b, c, d, tx, ty = g.matrix
    inv = np.linalg.inv(np.array([[a, b], [c, d]]))
    (ri, ci), (ro, co) = in_grid, out_grid
    ii, jj = np.meshgrid(np.arange(ro), np.arange(co), indexing="ij")
    pix = cell_size * np.stack([jj.ravel() - (co - 1) / 2, ii.ravel() - (ro - 1) / 2])
    col, row = inv @ (pix - np.array([[tx], [ty]])) / cell_size  # back-projected (column, row) cell offsets
    starts = []
    for pos, n in ((row + (ri - 1) / 2, ri), (col + (ci - 1) / 2, ci)):
        starts.append(np.clip(np.floor(pos - (m - 1) / 2 + 0.5).astype(np.int64), 0, n - m))
    win = np.arange(m)
    rows = starts[0][:, None, None] + win[None, :, None]
    cols = starts[1][:, None, None] + win[None, None, :]
    return (rows * ci + cols).reshape(len(col), m * m)


def structured_support(cells: np.ndarray, dim_in: int, dim_out: int) -> Support:
    """Eq. 5 on flattened ``(cells, dim)`` descriptors: output cell u's channels read all channels of ``cells[u]``."""
    inputs = (cells[:, :, None] * dim_in + np.arange(dim_in)).reshape(len(cells), -1)
    outputs = np.arange(len(cells))[:, None] * dim_out + np.arange(dim_out)
    return Support(inputs, outputs)


@dataclass(frozen=True)
class LinearMap:
    """``M_g = (A, b)`` in row-sparse form: ``y_j = Σ_c coef[j, c]·x[index[j, c]] + bias[j]``.

    ``index`` None: every output reads every input and ``coef`` is the dense ``A`` ``(d_out, d_in)``;
    index −1 marks an unused slot (coefficient 0)."""

    index: np.ndarray | None
    coef: np.ndarray
    bias: np.ndarray

    def predict(self, x: np.ndarray) -> np.ndarray:
        """``(n, d_in)`` → ``(n, d_out)``."""
        if self.index is None:
            return x @ self.coef.T + self.bias
        out = np.empty((len(x), len(self.bias)))
        step = max(1, BUDGET // max(1, len(x) * self.coef.shape[1]))
        for lo in range(0, len(self.bias), step):
            idx = self.index[lo : lo + step]
            out[:, lo : lo + step] = np.einsum("nkc,kc->nk", x[:, np.maximum(idx, 0)], self.coef[lo : lo + step])
        return out + self.bias

    def dense(self, d_in: int) -> np.ndarray:
        """``A`` as a ``(d_out, d_in)`` matrix."""
        if self.index is None:
            return self.coef
        a = np.zeros((len(self.bias), d_in))
        rows = np.broadcast_to(np.arange(len(self.bias))[:, None], self.index.shape)
        used = self.index >= 0
        np.add.at(a, (rows[used], self.index[used]), self.coef[used])
        return a

    @property
    def nonzeros(self) -> int:
        return int(np.count_nonzero(self.coef))


def _check(x: np.ndarray, y: np.ndarray, support: Support | None) -> Support:
    if x.ndim != 2 or y.ndim != 2 or len(x) != len(y) or len(x) < 2:
        raise ValueError(f"x {x.shape} and y {y.shape} must be (n, d_in), (n, d_out) with the same n ≥ 2")
    support = support or full_support(x.shape[1], y.shape[1])
    if support.inputs.max() >= x.shape[1] or support.outputs.max() >= y.shape[1]:
        raise ValueError(f"support indexes beyond d_in={x.shape[1]} or d_out={y.shape[1]}")
    return support


def _batches(n_groups: int, per_group: int) -> Iterator[slice]:
    step = max(1, BUDGET // max(1, per_group))
    for lo in range(0, n_groups, step):
        yield slice(lo, lo + step)


def _gather(x: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """``(n, d)`` columns ``idx`` ``(G, c)`` → ``(G, n, c)``."""
    return x[:, idx].transpose(1, 0, 2)


def _assemble(support: Support, coefs: list[np.ndarray], x_mean: np.ndarray, y_mean: np.ndarray) -> LinearMap:
    """Group coefficients ``(G, c, o)`` (in batch order) → a :class:`LinearMap` with intercepts."""
    d_out = len(y_mean)
    coef_g = np.concatenate(coefs)  # (G, c, o)
    if support.is_full(len(x_mean), d_out):
        a = coef_g[0].T
        return LinearMap(None, a, y_mean - a @ x_mean)
    index = np.full((d_out, support.inputs.shape[1]), -1, dtype=np.int64)
    coef = np.zeros(index.shape)
    index[support.outputs] = support.inputs[:, None, :]
    coef[support.outputs] = coef_g.transpose(0, 2, 1)
    return LinearMap(index, coef, y_mean - (coef * x_mean[np.maximum(index, 0)]).sum(1))


@dataclass(frozen=True)
class _Spectrum:
    """XᵀX = V diag(e) Vᵀ for a batch of groups (kept directions only) and z = Vᵀ Xᵀ Y."""

    v: np.ndarray  # (G, c, r)
    e: np.ndarray  # (G, r), 0 where dropped
    keep: np.ndarray  # (G, r)
    z: np.ndarray  # (G, r, o)
    energy: np.ndarray  # (G,) tr(XᵀX)/c

    def coefs(self, lam: float) -> np.ndarray:
        """Ridge coefficients ``(G, c, o)`` for the scaled λ (λ = 0: minimum-norm least squares)."""
        w = np.where(self.keep, 1.0 / np.where(self.keep, self.e + lam * self.energy[:, None], 1.0), 0.0)
        return self.v @ (w[..., None] * self.z)


def _spectrum(xg: np.ndarray, yg: np.ndarray, rtol: float) -> _Spectrum:
    """From the c×c Gram when c ≤ n, else from the n×n kernel (V = XᵀU/√e): the smaller problem."""
    _, n, c = xg.shape
    xt = xg.transpose(0, 2, 1)
    e, vecs = np.linalg.eigh(xt @ xg if c <= n else xg @ xt)
    if c <= n:
        v = vecs
    else:
        v = xt @ vecs / np.sqrt(np.maximum(e, 1e-300))[:, None, :]
    keep = e > rtol * np.maximum(e.max(-1, keepdims=True), 1e-300)
    v = np.where(keep[:, None, :], v, 0.0)
    return _Spectrum(v, np.where(keep, e, 0.0), keep, (xg @ v).transpose(0, 2, 1) @ yg, e.sum(-1) / c)


def _spectra(x: np.ndarray, y: np.ndarray, support: Support, rtol: float) -> Iterator[tuple[slice, _Spectrum]]:
    n, c = len(x), support.inputs.shape[1]
    for sl in _batches(len(support.inputs), n * c + c * c + c * min(n, c)):
        yield sl, _spectrum(_gather(x, support.inputs[sl]), _gather(y, support.outputs[sl]), rtol)


@one_blas_thread
def ridge(x: np.ndarray, y: np.ndarray, lam: float, support: Support | None = None, rtol: float = 1e-12) -> LinearMap:
    """RR (Eq. 3 with R = ‖A‖_F²): minimise ``Σ_i ‖y_i − A x_i − b‖² + λ·tr(XcᵀXc)/c·‖A‖_F²`` per group."""
    if lam < 0:
        raise ValueError(f"lam must be ≥ 0, got {lam}")
    support = _check(x, y, support)
    xm, ym = x.mean(0), y.mean(0)
    coefs = [spec.coefs(lam) for _, spec in _spectra(x - xm, y - ym, support, rtol)]
    return _assemble(support, coefs, xm, ym)


def least_squares(x: np.ndarray, y: np.ndarray, support: Support | None = None, rtol: float = 1e-12) -> LinearMap:
    """LS (Eq. 3 with no regulariser): the minimum-norm least-squares map (overfits when d_in > n)."""
    return ridge(x, y, 0.0, support, rtol)


@one_blas_thread
def ridge_validated(
    x: np.ndarray,
    y: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    lams: Sequence[float],
    cell_dim: int,
    support: Support | None = None,
    rtol: float = 1e-12,
) -> tuple[LinearMap, float, np.ndarray]:
    """RR with λ chosen from ``lams`` by the mean Hellinger error on the validation pair (never test).

    Returns the map fitted on ``(x, y)`` at the chosen λ, that λ, and the validation error per λ.
    One eigendecomposition per group serves the whole λ path."""
    if not len(lams) or min(lams) < 0:
        raise ValueError(f"lams must be a non-empty sequence of values ≥ 0, got {list(lams)}")
    support = _check(x, y, support)
    xm, ym = x.mean(0), y.mean(0)
    preds = np.empty((len(lams), len(x_val), y.shape[1]))
    spectra = []
    for sl, spec in _spectra(x - xm, y - ym, support, rtol):
        xv = _gather(x_val - xm, support.inputs[sl]) @ spec.v  # (G, n_val, r)
        for li, lam in enumerate(lams):
            w = np.where(spec.keep, 1.0 / np.where(spec.keep, spec.e + lam * spec.energy[:, None], 1.0), 0.0)
            preds[li][:, support.outputs[sl]] = (xv @ (w[..., None] * spec.z)).transpose(1, 0, 2)
        spectra.append(spec)
    errors = np.array([mean_hellinger(p + ym, y_val, cell_dim) for p in preds])
    best = int(np.argmin(errors))
    return _assemble(support, [s.coefs(lams[best]) for s in spectra], xm, ym), float(lams[best]), errors


def _select(gram: np.ndarray, a: np.ndarray, yy: np.ndarray, k: int, rtol: float) -> tuple[np.ndarray, np.ndarray]:
    """Forward selection for a batch: Gram ``(G, c, c)``, ``a = (XᵀY)ᵀ`` ``(G, o, c)``, ``yy`` ``(G, o)``.

    Returns the selected local indices ``(G, o, k)`` (−1: unused) and their least-squares coefficients.
    Invariants after step t: ``a_i = ⟨x_i, r⟩`` (r the residual), ``q_i = ‖x_i − proj x_i‖²`` (the part
    of input i orthogonal to the selected ones); the RSS drop of adding i is ``a_i²/q_i``."""
    g_n, o_n, c = a.shape
    diag = np.einsum("gii->gi", gram)[:, None, :]
    q = np.broadcast_to(diag, a.shape).copy()
    a = a.copy()
    chosen = np.zeros(a.shape, dtype=bool)
    low = np.broadcast_to(np.eye(k), (g_n, o_n, k, k)).copy()  # rows of unused slots stay identity rows
    z = np.zeros((g_n, o_n, k))
    sel = np.full((g_n, o_n, k), -1, dtype=np.int64)
    active = np.ones((g_n, o_n), dtype=bool)
    basis: list[np.ndarray] = []
    gi = np.arange(g_n)[:, None]
    for t in range(k):
        ok = ~chosen & (q > 1e-10 * diag)
        score = np.where(ok, a**2 / np.where(ok, q, 1.0), -np.inf)
        s = score.argmax(-1)
        active &= np.take_along_axis(score, s[..., None], -1)[..., 0] > rtol * yy
        if not active.any():
            break
        col = gram[gi, s].copy()  # ⟨x_i, x_s⟩ for every candidate i, (G, o, c)
        for p, u in enumerate(basis):
            u_s = np.take_along_axis(u, s[..., None], -1)[..., 0]
            low[..., t, p] = np.where(active, u_s, 0.0)
            col -= u * u_s[..., None]
        d = np.sqrt(np.where(active, np.take_along_axis(q, s[..., None], -1)[..., 0], 1.0))
        u = np.where(active[..., None], col / d[..., None], 0.0)  # ⟨x_i, e_t⟩, e_t the new orthonormal direction
        z[..., t] = np.where(active, np.take_along_axis(a, s[..., None], -1)[..., 0] / d, 0.0)  # ⟨y, e_t⟩
        a -= u * z[..., t, None]
        q -= u**2
        np.put_along_axis(chosen, s[..., None], active[..., None], -1)
        low[..., t, t] = d
        sel[..., t] = np.where(active, s, -1)
        basis.append(u)
    # X_S = E·Lᵀ, so y ≈ E z = X_S β with Lᵀ β = z (unused slots: identity rows, z = 0 → β = 0)
    beta = np.linalg.solve(np.swapaxes(low, -1, -2), z[..., None])[..., 0]
    return sel, beta


@one_blas_thread
def forward_selection(
    x: np.ndarray, y: np.ndarray, k: int, support: Support | None = None, rtol: float = 1e-12
) -> LinearMap:
    """FS (Eq. 4, combined with Eq. 5 through ``support``): at most ``k`` inputs per output row.

    Stops adding inputs to a row once the best RSS drop is ≤ ``rtol``·‖y_j − ȳ_j‖² (an exact map
    is found with as many inputs as it needs)."""
    if k < 1:
        raise ValueError(f"k must be ≥ 1, got {k}")
    support = _check(x, y, support)
    xm, ym = x.mean(0), y.mean(0)
    xc, yc = x - xm, y - ym
    n, c = len(x), support.inputs.shape[1]
    k = min(k, c)
    d_out = y.shape[1]
    index = np.full((d_out, k), -1, dtype=np.int64)
    coef = np.zeros((d_out, k))
    for sl in _batches(len(support.inputs), n * c + c * c):
        inputs, outputs = support.inputs[sl], support.outputs[sl]
        xg = _gather(xc, inputs)
        yg = _gather(yc, outputs)
        gram = xg.transpose(0, 2, 1) @ xg
        cross = (xg.transpose(0, 2, 1) @ yg).transpose(0, 2, 1)  # (G, o, c)
        yy = (yg**2).sum(1)
        for osl in _batches(outputs.shape[1], len(inputs) * c * (k + 6)):
            s, beta = _select(gram, cross[:, osl], yy[:, osl], k, rtol)
            glob = np.where(s >= 0, np.take_along_axis(inputs[:, None, :], np.maximum(s, 0), -1), -1)
            index[outputs[:, osl]] = glob
            coef[outputs[:, osl]] = beta
    return LinearMap(index, coef, ym - (coef * xm[np.maximum(index, 0)]).sum(1))
