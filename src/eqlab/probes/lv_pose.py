"""Lenc & Vedaldi's structured-output pose regression (IJCV Sec. 5.4, Table 4), on embedded digits.

The task: an upright picture u is shown rotated, x = R_θ·u, and the pose θ must be recovered (the paper:
cat heads of VOC07). Ours: single embedded MNIST digits of the classes ``digits``, by default the digits
whose half-turn is no digit (not 0, 1, 8, which it maps to themselves, nor 6 and 9, which it swaps), so
every picture has one upright pose. Candidate corrections are the rotations c_k = R_{−kδ} (δ = ``step``
degrees, k = 0…360/δ − 1); a linear scorer picks ``k̂ = argmax_k s_k(x)`` and predicts θ̂ = kδ:

* **direct** ``s_k = ⟨w, φ(c_k·x)⟩``: one feature extraction per candidate;
* **equivariant** ``s_k = ⟨w, M_k φ(x)⟩ = ⟨M_kᵀw, φ(x)⟩ + ⟨w, b_k⟩``: φ(x) once; M_kᵀw (the adjoint, by a
  vector-Jacobian product of the affine map) is computed once per candidate, before any test picture.

M_k predicts φ(c_k·x) from φ(x). As in the paper it is learned from *generic* pictures with no object of
the task: crops of the natural pictures the nets were trained on (``lv_data``), no digit among them. On a
conv tap M_k = F_k ∘ P_k, P_k the rotation on the tap's grid (:func:`eqlab.probes.lv_equivariance.spatial_part`)
and F_k an m×m ridge filter bank (the paper: FS, k = 5, m = 3); on HOG (position-specific in the paper) a
dense ridge map of the whole descriptor. λ is chosen on generic validation pictures.

Pictures are masked to their inscribed disk (outside: the mean grey) before and after every rotation, so
no corner tells the angle. Poses: **rot** θ ~ U(±``upright_range``) (the paper's mostly upright cat heads),
**rot360** θ ~ U(0°, 360°) (its "Rot⟳"). Error: the angular distance |θ̂ − θ| in degrees.

The scorer w minimises the softmax-margin structured loss (a smooth surrogate of the structured SVM's
margin-rescaled hinge; the paper: a structured SVM) ``logsumexp_k(Δ_ik + s_ik) − s_i,k*ᵢ + λ‖w‖²/2`` with
Δ the angular distance / 90°; λ on the validation digits. Costs are counted multiply-adds per candidate
(hashed outputs carry no time): rotation + forward pass (g); a dot product + forward pass / candidates (Mg).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from eqlab.features.hog import HogGeometry, hog
from eqlab.groups import get_transform
from eqlab.groups.actions import circular_mask, rotate
from eqlab.models.lv_nets import TappedStages
from eqlab.models.lv_train import to_input
from eqlab.params import PROFILES, ParamError, build, profile_of, section
from eqlab.probes.lv_equivariance import (
    align,
    all_taps,
    apply_map,
    bootstrap_ci,
    masked_residual,
    sampled_rows,
    spatial_part,
)
from eqlab.probes.ridge import ridge_path

VARIANTS = ("rot", "rot360")
SECTION = "lenc_vedaldi_pose"


@dataclass(frozen=True)
class PoseConfig:
    """params section ``lenc_vedaldi_pose`` (sizes from its ``<profile>`` block: :func:`config_from_params`)."""

    nets: tuple[str, ...] = ("anet_s0", "anet_s1", "anet_s2")
    layers: tuple[str, ...] = ("conv3", "conv4", "conv5")
    digits: tuple[int, ...] = (2, 3, 4, 5, 7)
    n_train: int = field(default=300, metadata={"min": 1})
    n_val: int = field(default=100, metadata={"min": 1})
    n_test: int = field(default=300, metadata={"min": 1})
    step: int = field(default=10, metadata={"min": 1, "max": 180})
    upright_range: float = field(default=45.0, metadata={"min": 0.0, "max": 180.0})
    hog: bool = True
    cell_size: int = field(default=8, metadata={"min": 2})
    orientations: int = field(default=9, metadata={"min": 2})
    m: int = field(default=3, metadata={"min": 1})
    fit_images: int = field(default=300, metadata={"min": 1})
    val_images: int = field(default=100, metadata={"min": 1})
    max_rows: int = field(default=20000, metadata={"min": 100})
    lams: tuple[float, ...] = (1e-3, 1e-2, 1e-1, 1.0)
    svm_lams: tuple[float, ...] = (1e-4, 1e-2)
    svm_iters: int = field(default=50, metadata={"min": 1})
    n_boot: int = field(default=1000, metadata={"min": 10})
    seed: int = 0

    def __post_init__(self) -> None:
        if 360 % self.step:
            raise ValueError(f"step must divide 360, got {self.step}")
        if bad := sorted(set(self.digits) - set(range(10))):
            raise ValueError(f"digits must be in 0…9, got {bad}")
        if self.m % 2 == 0:
            raise ValueError(f"m must be odd (a centred m×m neighbourhood), got {self.m}")

    @property
    def angles(self) -> np.ndarray:
        """The candidate poses kδ in degrees."""
        return np.arange(0, 360, self.step, dtype=np.float64)


def config_from_params(params: dict) -> PoseConfig:
    """Section ``lenc_vedaldi_pose``: its shared keys with its ``<profile>`` block's sizes (errors name the key)."""
    s, profile = dict(section(params, SECTION)), profile_of(params)
    shared = {k: v for k, v in s.items() if k not in PROFILES}
    try:
        return build(PoseConfig, {**shared, **section(params, f"{SECTION}.{profile}")}, SECTION)
    except ParamError:
        raise
    except ValueError as e:  # PoseConfig's own checks (step divides 360, odd m, digits 0…9)
        raise ParamError(f"{SECTION}: {e}") from e


