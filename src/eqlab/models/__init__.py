"""Model registry: short architecture IDs → builders of :class:`TappedModel`.

Every model exposes its *taps*: the ordered layers whose outputs the equivariance loss, feature
extraction and probes read, each with its channel layout (``group_size`` channels per feature
group). ``forward_taps`` returns the logits and the tap outputs; ``forward_from(i, h)`` runs the
frozen tail from tap ``i`` (for Lenc & Vedaldi's task-loss maps and for stitching).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from eqlab.models.base import Tap, TappedModel

ARCHS: dict[str, str] = {
    "rotmnist6": "eqlab.models.rotmnist:build_rotmnist6",
    "rotmnist6_e2": "eqlab.models.e2:build_rotmnist6_e2",
    "resnet18": "eqlab.models.tim:build_resnet18",
    "resnet18_e2": "eqlab.models.e2:build_resnet18_e2",
    "vgg": "eqlab.models.tim:build_vgg",
    "vgg_e2": "eqlab.models.e2:build_vgg_e2",
}

E2_GROUPS: tuple[str, ...] = ("r4", "r8", "r4r")  # groups the e2cnn twins are built for


def build_model(arch: str, **kwargs: Any) -> TappedModel:
    """Build architecture ``arch``; unknown IDs list the allowed ones."""
    if arch not in ARCHS:
        raise ValueError(f"unknown architecture {arch!r}; allowed values: {sorted(ARCHS)}")
    import importlib

    module, fn = ARCHS[arch].split(":")
    builder: Callable[..., TappedModel] = getattr(importlib.import_module(module), fn)
    return builder(**kwargs)


__all__ = ["ARCHS", "E2_GROUPS", "Tap", "TappedModel", "build_model", "load_trained"]


def load_trained(model_dir, device="cpu") -> TappedModel:
    """Rebuild a trained model from ``config.json`` and its state dict (``weights_only=True``)."""
    import json
    from pathlib import Path

    import torch

    d = Path(model_dir)
    cfg = json.loads((d / "config.json").read_text(encoding="utf-8"))
    model = build_model(cfg["arch"], **cfg["kwargs"])
    state = torch.load(d / "model.pt", map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    with torch.no_grad():  # e2cnn expands and caches its filters on eval(); no autograd graph there
        return model.to(device).eval()
