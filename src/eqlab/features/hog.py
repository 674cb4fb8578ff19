"""A HOG on which flips and half (quarter) turns act by exact permutations (Lenc & Vedaldi, Sec. 4.1).

Lenc & Vedaldi (IJCV) use VLFeat's UoCTTI HOG (Felzenszwalb et al. 2010; Sec. 3.1, 5.2) and note that
for a horizontal flip, a vertical flip or a 180° turn g, ``φ(g·x) = P_g φ(x)`` with P_g a permutation
of cells × feature channels (quarter turns only approximately: 9 orientations). This module is that
HOG with one change — *soft* orientation binning — so that the law holds to float precision:

1. grayscale image in [0, 1], H and W multiples of the cell size s; gradient by central differences
   ``[-1, 0, 1]`` with edge replication, ``∇x = (g_c, g_r)`` in (column, row) coordinates, rows down;
2. the magnitude ``|∇x|`` is split *linearly* between the two nearest of 2B signed directions
   ``θ_k = πk/B`` (angle ``atan2(g_r, g_c)``). VLFeat assigns it wholly to the nearest direction,
   which breaks the flip law wherever a gradient sits half-way between two directions (with B = 9
   every vertical gradient does: 90° is between 80° and 100°);
3. pooling into an (H/s) × (W/s) grid of cells with bilinear (triangle) weights about each cell centre;
4. four normalisers per cell, ``n_q = (ε + E_q)^(-1/2)``, with ``E_q`` the summed squared unsigned
   histogram (``h_b + h_{b+B}``) of the 2×2 block of cells at the cell's corner q (up-left,
   up-right, down-left, down-right); cells outside the grid have zero energy;
5. per cell ``D = 3B + 4`` channels (31 for B = 9), in this order: 2B signed
   ``½ Σ_q min(n_q h_b, 0.2)``, B unsigned ``½ Σ_q min(n_q (h_b + h_{b+B}), 0.2)`` and 4 texture
   ``0.2357 Σ_b min(n_q h_b, 0.2)`` (one per corner q).

Every step commutes with a D4 element g (matrix A, a signed permutation of the axes, acting on
pixel offsets about the image centre): the gradient field turns by A, so direction k goes to the
direction of ``A·(cos θ_k, sin θ_k)``; cells, whose grid is centred on the image, move by A; the
corner q of the texture channel moves by A. Directions are closed under flips and 180° for any B,
under quarter turns and diagonal mirrors only for even B (2B divisible by 4) on a square grid.

scikit-image's ``hog`` is not used: hard orientation binning and zeroed border gradients make its
flipped descriptor differ from any permutation of the original (max |Δ| ≈ 0.2–0.6 on a camera crop).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from eqlab.groups.reps import PermutationRep, permutation
from eqlab.groups.transforms import Transform, get_transform

TEXTURE_WEIGHT = 0.2357  # Felzenszwalb et al.'s texture-feature scale, as in VLFeat
# corner q of a cell's four 2×2 normalisation blocks, as (column, row) offsets: the channel order
CORNERS: tuple[tuple[int, int], ...] = ((-1, -1), (1, -1), (-1, 1), (1, 1))
D4_NAMES = ("identity", "rot90", "rot180", "rot270", "hflip", "vflip", "transpose", "antitranspose")


@dataclass(frozen=True)
class HogGeometry:
    """Cell size s in pixels, B unsigned orientations (2B signed), normaliser ε and clip level."""

    cell_size: int = 8
    orientations: int = 9
    eps: float = 1e-4
    clip: float = 0.2

    def __post_init__(self) -> None:
        if self.cell_size < 2:
            raise ValueError(f"cell_size must be ≥ 2, got {self.cell_size}")
        if self.orientations < 2:
            raise ValueError(f"orientations must be ≥ 2, got {self.orientations}")
        if self.eps <= 0 or self.clip <= 0:
            raise ValueError(f"eps and clip must be > 0, got eps={self.eps}, clip={self.clip}")

    @property
    def dim(self) -> int:
        """D = 3B + 4 channels per cell."""
        return 3 * self.orientations + 4

    def grid(self, height: int, width: int) -> tuple[int, int]:
        """(rows, cols) of cells for an image of ``height × width`` pixels."""
        s = self.cell_size
        if height % s or width % s or height < s or width < s:
            raise ValueError(f"image size {height}×{width} is not a positive multiple of cell_size={s}")
        return height // s, width // s


def _gradients(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Central differences along columns and rows of ``(N, H, W)``, edges replicated."""
    p = np.pad(x, ((0, 0), (1, 1), (1, 1)), mode="edge")
    return p[:, 1:-1, 2:] - p[:, 1:-1, :-2], p[:, 2:, 1:-1] - p[:, :-2, 1:-1]


