"""Jansson et al.: can a spatial warp of CNN feature maps align them? (``shared/PAPERS.md``, section 003).

Λ⁽ⁱ⁾ is a stack of ``i`` convolutions (stride 1, odd kernels, 'same' zero padding, a bias) each
followed by a pointwise nonlinearity σ: ``Λ⁽ⁱ⁾f = σ(w_i ⋆ Λ⁽ⁱ⁻¹⁾f + b_i)``, ``Λ⁽⁰⁾f = f``. Group
actions are eqlab's (:mod:`eqlab.groups`): ``(T_h f)(x) = f(T_h⁻¹x)`` on images, applied channel by
channel to feature maps (no channel mixing), so a warp of a feature map is ``get_transform(name).apply``.

The paper's result: ``T_g Λ T_h f = Λ f`` for every f only if ``T_g = T_h⁻¹`` (Lemmas 4.2, 5.10) and the
features are already invariant to T_h (Lemma 5.8); when some eigenvalue of A_h has modulus ≠ 1 (scalings,
Prop. 5.12) or A_h is a shear (Jordan block, Prop. 5.13) no non-constant network has such features; for
rotations and reflections it takes symmetric features; translations always align. Numerically, per depth i and per
image f (norms over channels and the pixels of an interior crop, see :func:`crop_half_width`):

* ``aligned``   ``R = ‖T_h⁻¹ Λ⁽ⁱ⁾ T_h f − Λ⁽ⁱ⁾ f‖ / ‖Λ⁽ⁱ⁾ f − Λ⁽ⁱ⁾ 0‖`` (the only candidate warp T_g = T_h⁻¹);
* ``unaligned`` the same with ``T_g = identity``;
* ``input``     the input-alignment baseline ``‖Λ⁽ⁱ⁾ T_h⁻¹ T_h f − Λ⁽ⁱ⁾ f‖ / ‖Λ⁽ⁱ⁾ f − Λ⁽ⁱ⁾ 0‖``: the image is
  warped back *before* the network (a spatial transformer at depth 0). Our reading: for exact h it is 0;
  otherwise it is what the two interpolations of the round trip cost, the floor any aligned residual
  is compared with ("well above the baseline" means a ratio, :data:`WELL_ABOVE` in the claims);
* ``warp_sweep`` the aligned residual with other candidate warps T_g near T_h⁻¹ (scalings for a
  scaling, shears for a shear): none reaches the baseline;
* ``gcnn`` a C4 group convolution network (regular fields, :func:`c4_lift`, :func:`c4_group`): rot90
  aligns only with the channel permutation ρ(h⁻¹) of the regular representation — outside the theorem,
  which allows spatial warps only;
* ``lemma41`` Lemma 4.1 on one linear layer: ``T_h⁻¹ Λ_λ T_h f = Λ_{λ_h} f`` with
  ``λ_h(u) = |det A_h| λ(A_h u)`` (the paper writes det; |det| is what the change of variables gives
  for reflections), λ an analytic filter sampled on the grid (:func:`lemma_filter`).

Filter families (``FAMILIES``): ``random`` (i.i.d. normal), ``c4`` (random, averaged over the four
quarter turns: λ(R u) = λ(u)), ``isotropic`` (random mixtures of radial Gaussians: D4-symmetric on the
grid, only approximately rotation-invariant off it) and ``delta`` (1×1 filters padded with zeros: a
pointwise network, which commutes with every warp — the paper's loophole, kept as a labelled control).
Every non-delta filter must spread: its energy's RMS radius ``sqrt(Σ|u|² λ(u)² / Σ λ(u)²)`` is at least
``min_spread`` pixels (:func:`spatial_spread`), so no claim family can fake alignment through the loophole.

Images are smooth random fields (white noise blurred with a Gaussian of σ = ``blur`` px) inside a
radial Hann window of radius :func:`content_radius`, exactly zero outside, so every transformed image
fits on the canvas and shifts are exact.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import pandas as pd
import torch
import torch.nn.functional as F

from eqlab.groups import geometry as af
from eqlab.groups import rot90
from eqlab.groups.transforms import Transform, from_affine, get_transform
from eqlab.probes.profiled import profiled_config

Family = Literal["random", "c4", "isotropic", "delta"]
FAMILIES: tuple[str, ...] = ("random", "c4", "isotropic", "delta")
NONLINEARITIES = {"relu": torch.relu, "tanh": torch.tanh}
COLUMNS = ("check", "family", "transform", "kind", "warp", "warp_offset", "depth", "residual", "residual_max",
           "residual_std", "n_images", "crop")  # fmt: skip
ISOTROPIC_SIGMAS = (1.0, 1.6, 2.4)  # radial Gaussians (px) the isotropic filters mix
C4 = tuple(get_transform(n) for n in ("identity", "rot90", "rot180", "rot270"))
Network = tuple[tuple[torch.Tensor, torch.Tensor], ...]  # ((weight (out, in, k, k), bias (out,)), …)


@dataclass(frozen=True)
class AlignmentConfig:
    """The checks' sizes; the defaults run in a few seconds on 2 cores."""

    size: int = field(default=64, metadata={"min": 16})
    channels: int = field(default=8, metadata={"min": 1})
    depth: int = field(default=4, metadata={"min": 1})
    n_images: int = field(default=8, metadata={"min": 1})
    kernel: int = field(default=5, metadata={"min": 3})
    families: tuple[Family, ...] = FAMILIES  # type: ignore[assignment]
    transforms: tuple[str, ...] = ("shift3,-2", "rot90", "rot45", "hflip", "scale2", "scale1.25", "scale0.5",
                                   "shear0.5")  # fmt: skip
    nonlinearity: Literal["relu", "tanh"] = "relu"
    blur: float = field(default=1.5, metadata={"min": 0.5})
    bias_scale: float = field(default=0.1, metadata={"min": 0.0})
    min_spread: float = field(default=0.75, metadata={"min": 0.0})
    sweep_offsets: tuple[float, ...] = (-0.5, -0.25, -0.1, 0.0, 0.1, 0.25, 0.5)
    lemma_sigma: float = field(default=1.5, metadata={"min": 0.5})
    trained_runs: tuple[str, ...] = ()  # runs of train.models whose first layers are the trained families
    seed: int = 0

    def __post_init__(self) -> None:
        if self.kernel % 2 == 0:
            raise ValueError(f"kernel={self.kernel} must be odd ('same' padding is exact only for odd kernels)")
        if bad := sorted(set(self.families) - set(FAMILIES)):
            raise ValueError(f"families {bad} unknown; allowed values: {list(FAMILIES)}")
        for i, name in enumerate(self.transforms):
            try:
                get_transform(name)
            except ValueError as e:
                raise ValueError(f"transforms[{i}]: {e}") from e
        if 0.0 not in self.sweep_offsets:
            raise ValueError(f"sweep_offsets {list(self.sweep_offsets)} must contain 0 (the candidate T_h⁻¹)")
        if crop_half_width(self, depth=1, kernel=lemma_kernel(self)) < 2:
            raise ValueError(f"size={self.size} leaves no interior crop for the Lemma 4.1 filter of lemma_sigma="
                             f"{self.lemma_sigma:g} ({lemma_kernel(self)} px); lower lemma_sigma or raise size")  # fmt: skip
        if crop_half_width(self) < 2:
            raise ValueError(
                f"size={self.size} leaves no interior crop for depth={self.depth}, kernel={self.kernel} "
                f"and the largest transform (stretch {stretch(self.transforms):g}); raise size"
            )


