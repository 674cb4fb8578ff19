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
``ridge_m1`` and ``ridge_m3``; and, for the transforms in ``solvers_for`` with the largest m on conv taps
(the dense map on FC taps), the paper's other solvers and objectives on the same rows:

* ``ls_m{m}``: plain least squares (λ = 0);
* ``fs_m{m}``: sparse forward selection (Eq. 4 within the m×m neighbourhood of Eq. 5), ``fs_k``
  non-zeros per output channel (:func:`eqlab.probes.sparse.forward_selection`);
* ``reluopt_m{m}``: F trained (Adam, from the ridge solution) to minimise the L2 error *after* the ReLU,
  ‖relu(F Pφ(g·x)) − relu(φ(x))‖² on the valid sites (ReLU-OPT);
* ``task_m{m}``: F trained (Adam, from the ridge solution) on the classification loss of ψ(F Pφ(g·x))
  through the frozen tail in eval mode (Eq. 6).

The two trained maps keep the epoch (0 = the ridge start) with the lowest validation loss of their own
objective (never the test images). Each top-1 error comes with a 95 % percentile-bootstrap interval over
the test images of the run; ``residual_l2`` is the relative L2 error before the ReLU, ``residual_relu``
after it (the paper's "L2 before and after ReLU").

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
from eqlab.models.lv_nets import IMAGE, TappedStages
from eqlab.probes.lv_scoring import (  # noqa: F401 - bootstrap_ci, relu_residual: this module's API too
    binary_bootstrap_ci,
    bootstrap_ci,
    masked_residual,
    relu_residual,
    scored,
    wrong,
)
from eqlab.probes.ridge import fit_ridge, ridge_path
from eqlab.probes.sparse import forward_selection
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
    solvers_for: tuple[str, ...] = ("vflip", "rot90")
    fs_k: int = field(default=8, metadata={"min": 1})
    train_epochs: int = field(default=8, metadata={"min": 0})
    train_lr: float = field(default=1e-3, metadata={"min": 0.0})
    train_batch_size: int = field(default=32, metadata={"min": 1})
    seed: int = 0


@torch.no_grad()
def all_taps(model: TappedStages, x: torch.Tensor, taps: Sequence[str], batch: int = 256) -> dict[str, torch.Tensor]:
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


def spatial_part(model: TappedStages, g: Transform, tap: str, feature: tuple[int, int]) -> Transform | None:
    """P_g on the tap's grid (None for FC taps)."""
    grid = model.tap_grid(tap)
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


def apply_map(h: torch.Tensor, a: np.ndarray | torch.Tensor, b: np.ndarray | torch.Tensor, m: int) -> torch.Tensor:
    """F h: an m×m conv (rows of ``a`` ordered as :func:`patches`' columns: channel-major) or a dense map.
    ``a``, ``b`` may be tensors that carry gradients (:func:`train_map`)."""
    at, bt = (torch.as_tensor(v).float() for v in (a, b))
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
    rows: tuple[np.ndarray, np.ndarray],
    val: tuple[torch.Tensor, torch.Tensor],
    m: int,
    mask: np.ndarray | None,
    cfg: MapsConfig,
) -> tuple[np.ndarray, np.ndarray, float]:
    """Ridge map from (Pφ(g·x), φ(x)) regression ``rows`` (:func:`sampled_rows`); λ with the smallest
    validation residual → (A, b, λ)."""
    vsrc, vtgt = val
    path = ridge_path(*rows, cfg.lams)
    res = [masked_residual(apply_map(vsrc, a, b, m), vtgt, mask) for a, b in path]
    best = int(np.argmin(res))
    return path[best][0], path[best][1], float(cfg.lams[best])


