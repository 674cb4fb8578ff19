"""Lenc & Vedaldi's equivariance maps M_g = F_g ∘ P_g on trained ANet analogues (Sec. 3, Eq. 7; Table 3).

For an image transform g the network sees g·x; a map must undo g: ``M φ(g·x) ≈ φ(x)``, and the hybrid
``ψ(M φ(g·x))`` (ψ the frozen tail, eval mode) should classify x as well as the network does.

* ``P``: the spatial part on the tap's own grid, ``P = P_g⁻¹`` with ``P_g = grid.transform(g, image,
  feature)`` (:class:`eqlab.groups.Grid`). The ANet grids are not centred, so even flips and rot90
  carry a sub-pixel translation on the feature grid and P is then a bilinear warp (empty borders zero).
  FC taps: ``P = I``.
* ``F``: an m×m conv with bias (m = 1: a channel matrix; m = 3: every output site reads the 3×3
  neighbourhood of all channels), fitted by ridge regression of φ(x) on the patches of Pφ(g·x) at the
  sites of P_g's valid mask: ``min ‖Y − XAᵀ − b‖² + λ'‖A‖²`` with λ' = λ·tr(XcᵀXc)/d, the normalisation of
  :func:`eqlab.probes.ridge.fit_ridge`, solved once per λ from one Gram matrix; λ is chosen by the L2
  residual on the validation images (never the test images). FC taps: F dense (m = 1).

Methods per (tap, g): ``original`` ψ(φ(x)), ``none`` ψ(φ(g·x)) (uncompensated), ``p_only`` ψ(Pφ(g·x)),
``ridge_m1`` and ``ridge_m3``. Each top-1 error comes with a 95 % percentile-bootstrap interval over the
test images of the run.

**Invariant channels** (Table 3): with the m = 1 map A, channel t's score is ‖A[t,:]‖ / ‖A[t,:] with
entry t zeroed‖ (large: t is read mostly from itself). The p highest-scoring rows are replaced by
*scaled identity rows* A[t,t]·e_t (our reading of the paper's ambiguous "scaled identity": the row's own
diagonal coefficient, bias kept); the count is the largest p on a grid over 0…C whose hybrid error on the
*validation* images is within 5 % (relative) of the full map's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from eqlab.groups import Transform, get_transform
from eqlab.models.lv_nets import IMAGE, ANetSmall, tap_grid
from eqlab.probes.ridge import ridge_path
from eqlab.probes.subsets import spread


@dataclass(frozen=True)
class MapsConfig:
    """``probe_lv_nets`` shared keys."""

    transforms: tuple[str, ...] = ("hflip", "vflip", "rot90", "rot45", "scale0.7071067811865476", "scale0.5")
    layers: tuple[str, ...] = ("conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7")
    lams: tuple[float, ...] = (1e-4, 1e-3, 1e-2, 1e-1, 1.0)
    ms: tuple[int, ...] = (1, 3)
    max_rows: int = field(default=20000, metadata={"min": 100})
    fit_images: int = field(default=400, metadata={"min": 1})
    n_boot: int = field(default=1000, metadata={"min": 10})
    invariant_transforms: tuple[str, ...] = ("hflip", "vflip", "scale0.7071067811865476", "rot90")
    invariant_steps: int = field(default=9, metadata={"min": 2})
    tolerance: float = field(default=0.05, metadata={"min": 0.0})
    seed: int = 0


@torch.no_grad()
def all_taps(model: ANetSmall, x: torch.Tensor, taps: Sequence[str], batch: int = 256) -> dict[str, torch.Tensor]:
    """φ(x) at every tap in ``taps`` from one forward pass per batch."""
    model.eval()
    want = {model.tap_index(t): t for t in taps}
    out: dict[str, list[torch.Tensor]] = {t: [] for t in taps}
    for i in range(0, len(x), batch):
        h = x[i : i + batch]
        for k, stage in enumerate(model.stages[: max(want) + 1]):
            h = stage(h)
            if k in want:
                out[want[k]].append(h)
    return {t: torch.cat(v) for t, v in out.items()}


@torch.no_grad()
def wrong(model: ANetSmall, tap: str, h: torch.Tensor, y: torch.Tensor, batch: int = 256) -> np.ndarray:
    """Per image: does ψ(h) misclassify it?"""
    model.eval()
    out = [model.forward_from(tap, h[i : i + batch]).argmax(1) != y[i : i + batch] for i in range(0, len(h), batch)]
    return torch.cat(out).numpy()


def bootstrap_ci(errors: np.ndarray, n_boot: int, rng: np.random.Generator) -> tuple[float, float]:
    """95 % percentile-bootstrap interval of the mean of ``errors`` (0/1 per test image)."""
    idx = rng.integers(0, len(errors), size=(n_boot, len(errors)))
    means = errors.astype(np.float64)[idx].mean(1)
    return float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))


def spatial_part(g: Transform, tap: str, feature: tuple[int, int]) -> Transform | None:
    """P_g on the tap's grid (None for FC taps)."""
    grid = tap_grid(tap)
    return None if grid is None else grid.transform(g, (IMAGE, IMAGE), feature)