@dataclass(frozen=True)
class AlignmentSizes:
    """What a profile sets: canvas side, channels per layer, depth of the stack, images."""

    size: int = field(metadata={"min": 16})
    channels: int = field(metadata={"min": 1})
    depth: int = field(metadata={"min": 1})
    n_images: int = field(metadata={"min": 1})


def config_from_params(params: dict[str, Any], key: str = "probe_alignment") -> AlignmentConfig:
    """:class:`AlignmentConfig` from params section ``key`` and its profile's :class:`AlignmentSizes`."""
    return profiled_config(params, key, AlignmentConfig, AlignmentSizes)


# ---------------------------------------------------------------------------------------------- geometry


def _norm2(a: float, b: float, c: float, d: float) -> float:
    """Operator 2-norm of ``[[a, b], [c, d]]``."""
    return float(torch.linalg.matrix_norm(torch.tensor([[a, b], [c, d]], dtype=torch.float64), ord=2))


def stretch(names: tuple[str, ...]) -> float:
    """``max_h max(‖A_h‖, ‖A_h⁻¹‖)`` plus nothing for translations: how far any T_h or T_h⁻¹ moves a point
    relative to its distance from the centre (≥ 1)."""
    out = 1.0
    for name in names:
        m = get_transform(name).matrix
        out = max(out, _norm2(*m[:4]), _norm2(*af.invert(m)[:4]))
    return out