def fit_ls(rows: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """LS: the map of least squares (λ = 0; a least-squares solve where the rows are rank deficient)."""
    return fit_ridge(*rows, 0.0)


def fit_fs(rows: tuple[np.ndarray, np.ndarray], k: int) -> tuple[np.ndarray, np.ndarray]:
    """FS: at most ``k`` non-zeros per output channel, chosen greedily among the m×m×C inputs."""
    x, y = rows
    lm = forward_selection(x.astype(np.float64), y.astype(np.float64), k)
    return lm.dense(x.shape[1]), lm.bias


def train_map(
    model: TappedStages,
    tap: str,
    objective: str,
    init: tuple[np.ndarray, np.ndarray],
    m: int,
    fit: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    val: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    mask: np.ndarray | None,
    cfg: MapsConfig,
) -> tuple[np.ndarray, np.ndarray, int]:
    """F trained from ``init`` = (A, b) on ``fit`` = (Pφ(g·x), φ(x), labels) by Adam, the network frozen in
    eval mode; ``objective`` ``"task"`` (cross-entropy of ψ(F h)) or ``"relu"`` (ReLU-OPT: L2 after the ReLU
    on the valid sites). Returns the (A, b) of the epoch (0 = ``init``) with the lowest validation loss."""
    if objective not in ("task", "relu"):
        raise ValueError(f"unknown objective {objective!r}; objectives: ['relu', 'task']")
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    a0, b0 = init
    weight = torch.tensor(a0, dtype=torch.float32).requires_grad_(True)
    bias = torch.tensor(b0, dtype=torch.float32).requires_grad_(True)
    w = torch.ones(()) if mask is None else torch.from_numpy(mask.astype(np.float32))

    def loss(h: torch.Tensor, tgt: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        out = apply_map(h, weight, bias, m)
        if objective == "task":
            return F.cross_entropy(model.forward_from(tap, out), y)
        return (((F.relu(out) - F.relu(tgt)) ** 2) * w).sum() / ((F.relu(tgt) ** 2) * w).sum().clamp_min(1e-30)

    def val_loss() -> float:
        with torch.no_grad():
            return float(loss(*val))

    opt = torch.optim.Adam([weight, bias], lr=cfg.train_lr)
    gen = torch.Generator().manual_seed(cfg.seed)
    best = (val_loss(), 0, weight.detach().clone(), bias.detach().clone())
    for epoch in range(1, cfg.train_epochs + 1):
        for idx in torch.randperm(len(fit[0]), generator=gen).split(cfg.train_batch_size):
            opt.zero_grad(set_to_none=True)
            loss(*(t[idx] for t in fit)).backward()
            opt.step()
        v = val_loss()
        if v < best[0]:
            best = (v, epoch, weight.detach().clone(), bias.detach().clone())
    return best[2].numpy().astype(np.float64), best[3].numpy().astype(np.float64), best[1]


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
    model: TappedStages,
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


def probe_net(model: TappedStages, fit: Split, val: Split, test: Split, cfg: MapsConfig) -> tuple[list[dict], list[dict]]:
    """All maps of one network: (map rows, invariant-channel rows). ``fit`` is cut to ``cfg.fit_images``
    images spread over its classes (:func:`eqlab.probes.subsets.spread`); the taps are those of ``cfg.layers``
the net has."""
    rng, extra = np.random.default_rng(cfg.seed), np.random.default_rng([cfg.seed, 1])
    fit = Split(*spread(fit.x, fit.y, cfg.fit_images))
    splits = {"fit": fit, "val": val, "test": test}
    layers = [t for t in cfg.layers if t in model.taps]  # a ResNet has no FC taps
    phi = {s: all_taps(model, d.x, layers) for s, d in splits.items()}
    base = wrong(model, layers[0], phi["test"][layers[0]], test.y)
    lo, hi = binary_bootstrap_ci(base, cfg.n_boot, rng)
    rows = [dict(layer="", transform="identity", method="original", m=0, lam=np.nan, top1_error=float(base.mean()),
                 ci_low=lo, ci_high=hi, residual_l2=0.0, residual_relu=0.0)]  # fmt: skip
    inv: list[dict] = []
    for tname in cfg.transforms:
        g = get_transform(tname)
        moved_all = {s: all_taps(model, g.apply(d.x), layers) for s, d in splits.items()}
        for tap in layers:
            target = {s: phi[s][tap] for s in splits}
            moved = {s: moved_all[s][tap] for s in splits}
            r, i = _tap_maps(model, tap, g, target, moved, {s: d.y for s, d in splits.items()}, cfg, rng, extra)
            rows += r
            inv += i
    return rows, inv


def _tap_maps(
    model: TappedStages, tap: str, g: Transform, phi: dict[str, torch.Tensor], moved: dict[str, torch.Tensor],
    labels: dict[str, torch.Tensor], cfg: MapsConfig, rng: np.random.Generator, extra: np.random.Generator,
) -> tuple[list[dict], list[dict]]:
    """Rows of one (tap, g): uncompensated, P_g only, M_g per m (and the other solvers and objectives for
    ``cfg.solvers_for``, their bootstrap drawn from ``extra`` so they leave the ridge rows' draws as they
    were); the invariant count for Table 3's g."""
    p = spatial_part(model, g, tap, tuple(phi["test"].shape[-2:])) if phi["test"].dim() == 4 else None
    mask = None if p is None else p.valid_mask(*phi["test"].shape[-2:]).numpy()
    aligned = {s: align(p, h) for s, h in moved.items()}
    cands: list[tuple[str, int, float, torch.Tensor]] = [("none", 0, np.nan, moved["test"])]
    if p is not None:
        cands.append(("p_only", 0, np.nan, aligned["test"]))
    a1 = b1 = None
    ms = cfg.ms if p is not None else (1,)
    fit_rows, ridge = {}, {}
    for m in ms:
        fit_rows[m] = sampled_rows(aligned["fit"], phi["fit"], m, mask, cfg.max_rows, rng)
        a, b, lam = fit_map(fit_rows[m], (aligned["val"], phi["val"]), m, mask, cfg)
        cands.append((f"ridge_m{m}", m, lam, apply_map(aligned["test"], a, b, m)))
        ridge[m] = (a, b)
        if m == 1:
            a1, b1 = a, b
    rows = [_score(model, tap, g, *c, phi["test"], labels["test"], mask, cfg, rng) for c in cands]
    if g.name in cfg.solvers_for:
        m = max(ms)
        fits = {"ls": (*fit_ls(fit_rows[m]), np.nan), "fs": (*fit_fs(fit_rows[m], cfg.fs_k), np.nan)}
        for objective, name in (("relu", "reluopt"), ("task", "task")):
            a, b, epoch = train_map(model, tap, objective, ridge[m], m, (aligned["fit"], phi["fit"], labels["fit"]),
                                    (aligned["val"], phi["val"], labels["val"]), mask, cfg)
            fits[name] = (a, b, float(epoch))
        for name, (a, b, extra_value) in fits.items():
            row = _score(model, tap, g, f"{name}_m{m}", m, np.nan, apply_map(aligned["test"], a, b, m), phi["test"],
                         labels["test"], mask, cfg, extra)
            rows.append({**row, "k": cfg.fs_k if name == "fs" else np.nan,
                         "epoch": extra_value if name in ("reluopt", "task") else np.nan})
    inv = []
    if p is not None and g.name in cfg.invariant_transforms and a1 is not None:
        count, err_full, err_at = invariant_count(model, tap, a1, b1, aligned["val"], labels["val"], cfg)
        inv.append(dict(layer=tap, transform=g.name, channels=len(a1), invariant=count, val_error_full=err_full,
                        val_error_at_count=err_at, grid_shift=p.name if p.name != g.name else ""))  # fmt: skip
    return rows, inv


def _score(
    model: TappedStages, tap: str, g: Transform, method: str, m: int, lam: float, h: torch.Tensor, target: torch.Tensor,
    y: torch.Tensor, mask: np.ndarray | None, cfg: MapsConfig, rng: np.random.Generator,
) -> dict:
    """One table row: the hybrid's test top-1 error with its bootstrap interval, L2 before and after the ReLU."""
    w, res_l2, res_relu = scored(model, tap, h, target, y, mask)
    lo, hi = binary_bootstrap_ci(w, cfg.n_boot, rng)
    return dict(layer=tap, transform=g.name, method=method, m=m, lam=lam, top1_error=float(w.mean()), ci_low=lo,
                ci_high=hi, residual_l2=res_l2, residual_relu=res_relu)