def align(p: Transform | None, h: torch.Tensor) -> torch.Tensor:
    """P φ(g·x) = P_g⁻¹ applied to the feature map (identity for FC taps)."""
    return h if p is None else p.inverse().apply(h, "bilinear")


def patches(h: torch.Tensor, m: int) -> torch.Tensor:
    """(N, C, H, W) → (N, H·W, C·m·m): the m×m neighbourhood of every site (zero padded)."""
    if h.dim() == 2:
        return h[:, None, :]
    n, c, hh, ww = h.shape
    return F.unfold(h, m, padding=m // 2).transpose(1, 2) if m > 1 else h.flatten(2).transpose(1, 2)


def apply_map(h: torch.Tensor, a: np.ndarray, b: np.ndarray, m: int) -> torch.Tensor:
    """F h: an m×m conv (rows of ``a`` ordered as :func:`patches`' columns: channel-major) or a dense map."""
    at, bt = torch.from_numpy(a).float(), torch.from_numpy(b).float()
    if h.dim() == 2:
        return h @ at.T + bt
    c = h.shape[1]
    return F.conv2d(h, at.view(len(a), c, m, m), bt, padding=m // 2)


def site_rows(h: torch.Tensor, m: int, mask: np.ndarray | None) -> np.ndarray:
    """Regression rows (N·P, C·m·m) at the sites inside ``mask``."""
    rows = patches(h, m)
    if mask is not None:
        rows = rows[:, torch.from_numpy(mask.reshape(-1))]
    return rows.reshape(-1, rows.shape[-1]).numpy()


def masked_residual(pred: torch.Tensor, target: torch.Tensor, mask: np.ndarray | None) -> float:
    """‖(pred − target)·m‖² / ‖target·m‖²."""
    w = torch.ones(()) if mask is None else torch.from_numpy(mask.astype(np.float32))
    return float((((pred - target) ** 2) * w).sum() / ((target**2) * w).sum().clamp_min(1e-30))


def sampled_rows(
    src: torch.Tensor,
    tgt: torch.Tensor,
    m: int,
    mask: np.ndarray | None,
    max_rows: int,
    rng: np.random.Generator,
    chunk: int = 64,
) -> tuple[np.ndarray, np.ndarray]:
    """At most ``max_rows`` (image, site) regression rows, a seeded uniform sample, built ``chunk`` images
    at a time (the m×m patches of every site of every image would not fit in memory at conv1)."""
    per_image = int(mask.sum()) if mask is not None else (src.shape[-2] * src.shape[-1] if src.dim() == 4 else 1)
    total = len(src) * per_image
    keep = np.sort(rng.choice(total, max_rows, replace=False)) if total > max_rows else np.arange(total)
    xs, ys = [], []
    for i in range(0, len(src), chunk):
        lo, hi = np.searchsorted(keep, [i * per_image, (i + chunk) * per_image])
        if hi > lo:
            sel = keep[lo:hi] - i * per_image
            xs.append(site_rows(src[i : i + chunk], m, mask)[sel])
            ys.append(site_rows(tgt[i : i + chunk], 1, mask)[sel])
    return np.concatenate(xs), np.concatenate(ys)


def fit_map(
    fit: tuple[torch.Tensor, torch.Tensor],
    val: tuple[torch.Tensor, torch.Tensor],
    m: int,
    mask: np.ndarray | None,
    cfg: MapsConfig,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, float]:
    """Ridge map from (Pφ(g·x), φ(x)) pairs; λ with the smallest validation residual → (A, b, λ)."""
    (src, tgt), (vsrc, vtgt) = fit, val
    x, y = sampled_rows(src, tgt, m, mask, cfg.max_rows, rng)
    path = ridge_path(x, y, cfg.lams)
    res = [masked_residual(apply_map(vsrc, a, b, m), vtgt, mask) for a, b in path]
    best = int(np.argmin(res))
    return path[best][0], path[best][1], float(cfg.lams[best])


def channel_scores(a: np.ndarray) -> np.ndarray:
    """‖A[t,:]‖ / ‖A[t,:] with entry t zeroed‖ per output channel t (∞ for a pure diagonal row)."""
    off = a.copy()
    np.fill_diagonal(off, 0.0)
    full, rest = np.linalg.norm(a, axis=1), np.linalg.norm(off, axis=1)
    with np.errstate(divide="ignore"):
        return np.where(rest > 0, full / np.maximum(rest, 1e-300), np.inf)


def with_identity_rows(a: np.ndarray, p: int) -> np.ndarray:
    """A with its ``p`` highest-scoring rows replaced by the scaled identity rows A[t,t]·e_t."""
    out = a.copy()
    for t in np.argsort(-channel_scores(a), kind="stable")[:p]:
        out[t] = 0.0
        out[t, t] = a[t, t]
    return out


def invariant_count(
    model: ANetSmall,
    tap: str,
    a: np.ndarray,
    b: np.ndarray,
    val_src: torch.Tensor,
    y_val: torch.Tensor,
    cfg: MapsConfig,
) -> tuple[int, float, float]:
    """(count, validation error of the full map, validation error at the count)."""
    c = len(a)
    full = float(wrong(model, tap, apply_map(val_src, a, b, 1), y_val).mean())
    best, err_best = 0, full
    for p in sorted({int(round(v)) for v in np.linspace(0, c, cfg.invariant_steps)}):
        err = float(wrong(model, tap, apply_map(val_src, with_identity_rows(a, p), b, 1), y_val).mean())
        if err <= (1 + cfg.tolerance) * full:
            best, err_best = p, err
    return best, full, err_best


@dataclass(frozen=True)
class Split:
    """Network inputs and labels of one split."""

    x: torch.Tensor
    y: torch.Tensor


def probe_net(model: ANetSmall, fit: Split, val: Split, test: Split, cfg: MapsConfig) -> tuple[list[dict], list[dict]]:
    """All maps of one network: (map rows, invariant-channel rows). ``fit`` is cut to ``cfg.fit_images``
    images spread over its classes (:func:`eqlab.probes.subsets.spread`)."""
    rng = np.random.default_rng(cfg.seed)
    fit = Split(*spread(fit.x, fit.y, cfg.fit_images))
    splits = {"fit": fit, "val": val, "test": test}
    phi = {s: all_taps(model, d.x, cfg.layers) for s, d in splits.items()}
    base = wrong(model, cfg.layers[0], phi["test"][cfg.layers[0]], test.y)
    lo, hi = bootstrap_ci(base, cfg.n_boot, rng)
    rows = [dict(layer="", transform="identity", method="original", m=0, lam=np.nan, top1_error=float(base.mean()),
                 ci_low=lo, ci_high=hi, residual_l2=0.0)]  # fmt: skip
    inv: list[dict] = []
    for tname in cfg.transforms:
        g = get_transform(tname)
        moved_all = {s: all_taps(model, g.apply(d.x), cfg.layers) for s, d in splits.items()}
        for tap in cfg.layers:
            target = {s: phi[s][tap] for s in splits}
            moved = {s: moved_all[s][tap] for s in splits}
            r, i = _tap_maps(model, tap, g, target, moved, val.y, test.y, cfg, rng)
            rows += r
            inv += i
    return rows, inv


def _tap_maps(
    model: ANetSmall, tap: str, g: Transform, phi: dict[str, torch.Tensor], moved: dict[str, torch.Tensor],
    y_val: torch.Tensor, y_test: torch.Tensor, cfg: MapsConfig, rng: np.random.Generator,
) -> tuple[list[dict], list[dict]]:
    """Rows of one (tap, g): uncompensated, P_g only, M_g per m; the invariant count for Table 3's g."""
    p = spatial_part(g, tap, tuple(phi["test"].shape[-2:])) if phi["test"].dim() == 4 else None
    mask = None if p is None else p.valid_mask(*phi["test"].shape[-2:]).numpy()
    aligned = {s: align(p, h) for s, h in moved.items()}
    cands: list[tuple[str, int, float, torch.Tensor]] = [("none", 0, np.nan, moved["test"])]
    if p is not None:
        cands.append(("p_only", 0, np.nan, aligned["test"]))
    a1 = b1 = None
    for m in cfg.ms if p is not None else (1,):
        a, b, lam = fit_map((aligned["fit"], phi["fit"]), (aligned["val"], phi["val"]), m, mask, cfg, rng)
        cands.append((f"ridge_m{m}", m, lam, apply_map(aligned["test"], a, b, m)))
        if m == 1:
            a1, b1 = a, b
    rows = []
    for method, m, lam, h in cands:
        w = wrong(model, tap, h, y_test)
        lo, hi = bootstrap_ci(w, cfg.n_boot, rng)
        rows.append(dict(layer=tap, transform=g.name, method=method, m=m, lam=lam, top1_error=float(w.mean()),
                         ci_low=lo, ci_high=hi, residual_l2=masked_residual(h, phi["test"], mask)))  # fmt: skip
    inv = []
    if p is not None and g.name in cfg.invariant_transforms and a1 is not None:
        count, err_full, err_at = invariant_count(model, tap, a1, b1, aligned["val"], y_val, cfg)
        inv.append(dict(layer=tap, transform=g.name, channels=len(a1), invariant=count, val_error_full=err_full,
                        val_error_at_count=err_at, grid_shift=p.name if p.name != g.name else ""))  # fmt: skip
    return rows, inv