def max_translation(names: tuple[str, ...]) -> float:
    """The largest ``‖t_h‖∞`` among the transforms (shifts)."""
    return max([0.0, *(max(abs(v) for v in get_transform(n).matrix[4:]) for n in names)])


def content_radius(cfg: AlignmentConfig) -> float:
    """Radius of the images' window: ``(size/2 − 2 − max|t|) / stretch``, so T_h f stays on the canvas."""
    return (cfg.size / 2 - 2 - max_translation(cfg.transforms)) / stretch(cfg.transforms)


def crop_half_width(cfg: AlignmentConfig, depth: int | None = None, kernel: int | None = None,
                    reach: int | None = None) -> int:  # fmt: skip
    """c such that the central ``2c × 2c`` crop is interior: the samples T_h⁻¹ takes there (at distance ≤
    stretch·c + |t| from the centre) stay ``reach + 2`` pixels away from the canvas edge, where zero padding
    makes Λ0 non-constant; ``reach`` = Σ kernel//2 over the layers (default ``depth·(kernel//2)``)."""
    d, k = cfg.depth if depth is None else depth, cfg.kernel if kernel is None else kernel
    room = cfg.size / 2 - (d * (k // 2) if reach is None else reach) - 2 - max_translation(cfg.transforms)
    return int(math.floor(room / stretch(cfg.transforms)))


def crop(x: torch.Tensor, c: int) -> torch.Tensor:
    """The central ``2c × 2c`` pixels of ``(…, H, W)``."""
    h, w = x.shape[-2:]
    return x[..., h // 2 - c : h // 2 + c, w // 2 - c : w // 2 + c]


def offsets(k: int, dtype=torch.float64) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixel offsets ``(column, row)`` of a ``k × k`` kernel from its centre, each ``(k, k)``."""
    r = torch.arange(k, dtype=dtype) - k // 2
    return r.view(1, k).expand(k, k), r.view(k, 1).expand(k, k)


# ---------------------------------------------------------------------------------------------- images


def smooth_images(n: int, size: int, radius: float, blur: float, gen: torch.Generator) -> torch.Tensor:
    """``(n, 1, size, size)`` float64: white noise ⋆ Gaussian(σ = blur), unit variance, times the radial
    Hann window ``cos²(π r / 2R)`` for r < R = ``radius`` and exactly 0 beyond (r from the canvas centre)."""
    noise = torch.randn(n, 1, size, size, generator=gen, dtype=torch.float64)
    k = 2 * math.ceil(3 * blur) + 1
    g = torch.exp(-((torch.arange(k, dtype=torch.float64) - k // 2) ** 2) / (2 * blur**2))
    g = g / g.sum()
    x = F.conv2d(F.conv2d(noise, g.view(1, 1, 1, k), padding=(0, k // 2)), g.view(1, 1, k, 1), padding=(k // 2, 0))
    x = x / x.std()
    u = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    r = torch.sqrt(u.view(-1, 1) ** 2 + u.view(1, -1) ** 2)
    window = torch.where(r < radius, torch.cos(math.pi * r / (2 * radius)) ** 2, torch.zeros_like(r))
    return x * window


# ---------------------------------------------------------------------------------------------- filters


def spatial_spread(w: torch.Tensor) -> torch.Tensor:
    """RMS radius of each filter's energy, ``sqrt(Σ_u |u|² λ(u)² / Σ_u λ(u)²)``, for ``(out, in, k, k)``
    → ``(out, in)`` (0 for a δ filter; NaN for an all-zero one)."""
    cx, cy = offsets(w.shape[-1], w.dtype)
    e = w**2
    return torch.sqrt((e * (cx**2 + cy**2)).sum((-2, -1)) / e.sum((-2, -1)))


def c4_symmetrise(w: torch.Tensor) -> torch.Tensor:
    """``¼ Σ_r R^r λ``: every spatial filter averaged over the four quarter turns, so ``λ(R u) = λ(u)``."""
    return sum(rot90(w, r) for r in range(4)) / 4  # type: ignore[return-value]


def isotropic_filters(c_out: int, c_in: int, k: int, gen: torch.Generator) -> torch.Tensor:
    """``λ(u) = Σ_j a_j exp(−|u|² / 2σ_j²)`` over :data:`ISOTROPIC_SIGMAS`, ``a ~ N(0, 1)``: radial."""
    cx, cy = offsets(k)
    basis = torch.stack([torch.exp(-(cx**2 + cy**2) / (2 * s**2)) for s in ISOTROPIC_SIGMAS])
    a = torch.randn(c_out, c_in, len(ISOTROPIC_SIGMAS), generator=gen, dtype=torch.float64)
    return torch.einsum("oij,jhw->oihw", a, basis)


def filters(family: str, c_out: int, c_in: int, k: int, gen: torch.Generator) -> torch.Tensor:
    """One layer's ``(c_out, c_in, k, k)`` float64 filters of ``family``, unnormalised."""
    if family in ("random", "c4"):
        w = torch.randn(c_out, c_in, k, k, generator=gen, dtype=torch.float64)
        return c4_symmetrise(w) if family == "c4" else w
    if family == "isotropic":
        return isotropic_filters(c_out, c_in, k, gen)
    if family == "delta":
        w = torch.zeros(c_out, c_in, k, k, dtype=torch.float64)
        w[..., k // 2, k // 2] = torch.randn(c_out, c_in, generator=gen, dtype=torch.float64)
        return w
    raise ValueError(f"filter family {family!r}; allowed values: {list(FAMILIES)}")


def check_spread(w: torch.Tensor, min_spread: float, what: str) -> None:
    """The δ-loophole guard: ValueError when some filter's :func:`spatial_spread` is below ``min_spread``."""
    s = spatial_spread(w)
    if bool((s.nan_to_num(0.0) < min_spread).any()):
        raise ValueError(
            f"{what}: a filter spreads over {float(s.nan_to_num(0.0).min()):.3f} px < min_spread="
            f"{min_spread:g} (pointwise filters commute with every warp)"
        )


def _layer(w: torch.Tensor, bias_scale: float, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Filters scaled to ``‖w_o‖₂ = √2`` per output channel and a ``N(0, bias_scale²)`` bias."""
    w = w * (math.sqrt(2) / w.flatten(1).norm(dim=1).clamp_min(1e-12)).view(-1, 1, 1, 1)
    return w, bias_scale * torch.randn(w.shape[0], generator=gen, dtype=torch.float64)


def network(cfg: AlignmentConfig, family: str, gen: torch.Generator) -> Network:
    """Λ's layers for ``family`` (1 → channels → … → channels); non-delta filters pass :func:`check_spread`."""
    layers = []
    for i in range(cfg.depth):
        w = filters(family, cfg.channels, 1 if i == 0 else cfg.channels, cfg.kernel, gen)
        if family != "delta":
            check_spread(w, cfg.min_spread, f"family {family!r}, layer {i + 1}")
        layers.append(_layer(w, cfg.bias_scale, gen))
    return tuple(layers)


def forward(f: torch.Tensor, net: Network, nonlinearity: str) -> list[torch.Tensor]:
    """``[Λ⁽¹⁾f, …, Λ⁽ᴰ⁾f]``: conv (stride 1, 'same' zero padding) + bias, then σ, per layer."""
    sigma = NONLINEARITIES[nonlinearity]
    out, x = [], f
    for w, b in net:
        x = sigma(F.conv2d(x, w, b, padding=w.shape[-1] // 2))
        out.append(x)
    return out


# ---------------------------------------------------------------------------------------------- residuals


def relative(a: torch.Tensor, b: torch.Tensor, ref: torch.Tensor, zero: torch.Tensor, c: int) -> torch.Tensor:
    """Per image ``‖crop(a − b)‖ / ‖crop(ref − zero)‖``, norms over channels and pixels → ``(B,)``."""
    num = crop(a - b, c).flatten(1).norm(dim=1)
    return num / crop(ref - zero, c).flatten(1).norm(dim=1).clamp_min(1e-300)


def _row(check: str, family: str, h: str, kind: str, warp: str, offset: float, depth: int, r: torch.Tensor,
         c: int) -> dict[str, Any]:  # fmt: skip
    return dict(check=check, family=family, transform=h, kind=kind, warp=warp, warp_offset=offset, depth=depth,
                residual=float(r.mean()), residual_max=float(r.max()),
                residual_std=float(r.std()) if r.numel() > 1 else 0.0, n_images=int(r.numel()), crop=2 * c)  # fmt: skip


@dataclass(frozen=True)
class Features:
    """Λ⁽¹⁾…Λ⁽ᴰ⁾ of the images f, of 0, of T_h f and of T_h⁻¹T_h f (computed once, shared by the checks)."""

    ref: list[torch.Tensor]
    zero: list[torch.Tensor]
    moved: list[torch.Tensor]
    back: list[torch.Tensor]


def features(f: torch.Tensor, net: Network, nonlinearity: str, h: Transform,
             ref: list[torch.Tensor] | None = None, zero: list[torch.Tensor] | None = None) -> Features:  # fmt: skip
    """:class:`Features` for h (``ref`` and ``zero`` reused when given: they do not depend on h)."""
    return Features(
        ref=forward(f, net, nonlinearity) if ref is None else ref,
        zero=forward(torch.zeros_like(f), net, nonlinearity) if zero is None else zero,
        moved=forward(h.apply(f), net, nonlinearity),
        back=forward(h.inverse().apply(h.apply(f)), net, nonlinearity),
    )


def residual_rows(ft: Features, family: str, h: Transform, c: int) -> list[dict[str, Any]]:
    """Per depth: ``aligned`` (T_h⁻¹ after Λ), ``unaligned`` (identity) and ``input`` (T_h⁻¹ before Λ)."""
    hi = h.inverse()
    rows = []
    for i, (r, z, m, bk) in enumerate(zip(ft.ref, ft.zero, ft.moved, ft.back, strict=True), 1):
        for kind, warp, a in (("aligned", hi.name, hi.apply(m)), ("unaligned", "identity", m),
                              ("input", f"{hi.name} on the input", bk)):  # fmt: skip
            rows.append(_row("residual", family, h.name, kind, warp, 0.0, i, relative(a, r, r, z, c), c))
    return rows


def sweep_candidates(h: Transform, offsets_: tuple[float, ...]) -> list[tuple[float, Transform]]:
    """Candidate warps near T_h⁻¹: for a scaling by s, scalings by ``2^u / s``; for a shear s, shears
    ``−s + u``; ``u`` from ``offsets_`` (u = 0 is T_h⁻¹). Other kinds: none."""
    if h.kind == "scale":
        return [(u, from_affine((2**u / h.param, 0.0, 0.0, 2**u / h.param, 0.0, 0.0))) for u in offsets_]
    if h.kind == "shear":
        return [(u, from_affine((1.0, u - h.param, 0.0, 1.0, 0.0, 0.0))) for u in offsets_]
    return []


def sweep_rows(ft: Features, family: str, h: Transform, c: int, offsets_: tuple[float, ...]) -> list[dict[str, Any]]:
    """``‖T_g Λ⁽ⁱ⁾ T_h f − Λ⁽ⁱ⁾ f‖ / ‖Λ⁽ⁱ⁾ f − Λ⁽ⁱ⁾ 0‖`` for every candidate T_g of :func:`sweep_candidates`."""
    rows = []
    for u, g in sweep_candidates(h, offsets_):
        for i, (r, z, m) in enumerate(zip(ft.ref, ft.zero, ft.moved, strict=True), 1):
            rows.append(
                _row("warp_sweep", family, h.name, "candidate", g.name, u, i, relative(g.apply(m), r, r, z, c), c)
            )
    return rows


def lemma_kernel(cfg: AlignmentConfig, sigma: float | None = None) -> int:
    """Side of the Lemma 4.1 kernels: ``2⌈3.5 σ · stretch⌉ + 1``, room for λ_h(u) = λ(A u) when A shrinks."""
    return 2 * math.ceil(3.5 * (cfg.lemma_sigma if sigma is None else sigma) * stretch(cfg.transforms)) + 1


def lemma_filter(cx: torch.Tensor, cy: torch.Tensor, sigma: float) -> torch.Tensor:
    """An analytic filter with no symmetry: ``λ(u) = (u_x + u_y/2)/σ · exp(−((u_x − 0.4σ)² + u_y²/2) / 2σ²)``."""
    return (cx + cy / 2) / sigma * torch.exp(-((cx - 0.4 * sigma) ** 2 + cy**2 / 2) / (2 * sigma**2))


def lemma41_rows(f: torch.Tensor, h: Transform, sigma: float, cfg: AlignmentConfig) -> list[dict[str, Any]]:
    """Lemma 4.1 on one linear layer Λ_λ f = f ⋆ λ (no bias, no σ): ``lemma41`` is
    ``‖T_h⁻¹ Λ_λ T_h f − Λ_{λ_h} f‖ / ‖Λ_{λ_h} f‖`` with ``λ_h(u) = |det A_h| λ(A_h u)`` sampled exactly from
    :func:`lemma_filter`; ``untransformed_filter`` compares with ``Λ_λ f`` instead (alignment, which fails)."""
    k = lemma_kernel(cfg, sigma)
    c = crop_half_width(cfg, depth=1, kernel=k)
    cx, cy = offsets(k)
    a, b, cc, d = h.matrix[:4]
    lam = lemma_filter(cx, cy, sigma).view(1, 1, k, k)
    lam_h = abs(a * d - b * cc) * lemma_filter(a * cx + b * cy, cc * cx + d * cy, sigma).view(1, 1, k, k)
    lhs = h.inverse().apply(F.conv2d(h.apply(f), lam, padding=k // 2))
    rhs, plain = F.conv2d(f, lam_h, padding=k // 2), F.conv2d(f, lam, padding=k // 2)
    zero = torch.zeros_like(rhs)
    return [_row("lemma41", "linear", h.name, "lemma41", "Λ_{|det A| λ(A·)}", 0.0, 1, relative(lhs, rhs, rhs, zero, c), c),
            _row("lemma41", "linear", h.name, "untransformed_filter", "Λ_λ", 0.0, 1, relative(lhs, plain, plain, zero, c), c)]  # fmt: skip


def alignment_experiment(cfg: AlignmentConfig, trained: dict[str, Network] | None = None) -> pd.DataFrame:
    """Every check as one tidy table (:data:`COLUMNS`): residuals for every family × transform × depth ×
    kind, the warp sweeps, the G-CNN under rot90 and Lemma 4.1 for every transform. ``trained`` adds filter
    families taken from trained models (:mod:`eqlab.probes.alignment_trained`), each on the interior crop
    its own kernels allow. Deterministic in ``cfg.seed``: each network gets its own generator."""
    from eqlab.probes.alignment_gcnn import gcnn, gcnn_rows

    images = smooth_images(cfg.n_images, cfg.size, content_radius(cfg), cfg.blur,
                           torch.Generator().manual_seed(cfg.seed))  # fmt: skip
    c = crop_half_width(cfg)
    transforms = [get_transform(n) for n in cfg.transforms]
    nets = [(family, network(cfg, family, torch.Generator().manual_seed(cfg.seed + 1000 * (j + 1))), c)
            for j, family in enumerate(cfg.families)]  # fmt: skip
    for family, net in (trained or {}).items():
        nets.append((family, net, crop_half_width(cfg, reach=sum(w.shape[-1] // 2 for w, _ in net))))
    rows: list[dict[str, Any]] = []
    for family, net, cf in nets:
        if cf < 2:
            raise ValueError(f"size={cfg.size} leaves no interior crop for family {family!r} (its kernels reach "
                             f"{sum(w.shape[-1] // 2 for w, _ in net)} px); raise probe_alignment size")  # fmt: skip
        ref = zero = None
        for h in transforms:
            ft = features(images, net, cfg.nonlinearity, h, ref, zero)
            ref, zero = ft.ref, ft.zero
            rows += residual_rows(ft, family, h, cf) + sweep_rows(ft, family, h, cf, cfg.sweep_offsets)
    rot = get_transform("rot90")
    rows += gcnn_rows(features(images, gcnn(cfg, torch.Generator().manual_seed(cfg.seed + 999)), cfg.nonlinearity, rot),
                      rot, c)  # fmt: skip
    for h in transforms:
        rows += lemma41_rows(images, h, cfg.lemma_sigma, cfg)
    return pd.DataFrame(rows, columns=list(COLUMNS))
