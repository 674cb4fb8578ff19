"""Model registry: architecture IDs → their module, and the two families each module builds.

Each architecture module (``eqlab.models.<arch>``) holds one network layout in both families —
``cnn`` (plain convolutions, channels = fields × |G|) and ``e2cnn`` (the exactly equivariant twin) —
plus ``model_kwargs(run, width, input_size)``, the rules that turn a run spec into builder arguments.
A train stage depends on its architecture's module, the family's building blocks and ``base``, so a
new architecture is a new module and one line here, and reruns nothing that exists.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

from eqlab.models.base import Tap, TappedModel
from eqlab.runs import FAMILIES, RunSpec

ARCHS: dict[str, str] = {
    "rotmnist6": "eqlab.models.rotmnist6",
    "resnet18": "eqlab.models.resnet18",
    "vgg": "eqlab.models.vgg",
}


def arch_module(arch: str) -> ModuleType:
    if arch not in ARCHS:
        raise ValueError(f"unknown architecture {arch!r}; allowed values: {sorted(ARCHS)}")
    return importlib.import_module(ARCHS[arch])


def build_model(arch: str, family: str = "cnn", **kwargs: Any) -> TappedModel:
    """Build ``arch`` in ``family``; unknown IDs list the allowed ones."""
    if family not in FAMILIES:
        raise ValueError(f"unknown model family {family!r}; allowed values: {list(FAMILIES)}")
    return arch_module(arch).build(family, **kwargs)


def model_kwargs(run: RunSpec, width: float, input_size: int) -> dict[str, Any]:
    """The builder arguments a run's params decide (checked before any data is read)."""
    return arch_module(run.arch).model_kwargs(run, width, input_size)


def load_trained(model_dir, device="cpu") -> TappedModel:
    """Rebuild a trained model from ``config.json`` and its state dict (``weights_only=True``)."""
    import json
    from pathlib import Path

    import torch

    from eqlab.params import ArtifactError

    d = Path(model_dir)
    try:
        cfg = json.loads((d / "config.json").read_text(encoding="utf-8"))
        model = build_model(cfg["arch"], cfg["family"], **cfg["kwargs"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ArtifactError(f"{d / 'config.json'}: not a readable model config ({type(e).__name__}: {e}); "
                            "rerun its train stage") from None
    try:
        state = torch.load(d / "model.pt", map_location="cpu", weights_only=True)
        model.load_state_dict(state)
    except Exception as e:  # truncated zip, wrong pickle, missing or mismatched keys: one line, naming the file
        raise ArtifactError(f"{d / 'model.pt'}: not a readable state dict for {cfg['arch']} "
                            f"({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}); rerun its train stage") from None
    with torch.no_grad():  # e2cnn expands and caches its filters on eval(); no autograd graph there
        return model.to(device).eval()


__all__ = ["ARCHS", "Tap", "TappedModel", "arch_module", "build_model", "load_trained", "model_kwargs"]