@dataclass(frozen=True)
class PoseData:
    """uint8 ``(N, 3, 32, 32)`` pictures: the upright digits of the pose task (``train``, ``val``, ``test``) and
    the generic pictures the maps are fitted on (``fit``, ``gval``: natural crops, no digit among them)."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    fit: np.ndarray
    gval: np.ndarray


def digit_pictures(images: np.ndarray) -> np.ndarray:
    """(N, 28, 28) grey digits → (N, 3, 32, 32): centred on a 32 px canvas, the grey copied to three channels."""
    out = np.zeros((len(images), 3, 32, 32), np.uint8)
    out[:, :, 2:30, 2:30] = images[:, None]
    return out


def load_pose_data(digits: tuple[np.ndarray, np.ndarray], generic_dir: str | Path, cfg: PoseConfig) -> PoseData:
    """Disjoint seeded draws of the ``cfg.digits`` digits from ``digits`` (images, labels); the generic
    pictures from ``lv_data``'s train and validation splits (``generic_dir``), seeded draws."""
    images, labels = digits
    idx = np.flatnonzero(np.isin(labels, cfg.digits))
    need = cfg.n_train + cfg.n_val + cfg.n_test
    if len(idx) < need:
        raise ValueError(f"lenc_vedaldi_pose: {need} digits asked (n_train + n_val + n_test), "
                         f"{len(idx)} of digits {list(cfg.digits)} exist")
    rng = np.random.default_rng(cfg.seed)
    idx = rng.permutation(idx)
    cut = np.cumsum([cfg.n_train, cfg.n_val, cfg.n_test])
    parts = [digit_pictures(images[np.sort(i)]) for i in np.split(idx[: cut[-1]], cut[:-1])]
    with np.load(Path(generic_dir) / "images.npz") as z:
        gen = [z[f"{s}_images"] for s in ("train", "val")]
    pick = [np.sort(rng.choice(len(g), min(n, len(g)), replace=False)) for g, n in zip(gen, (cfg.fit_images, cfg.val_images))]
    return PoseData(*parts, gen[0][pick[0]], gen[1][pick[1]])


def draw_poses(n: int, variant: str, cfg: PoseConfig, rng: np.random.Generator) -> np.ndarray:
    """θ in degrees per sample: U(−r, r) for ``rot``, U(0, 360) for ``rot360``."""
    if variant == "rot":
        return rng.uniform(-cfg.upright_range, cfg.upright_range, n)
    if variant == "rot360":
        return rng.uniform(0.0, 360.0, n)
    raise ValueError(f"pose variant must be one of {list(VARIANTS)}, got {variant!r}")


