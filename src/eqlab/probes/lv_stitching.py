"""Lenc & Vedaldi's stitching (IJCV Sec. 4, Tables 5–9): is net A's representation at one layer a linear
re-coding of net B's at another?

The stitched network is ``ψ_B ∘ E ∘ R ∘ φ_A``: net A's head up to tap ``tap_a`` (pre-ReLU, as every tap
of :class:`~eqlab.models.lv_nets.TappedStages`), a resampling R to the spatial size of B's tap ``tap_b``
(nearest-neighbour when it shrinks, bilinear when it enlarges: the paper's choice), a learned 1×1
convolution E with bias (Xavier-initialised, as in the paper, even between identical layers), and B's
frozen tail after ``tap_b`` in eval mode (BatchNorm-free here, but the rule holds). E is trained on B's
task — ``fit_images`` of B's training images spread over its classes, cross-entropy through the tail
(Adam, a fixed number of epochs) — and scored on ``test_images`` of B's test images spread over its
classes (the tables show means ± std over seeds of E, as the paper's; scoring every image of the maps'
larger test split would cost four times the scoring here). Each pair is stitched with several seeds of E (the paper: three; mean ± std).

Two references per pair: ``untrained`` (E at its Xavier initialisation: the paper's "no learning",
~100 % error) and ``identity`` (E = I, only where the channel counts and sizes agree: the paper's
identity stitch between different networks, > 99 % error). ``baseline`` is B alone on the same images.

Pairs (:func:`pairs`): ``layers`` — one net, every conv tap into every conv tap of itself (Table 6:
same network, different layers; ``from`` deeper than ``to`` re-computes layers, shallower skips them);
``nets`` — net A's tap into the same tap of each other net (Table 5: another seed, or another label set,
the Places analogue).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from eqlab.models.lv_nets import TappedStages
from eqlab.probes.subsets import spread

CONV_TAPS = ("conv1", "conv2", "conv3", "conv4", "conv5")


@dataclass(frozen=True)
class StitchConfig:
    """``lenc_vedaldi_nets.stitch`` keys."""

    base: str = "anet_s0"  # net A of every pair, and the net of the same-net pairs
    skip: tuple[str, ...] = ()  # nets left out of every pair (seeds added for another measurement)
    layers: tuple[str, ...] = CONV_TAPS
    seeds: tuple[int, ...] = (0, 1, 2)  # seeds of E
    epochs: int = field(default=3, metadata={"min": 1})
    lr: float = field(default=5e-3, metadata={"min": 0.0})
    batch_size: int = field(default=16, metadata={"min": 1})
    fit_images: int = field(default=400, metadata={"min": 1})  # of B's training images, E's training set
    test_images: int = field(default=600, metadata={"min": 1})  # of B's test images, spread over its classes


@dataclass(frozen=True)
class Pair:
    kind: str  # "layers" (Table 6), "nets" (Table 5: same architecture), "archs" / "archs_into" (Tables 7–9:
    # the base into another architecture / the first net of another architecture into the base)
    net_a: str
    tap_a: str
    net_b: str
    tap_b: str


def pairs(cfg: StitchConfig, nets: Sequence[str], archs: Mapping[str, str] | None = None) -> list[Pair]:
    """Every same-net pair of ``cfg.base`` over ``cfg.layers`` (both orders and the self-stitch), then
    ``cfg.base`` into each other net at the same layer: kind ``nets`` when ``archs`` (net → architecture;
    None: all alike) gives it the base's architecture, else ``archs``; then the first net of each other
    architecture into ``cfg.base`` at the same layer (``archs_into``: Table 8's direction, Vgg16 → ANet)."""
    if cfg.base not in nets:
        raise ValueError(f"lenc_vedaldi_nets.stitch.base: unknown net {cfg.base!r}; nets: {sorted(nets)}")
    bad = [t for t in cfg.layers if t not in CONV_TAPS]
    if bad:
        raise ValueError(f"lenc_vedaldi_nets.stitch.layers: {bad} are not conv taps; allowed: {list(CONV_TAPS)}")
    out = [Pair("layers", cfg.base, a, cfg.base, b) for a in cfg.layers for b in cfg.layers]
    arch = archs or {}
    out += [Pair("nets" if arch.get(other) == arch.get(cfg.base) else "archs", cfg.base, t, other, t)
            for other in nets if other != cfg.base for t in cfg.layers]
    firsts: dict[str, str] = {}  # the first net of each other architecture: its head into the base's tail
    for other in nets:
        if arch.get(other) != arch.get(cfg.base):
            firsts.setdefault(arch[other], other)
    out += [Pair("archs_into", first, t, cfg.base, t) for first in firsts.values() for t in cfg.layers]
    return out


def resample(h: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """R: ``h`` (B, C, H, W) to ``size``: nearest when shrinking, bilinear when enlarging, as it is when equal."""
    if tuple(h.shape[-2:]) == tuple(size):
        return h
    if size[0] < h.shape[-2]:
        return F.interpolate(h, size=size, mode="nearest")
    return F.interpolate(h, size=size, mode="bilinear", align_corners=False)


@torch.no_grad()
def features(model: TappedStages, tap: str, x: torch.Tensor, batch: int = 256) -> torch.Tensor:
    """φ(x) at ``tap`` (eval mode), in batches."""
    return torch.cat([model.forward_to(tap, x[i : i + batch]) for i in range(0, len(x), batch)])


def stitch_layer(c_in: int, c_out: int, seed: int) -> nn.Conv2d:
    """E: a 1×1 convolution with bias, Xavier-uniform weights from ``seed`` and zero bias."""
    gen = torch.Generator().manual_seed(seed)
    e = nn.Conv2d(c_in, c_out, 1)
    with torch.no_grad():
        bound = float(np.sqrt(6.0 / (c_in + c_out)))
        e.weight.copy_(torch.rand(e.weight.shape, generator=gen) * 2 * bound - bound)
        e.bias.zero_()
    return e


def train_stitch(h: torch.Tensor, y: torch.Tensor, tail: Callable[[torch.Tensor], torch.Tensor], e: nn.Conv2d,
                 cfg: StitchConfig, seed: int) -> nn.Conv2d:
    """Fit E on resampled head features ``h`` and labels ``y`` through the frozen ``tail`` (task loss)."""
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(e.parameters(), lr=cfg.lr)
    for _ in range(cfg.epochs):
        for idx in torch.randperm(len(y), generator=gen).split(cfg.batch_size):
            loss = F.cross_entropy(tail(e(h[idx])), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return e


@torch.no_grad()
def wrong(tail: Callable[[torch.Tensor], torch.Tensor], h: torch.Tensor, y: torch.Tensor,
          e: nn.Module | None = None, batch: int = 512) -> np.ndarray:
    """Per-image mistakes (bool) of ``tail(e(h))`` (``e`` None: the identity)."""
    out = []
    for i in range(0, len(y), batch):
        z = h[i : i + batch] if e is None else e(h[i : i + batch])
        out.append(tail(z).argmax(1) != y[i : i + batch])
    return torch.cat(out).numpy()


def frozen(model: TappedStages) -> TappedStages:
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def stitch_pair(pair: Pair, models: dict[str, TappedStages],
                data: dict[str, tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]],
                cfg: StitchConfig) -> list[dict]:
    """Rows for one pair: per E seed the stitched error; then the references. ``data[net]`` holds B's
    (train x, train y, test x, test y); A's head reads B's images (B's task)."""
    a, b = frozen(models[pair.net_a]), frozen(models[pair.net_b])
    x_tr, y_tr, x_te, y_te = data[pair.net_b]
    x_tr, y_tr = spread(x_tr, y_tr, cfg.fit_images)
    x_te, y_te = spread(x_te, y_te, cfg.test_images)
    c_out, *size = features(b, pair.tap_b, x_te[:1]).shape[1:]  # B's tap on one image: its channels and size
    size = tuple(size)
    head_te = features(a, pair.tap_a, x_te)
    size_a = int(head_te.shape[-1])
    h_tr = resample(features(a, pair.tap_a, x_tr), size)
    h_te = resample(head_te, size)
    c_in = h_tr.shape[1]

    def tail(h: torch.Tensor) -> torch.Tensor:
        return b.forward_from(pair.tap_b, h)

    ids = dict(kind=pair.kind, net_a=pair.net_a, tap_a=pair.tap_a, net_b=pair.net_b, tap_b=pair.tap_b,
               size_a=size_a, size_b=int(size[-1]), n_test=len(y_te), n_train=len(y_tr),
               steps=cfg.epochs * -(-len(y_tr) // cfg.batch_size))
    rows = []
    for seed in cfg.seeds:
        torch.manual_seed(seed)
        e = stitch_layer(c_in, c_out, seed)
        rows.append({**ids, "method": "untrained", "seed": seed, "top1_error": float(wrong(tail, h_te, y_te, e).mean())})
        e = train_stitch(h_tr, y_tr, tail, e, cfg, seed)
        rows.append({**ids, "method": "stitched", "seed": seed, "top1_error": float(wrong(tail, h_te, y_te, e).mean())})
    if c_in == c_out and size_a == size[-1]:
        rows.append({**ids, "method": "identity", "seed": -1, "top1_error": float(wrong(tail, h_te, y_te).mean())})
    base = features(b, pair.tap_b, x_te)
    rows.append({**ids, "method": "baseline", "seed": -1, "top1_error": float(wrong(tail, base, y_te).mean())})
    return rows
