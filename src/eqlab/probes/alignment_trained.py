"""Trained filters for the alignment checks (Jansson et al.; issue 14, item 1): the first layers of a model
trained by the pipeline, as a stack Λ of :mod:`eqlab.probes.alignment`.

A trained model's conv → BatchNorm pairs, in module order, become stride-1 layers with 'same' zero padding
(every kernel of the Rot-MNIST nets is odd): BatchNorm in eval mode is an affine map per channel, folded into
the filter and the bias, w' = w·γ/√(v+ε), b' = (b − μ)·γ/√(v+ε) + β. Pooling and the model's own paddings
are dropped (the theorem is about stride-1 convolutions); the nonlinearity is the checks' own, as for every
family, so only the filters differ. The filters must pass the same spread guard as the random families.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from eqlab.probes.alignment import Network, check_spread

PREFIX = "trained_"  # family name of a trained run: trained_<run>


def folded_layers(model: nn.Module) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(weight, bias) float64 of every Conv2d, its following BatchNorm2d folded in (eval statistics)."""
    mods = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.BatchNorm2d))]
    out = []
    for i, m in enumerate(mods):
        if not isinstance(m, nn.Conv2d):
            continue
        if m.stride != (1, 1) or m.groups != 1 or m.kernel_size[0] != m.kernel_size[1] or m.kernel_size[0] % 2 == 0:
            raise ValueError(f"conv layer {len(out) + 1}: need stride 1, no groups and an odd square kernel, got "
                             f"stride {m.stride}, groups {m.groups}, kernel {m.kernel_size}")  # fmt: skip
        w = m.weight.detach().double()
        b = m.bias.detach().double() if m.bias is not None else torch.zeros(w.shape[0], dtype=torch.float64)
        nxt = mods[i + 1] if i + 1 < len(mods) else None
        if isinstance(nxt, nn.BatchNorm2d):
            scale = nxt.weight.detach().double() / torch.sqrt(nxt.running_var.double() + nxt.eps)
            w = w * scale.view(-1, 1, 1, 1)
            b = (b - nxt.running_mean.double()) * scale + nxt.bias.detach().double()
        out.append((w, b))
    return out


def trained_network(model: nn.Module, depth: int, min_spread: float, name: str) -> Network:
    """The first ``depth`` folded layers of ``model``; ValueError naming ``name`` when it has fewer or a filter
    fails the spread guard."""
    layers = folded_layers(model)
    if len(layers) < depth:
        raise ValueError(f"trained model {name!r} has {len(layers)} conv layers, probe_alignment depth is {depth}")
    for i, (w, _) in enumerate(layers[:depth]):
        check_spread(w, min_spread, f"trained model {name!r}, layer {i + 1}")
    return tuple(layers[:depth])


def load_networks(models_dir: Path, runs: tuple[str, ...], depth: int, min_spread: float) -> dict[str, Network]:
    """``{trained_<run>: Λ}`` for every run, each rebuilt from ``models_dir/<run>`` (state dicts loaded with
    ``weights_only=True``)."""
    from eqlab.models import load_trained

    return {f"{PREFIX}{r}": trained_network(load_trained(Path(models_dir) / r), depth, min_spread, r) for r in runs}