def _pool_weights(n_pixels: int, cell: int) -> np.ndarray:
    """``(n_pixels, n_cells)`` triangle weights ``max(0, 1 − |pixel − centre|/s)`` (bilinear pooling)."""
    centres = cell * np.arange(n_pixels // cell) + (cell - 1) / 2
    return np.maximum(0.0, 1.0 - np.abs(np.arange(n_pixels)[:, None] - centres[None]) / cell)


def orientation_histograms(x: np.ndarray, geometry: HogGeometry) -> np.ndarray:
    """Steps 1–3: ``(N, H, W)`` → ``(N, rows, cols, 2B)`` soft-binned, bilinearly pooled magnitudes."""
    n_signed = 2 * geometry.orientations
    gc, gr = _gradients(x)
    mag = np.hypot(gc, gr)
    t = np.mod(np.arctan2(gr, gc) * (geometry.orientations / np.pi), n_signed)
    lower = np.floor(t)
    frac = t - lower
    k0 = lower.astype(np.int64) % n_signed
    k1 = (k0 + 1) % n_signed
    wr = _pool_weights(x.shape[1], geometry.cell_size)
    wc = _pool_weights(x.shape[2], geometry.cell_size)
    out = np.empty((x.shape[0], wr.shape[1], wc.shape[1], n_signed))
    for b in range(n_signed):
        o = mag * (np.where(k0 == b, 1.0 - frac, 0.0) + np.where(k1 == b, frac, 0.0))
        out[..., b] = wr.T @ o @ wc
    return out


def normalise(h: np.ndarray, geometry: HogGeometry) -> np.ndarray:
    """Steps 4–5: signed histograms ``(N, rows, cols, 2B)`` → UoCTTI features ``(N, rows, cols, 3B+4)``."""
    b = geometry.orientations
    unsigned = h[..., :b] + h[..., b:]
    energy = np.pad((unsigned**2).sum(-1), ((0, 0), (1, 1), (1, 1)))
    block = energy[:, :-1, :-1] + energy[:, 1:, :-1] + energy[:, :-1, 1:] + energy[:, 1:, 1:]
    inv = 1.0 / np.sqrt(block + geometry.eps)  # block (i, j) covers cells rows i-1..i, cols j-1..j
    norms = np.stack([inv[:, :-1, :-1], inv[:, :-1, 1:], inv[:, 1:, :-1], inv[:, 1:, 1:]], -1)  # CORNERS order
    hs = np.minimum(h[..., None, :] * norms[..., None], geometry.clip)  # (N, rows, cols, 4, 2B)
    hu = np.minimum(unsigned[..., None, :] * norms[..., None], geometry.clip)
    return np.concatenate([0.5 * hs.sum(-2), 0.5 * hu.sum(-2), TEXTURE_WEIGHT * hs.sum(-1)], -1)


def hog(images: np.ndarray, geometry: HogGeometry = HogGeometry(), batch: int = 128) -> np.ndarray:
    """HOG of ``(H, W)`` or ``(N, H, W)`` grayscale images → ``(rows, cols, D)`` or ``(N, rows, cols, D)``.

    float64; ``batch`` images at a time bound the memory (≈ 20·batch·H·W·8 bytes)."""
    x = np.asarray(images, dtype=np.float64)
    if x.ndim not in (2, 3):
        raise ValueError(f"images must be (H, W) or (N, H, W), got shape {x.shape}")
    single = x.ndim == 2
    x = x[None] if single else x
    geometry.grid(*x.shape[1:])
    parts = [normalise(orientation_histograms(x[i : i + batch], geometry), geometry) for i in range(0, len(x), batch)]
    out = np.concatenate(parts) if parts else np.empty((0, *geometry.grid(*x.shape[1:]), geometry.dim))
    return out[0] if single else out


def _d4_matrix(g: Transform) -> np.ndarray:
    """The 2×2 signed permutation of a D4 element without translation, else ``ValueError``."""
    a = np.array(g.matrix[:4], dtype=np.float64).reshape(2, 2)
    if (
        g.matrix[4:] != (0.0, 0.0)
        or not np.array_equal(np.abs(a) @ np.ones(2), np.ones(2))
        or not np.all(np.isin(a, (-1.0, 0.0, 1.0)))
    ):
        raise ValueError(f"g={g.name!r}: HOG permutes only under D4 elements without translation {D4_NAMES}")
    return a


def _as_transform(g: Transform | str) -> Transform:
    return get_transform(g) if isinstance(g, str) else g


def channel_permutation(g: Transform | str, orientations: int) -> np.ndarray:
    """ρ(g) on one cell's D = 3B + 4 channels: entry t is the channel that channel t moves to."""
    g = _as_transform(g)
    a = _d4_matrix(g)
    n_signed = 2 * orientations
    theta = np.pi * np.arange(n_signed) / orientations
    moved = a @ np.stack([np.cos(theta), np.sin(theta)])
    pos = np.mod(np.arctan2(moved[1], moved[0]) * orientations / np.pi, n_signed)
    signed = np.rint(pos).astype(np.int64) % n_signed
    if np.abs(pos - np.rint(pos)).max() > 1e-9:
        raise ValueError(
            f"orientations={orientations}: the {n_signed} signed directions are not closed under {g.name} "
            "(quarter turns and diagonal mirrors need an even number of orientations)"
        )
    corners = [CORNERS.index(tuple(int(v) for v in a @ np.array(c))) for c in CORNERS]
    return np.concatenate(
        [signed, n_signed + signed[:orientations] % orientations, 3 * orientations + np.array(corners)]
    )


def cell_permutation(g: Transform | str, rows: int, cols: int) -> np.ndarray:
    """P_g on a ``rows × cols`` cell grid centred on the image: entry ``i·cols + j`` is where cell (i, j) goes."""
    g = _as_transform(g)
    a = _d4_matrix(g)
    if rows != cols and a[0, 0] == 0:
        raise ValueError(f"g={g.name!r} maps a {rows}×{cols} grid onto a {cols}×{rows} one: needs a square grid")
    ii, jj = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
    off = np.stack([jj.ravel() - (cols - 1) / 2, ii.ravel() - (rows - 1) / 2])  # (column, row) offsets
    mc, mr = a @ off
    return (np.rint(mr + (rows - 1) / 2) * cols + np.rint(mc + (cols - 1) / 2)).astype(np.int64)


def descriptor_permutation(g: Transform | str, rows: int, cols: int, orientations: int) -> np.ndarray:
    """Gather index of P_g on the flattened ``(rows, cols, D)`` descriptor: ``φ(g·x).ravel() = φ(x).ravel()[idx]``.

    Composition: ``idx(a∘b) = idx(b)[idx(a)]``, i.e. ``P_{ab} = P_a P_b`` for the matrices of
    :func:`permutation_matrix`."""
    cells = cell_permutation(g, rows, cols)
    chans = channel_permutation(g, orientations)
    d = len(chans)
    dst = (cells[:, None] * d + chans[None, :]).ravel()  # where each source entry goes
    idx = np.empty_like(dst)
    idx[dst] = np.arange(len(dst))
    return idx


def permutation_matrix(idx: np.ndarray) -> np.ndarray:
    """The 0/1 matrix P with ``(P v)[i] = v[idx[i]]``."""
    return np.eye(len(idx))[np.asarray(idx)]


def hog_rep(orientations: int, elements: tuple[str, ...] | None = None) -> PermutationRep:
    """ρ as an eqlab :class:`~eqlab.groups.PermutationRep` on channels-first HOG ``(N, D, rows, cols)``:
    ``act_on_features(φ(x), g, hog_rep(B))`` equals ``φ(g·x)`` for every listed element.

    Default elements: all of D4 for even B, {identity, hflip, vflip, rot180} for odd B."""
    names = elements or (D4_NAMES if orientations % 2 == 0 else ("identity", "rot180", "hflip", "vflip"))
    return permutation({name: channel_permutation(name, orientations).tolist() for name in names}, f"hog{orientations}")