def disk(x: torch.Tensor) -> torch.Tensor:
    """Zero (the mean grey in input space) outside the inscribed disk."""
    return x * circular_mask(*x.shape[-2:]).to(x.dtype)


def rotated(x: torch.Tensor, degrees: float | np.ndarray) -> torch.Tensor:
    """Counter-clockwise rotation by ``degrees`` (one, or one per image), bilinear, then the disk mask."""
    return disk(rotate(x, torch.as_tensor(np.radians(degrees), dtype=torch.float64).float()))


def angular_error(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    """|pred − true| on the circle, in degrees (0…180)."""
    d = np.mod(np.asarray(pred, np.float64) - np.asarray(true, np.float64), 360.0)
    return np.minimum(d, 360.0 - d)


# --- features and the maps M_k -----------------------------------------------------------------------------


Feature = Callable[[torch.Tensor], dict[str, torch.Tensor]]  # input (N, 3, H, W) → {layer: φ (N, ...)}


def net_feature(model: TappedStages, taps: tuple[str, ...], batch: int = 512) -> Feature:
    """φ = the net's (pre-ReLU) outputs at ``taps``, from one forward pass (eval mode, no gradients)."""

    def phi(x: torch.Tensor) -> dict[str, torch.Tensor]:
        return all_taps(model, x, taps, batch)

    return phi


def hog_feature(geometry: HogGeometry) -> Feature:
    """φ = {"hog": the HOG of the grey image (the mean of the three channels, back in 0…255), flattened}."""

    def phi(x: torch.Tensor) -> dict[str, torch.Tensor]:
        grey = (x.double().mean(1) * 64.0 + 128.0).numpy()
        return {"hog": torch.from_numpy(hog(grey, geometry).reshape(len(x), -1)).float()}

    return phi


@dataclass(frozen=True)
class PoseMap:
    """M_k: φ(x) ↦ F(P φ(x)) + b; ``p`` None and ``m`` 0 for a dense map of the flattened descriptor."""

    p: object | None
    a: np.ndarray
    b: np.ndarray
    m: int
    lam: float
    residual: float  # relative L2 error on the generic validation pictures

    def __call__(self, h: torch.Tensor) -> torch.Tensor:
        if self.m == 0:
            return apply_map(h, self.a, self.b, 1)
        return apply_map(align(self.p, h), self.a, self.b, self.m)

    def adjoint(self, w: torch.Tensor) -> tuple[torch.Tensor, float]:
        """(M_kᵀw, ⟨w, b_k⟩) so that ⟨w, M_k h⟩ = ⟨M_kᵀw, h⟩ + ⟨w, b_k⟩ for every h: a vector-Jacobian
        product of the affine map at h = 0 (whose value there is b_k's contribution)."""
        h = torch.zeros((1, *w.shape), requires_grad=True)
        out = (self(h)[0] * w).sum()
        (v,) = torch.autograd.grad(out, h)
        return v[0].detach(), float(out.detach())


def fit_pose_maps(
    phi: Feature,
    angle: float,
    generic: dict[str, torch.Tensor],
    src: dict[str, dict[str, torch.Tensor]],
    model: TappedStages | None,
    cfg: PoseConfig,
    rng: np.random.Generator,
) -> dict[str, PoseMap]:
    """M_k per layer for the correction by −``angle``°, fitted on (φ(x), φ(c_k·x)) of the generic pictures
    ``generic`` (``fit`` and ``val`` inputs; ``src`` their features φ(x))."""
    g = get_transform(f"rot{angle:g}")  # the probe's convention: M φ(g·z) ≈ φ(z), here z = c_k·x and g·z = x
    tgt = {s: phi(rotated(d, -angle)) for s, d in generic.items()}
    out = {}
    for layer, h in src["fit"].items():
        if model is None or h.dim() == 2:
            rows, m, p = (h.flatten(1).numpy(), tgt["fit"][layer].flatten(1).numpy()), 0, None
        else:
            p = spatial_part(model, g, layer, tuple(h.shape[-2:]))
            mask = p.valid_mask(*h.shape[-2:]).numpy()
            rows, m = sampled_rows(align(p, h), tgt["fit"][layer], cfg.m, mask, cfg.max_rows, rng), cfg.m
        best = None
        for lam, (a, b) in zip(cfg.lams, ridge_path(*rows, cfg.lams)):
            cand = PoseMap(p, a, b, m, float(lam), math.nan)
            res = masked_residual(cand(src["val"][layer]), tgt["val"][layer], None)
            if best is None or res < best.residual:
                best = PoseMap(p, a, b, m, float(lam), res)
        out[layer] = best
    return out


# --- the structured scorer -----------------------------------------------------------------------------------


def train_scorer(
    feats: torch.Tensor, truth: np.ndarray, angles: np.ndarray, lam: float, cfg: PoseConfig
) -> torch.Tensor:
    """w minimising the softmax-margin loss over candidate features ``feats`` (N, K, D) with true poses
    ``truth`` (degrees): convex and smooth, solved by L-BFGS from zero (``svm_iters`` iterations)."""
    f = feats.float()
    dist = angular_error(angles[None], truth[:, None])
    k_true, delta = torch.from_numpy(np.argmin(dist, 1)), torch.from_numpy(dist / 90.0).float()
    w = torch.zeros(f.shape[-1], requires_grad=True)
    opt = torch.optim.LBFGS([w], lr=1.0, max_iter=cfg.svm_iters, line_search_fn="strong_wolfe")
    rows = torch.arange(len(f))

    def closure() -> torch.Tensor:
        opt.zero_grad()
        s = f @ w
        loss = (torch.logsumexp(delta + s, 1) - s[rows, k_true]).mean() + 0.5 * lam * (w @ w)
        loss.backward()
        return loss

    opt.step(closure)
    return w.detach().float()


def predict(scores: torch.Tensor, angles: np.ndarray) -> np.ndarray:
    return angles[scores.argmax(1).numpy()]  # θ̂: the candidate with the highest score (the first on ties)


def fit_scorer(
    train: tuple[torch.Tensor, np.ndarray], val: tuple[torch.Tensor, np.ndarray], cfg: PoseConfig
) -> tuple[torch.Tensor, float]:
    """w for the λ of ``svm_lams`` with the lowest mean validation error, and that λ."""
    angles, scale = cfg.angles, train[0].double().pow(2).mean().sqrt().clamp_min(1e-12).float()
    best: tuple[float, torch.Tensor, float] | None = None
    for lam in cfg.svm_lams:
        w = train_scorer(train[0] / scale, train[1], angles, float(lam), cfg) / scale
        err = float(angular_error(predict(val[0] @ w, angles), val[1]).mean())
        if best is None or err < best[0]:
            best = (err, w, float(lam))
    return best[1], best[2]


def candidates(phi: Feature, x: torch.Tensor, angles: np.ndarray, plain: dict | None = None) -> dict[str, torch.Tensor]:
    """Direct features per layer (N, K, D): φ(c_k·x) for each c_k = R_{−kδ} (``plain``: φ(x), if computed)."""
    per = [(plain or phi(x)) if a == 0 else phi(rotated(x, -a)) for a in angles]
    return {layer: torch.stack([p[layer].flatten(1) for p in per], 1) for layer in per[0]}


def mapped(maps: list[PoseMap | None], h: torch.Tensor) -> torch.Tensor:
    """Equivariant features (N, K, D): M_k φ(x) (k = 0: φ(x) itself)."""
    return torch.stack([(h if mk is None else mk(h)).flatten(1) for mk in maps], 1)


def equivariant_scores(maps: list[PoseMap | None], w: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """(N, K) scores ⟨M_kᵀw, φ(x)⟩ + ⟨w, b_k⟩: the adjoints are computed once, then one product per image."""
    shaped = w.view(h.shape[1:])
    adj = [(shaped, 0.0) if mk is None else mk.adjoint(shaped) for mk in maps]
    v = torch.stack([a.flatten() for a, _ in adj])
    return h.flatten(1) @ v.T + torch.tensor([c for _, c in adj])


def macs(model: TappedStages, tap: str, shape: tuple[int, ...]) -> int:
    """Multiply-adds of one image's forward pass to ``tap`` (convs and linear layers), counted by forward hooks."""
    total = [0]

    def hook(mod: nn.Module, _inp, out: torch.Tensor) -> None:
        if isinstance(mod, nn.Conv2d):
            total[0] += out[0].numel() * (mod.in_channels // mod.groups) * math.prod(mod.kernel_size)
        elif isinstance(mod, nn.Linear):
            total[0] += out[0].numel() * mod.in_features

    hooks = [mod.register_forward_hook(hook) for mod in model.modules() if isinstance(mod, nn.Conv2d | nn.Linear)]
    try:
        with torch.no_grad():
            model.forward_to(tap, torch.zeros((1, *shape)))
    finally:
        for h in hooks:
            h.remove()
    return total[0]


# --- the experiment ---------------------------------------------------------------------------------------------


def pose_sets(data: PoseData, cfg: PoseConfig) -> dict[str, dict[str, tuple[torch.Tensor, np.ndarray]]]:
    """Per variant and split: the posed inputs x = R_θ·u (disk-masked) and θ, one pose per picture; the same
    draws for every feature."""
    out: dict[str, dict[str, tuple[torch.Tensor, np.ndarray]]] = {}
    for i, variant in enumerate(VARIANTS):
        rng = np.random.default_rng([cfg.seed, 10 + i])
        out[variant] = {}
        for split, pics in (("train", data.train), ("val", data.val), ("test", data.test)):
            u = disk(to_input(pics))
            theta = draw_poses(len(u), variant, cfg, rng)
            out[variant][split] = (rotated(u, theta), theta)
    return out


def _row(
    variant: str, layer: str, method: str, err: np.ndarray, cfg: PoseConfig, rng: np.random.Generator, **extra
) -> dict:
    lo, hi = bootstrap_ci(err, cfg.n_boot, rng)
    return dict(variant=variant, layer=layer, method=method, mean_error=float(err.mean()),
                median_error=float(np.median(err)), ci_low=lo, ci_high=hi, n_test=len(err), **extra)


def probe_pose(
    phi: Feature,
    model: TappedStages | None,
    sets: dict,
    data: PoseData,
    cfg: PoseConfig,
    forward_macs: dict[str, int] | None = None,
) -> list[dict]:
    """Table 4's rows for one representation: per variant, the upright baseline, then per layer the direct
    and the equivariant scorer (test angular errors in degrees, 95 % bootstrap interval over test poses,
    the validated λ, multiply-adds per candidate where ``forward_macs`` gives the forward pass's)."""
    angles, k = cfg.angles, len(cfg.angles)
    rng, boot = np.random.default_rng([cfg.seed, 2]), np.random.default_rng([cfg.seed, 3])
    generic = {"fit": disk(to_input(data.fit)), "val": disk(to_input(data.gval))}
    src = {s: phi(x) for s, x in generic.items()}
    per_angle = [fit_pose_maps(phi, a, generic, src, model, cfg, rng) for a in angles[1:]]
    rows = []
    for variant, parts in sets.items():
        theta = {s: t for s, (_, t) in parts.items()}
        rows.append(_row(variant, "", "baseline", angular_error(np.zeros_like(theta["test"]), theta["test"]), cfg, boot))
        plain = {s: phi(x) for s, (x, _) in parts.items()}
        direct = {s: candidates(phi, x, angles, plain[s]) for s, (x, _) in parts.items()}
        for layer in per_angle[0]:
            maps = [None, *(pm[layer] for pm in per_angle)]
            d = plain["test"][layer][0].numel()
            fwd = (forward_macs or {}).get(layer)
            w, lam = fit_scorer(*((direct[s][layer], theta[s]) for s in ("train", "val")), cfg)
            err = angular_error(predict(direct["test"][layer] @ w, angles), theta["test"])
            warp = 4 * parts["test"][0][0].numel()  # the bilinear rotation: 4 multiply-adds per input value
            rows.append(_row(variant, layer, "direct", err, cfg, boot, lam=lam, dim=d, map_residual=math.nan,
                             macs_per_candidate=math.nan if fwd is None else float(fwd + warp)))
            w, lam = fit_scorer(*((mapped(maps, plain[s][layer]), theta[s]) for s in ("train", "val")), cfg)
            err = angular_error(predict(equivariant_scores(maps, w, plain["test"][layer]), angles), theta["test"])
            rows.append(_row(variant, layer, "equivariant", err, cfg, boot, lam=lam, dim=d,
                             map_residual=float(np.mean([mk.residual for mk in maps[1:]])),
                             macs_per_candidate=math.nan if fwd is None else d + fwd / k))
    return rows
