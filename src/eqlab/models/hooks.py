"""Taps on any ``nn.Module``: forward hooks that capture named layer outputs on the fly.

Layer names are ``named_modules`` paths (``"layer1"``, ``"layer1.0.conv2"``); for a
:class:`~eqlab.models.TappedModel` its tap names (``"conv1"`` …) are accepted as well and carry the
tap's feature-group layout, so group-pooled metrics see ĥ rather than the raw map. Hooks live only
inside a :class:`LayerTaps` context and are removed on exit, even on error; nothing is global.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType

import torch
from torch import nn

from eqlab.models import Tap, TappedModel

log = logging.getLogger(__name__)

Layout = tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class LayerSpec:
    """One layer to tap: its display ``name``, the module ``path``, the feature-group ``blocks``
    (``None``: the raw map, each channel its own group) and, for a TappedModel's tap, the ``tap``
    itself (its channel representation ρ: g acts on the map as ρ(g)∘P_g; ``None``: P_g alone)."""

    name: str
    path: str
    blocks: Layout | None = None
    tap: Tap | None = None


class _Stop(Exception):
    """Raised from a hook once every requested output is captured (skips the rest of the forward)."""


def _as_map(output: object) -> torch.Tensor | None:
    """The tensor a module returned (``GeometricTensor.tensor`` for e2cnn), or None."""
    t = getattr(output, "tensor", output)
    return t if isinstance(t, torch.Tensor) else None


class LayerTaps:
    """Context manager: ``with LayerTaps(model, specs) as taps: outs = taps(x)`` returns the first output
    of each spec's module, in ``specs`` order (cloned, so later in-place ops cannot change them)."""

    def __init__(self, model: nn.Module, specs: Sequence[LayerSpec], stop_early: bool = True) -> None:
        modules = dict(model.named_modules())
        missing = [s.path for s in specs if s.path not in modules]
        if missing:
            raise ValueError(f"no modules {missing} in {type(model).__name__}")
        self.model, self.specs, self.stop_early = model, list(specs), stop_early
        self._modules = modules
        self._handles: list[torch.utils.hooks.RemovableHandle] = []
        self._outs: dict[str, torch.Tensor] = {}

    def __enter__(self) -> LayerTaps:
        paths = {s.path for s in self.specs}
        for path in sorted(paths):
            self._handles.append(self._modules[path].register_forward_hook(self._hook(path)))
        return self

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        for h in self._handles:
            h.remove()
        self._handles.clear()
        self._outs = {}

    def _hook(self, path: str):
        n_paths = len({s.path for s in self.specs})

        def hook(module: nn.Module, args: object, output: object) -> None:
            if path in self._outs:
                return
            t = _as_map(output)
            if t is None or t.ndim != 4:
                shape = tuple(t.shape) if t is not None else type(output).__name__
                raise ValueError(f"layer {path!r} returns {shape}, not a 4-D (B, C, H, W) map")
            self._outs[path] = t.clone()
            if self.stop_early and len(self._outs) == n_paths:
                raise _Stop

        return hook

    def __call__(self, x: torch.Tensor) -> list[torch.Tensor]:
        if not self._handles:
            raise RuntimeError("LayerTaps must be used inside its `with` block")
        self._outs = {}
        try:
            self.model(x)
        except _Stop:
            pass
        outs, self._outs = self._outs, {}
        lost = [s.path for s in self.specs if s.path not in outs]
        if lost:
            raise ValueError(f"layers {lost} were not called by the model's forward")
        return [outs[s.path] for s in self.specs]


def discover(model: nn.Module, sample: torch.Tensor) -> list[tuple[str, nn.Module, tuple[int, ...]]]:
    """Every submodule whose (first) output on ``sample`` is a 4-D map: ``(path, module, shape)`` in
    forward order (one forward pass, no gradients; hooks removed afterwards)."""
    seen: dict[str, tuple[nn.Module, tuple[int, ...]]] = {}
    handles = []

    def make(path: str):
        def hook(module: nn.Module, args: object, output: object) -> None:
            t = _as_map(output)
            if path not in seen and t is not None and t.ndim == 4:
                seen[path] = (module, tuple(t.shape))

        return hook

    try:
        for path, module in model.named_modules():
            if path:
                handles.append(module.register_forward_hook(make(path)))
        with torch.no_grad():
            model(sample)
    finally:
        for h in handles:
            h.remove()
    return [(p, m, s) for p, (m, s) in seen.items()]


def resolve_layers(model: nn.Module, sample: torch.Tensor, layers: Sequence[str] | None = None) -> list[LayerSpec]:
    """The layers to tap. Default: a TappedModel's taps; otherwise every ``nn.Conv2d`` output and every
    top-level child with a 4-D output, in forward order, de-duplicated. Unknown names raise a
    ``ValueError`` listing the available ones."""
    taps: dict[str, LayerSpec] = {}
    if isinstance(model, TappedModel):
        taps = {t.name: LayerSpec(t.name, f"blocks.{i}", t.blocks, t) for i, t in enumerate(model.taps)}
        if layers is None:
            return list(taps.values())
    found = discover(model, sample)
    available = {p: LayerSpec(p, p) for p, _, _ in found}
    if layers is None:
        chosen = [p for p, m, _ in found if isinstance(m, nn.Conv2d) or "." not in p]
        log.info("tapping %d layers: %s", len(chosen), chosen)
        return [available[p] for p in chosen]
    specs, unknown = [], []
    for name in dict.fromkeys(layers):
        spec = taps.get(name) or available.get(name)
        if spec is None:
            unknown.append(name)
        else:
            specs.append(spec)
    if unknown:
        raise ValueError(f"unknown layers {unknown}; available: {list(taps) + list(available)}")
    return specs
