"""Device choice and the determinism switches, set once per process."""

from __future__ import annotations

import os

import torch


def choose_device(requested: str = "auto") -> torch.device:
    """``auto`` → CUDA when available, else CPU; ``cuda`` without a GPU is an error."""
    if requested not in ("auto", "cpu", "cuda"):
        raise ValueError(f"device {requested!r}; allowed values: ['auto', 'cpu', 'cuda']")
    if requested == "cuda" and not torch.cuda.is_available():
        from eqlab.params import ParamError

        raise ParamError("params key 'device' is 'cuda' but no CUDA device is available here; "
                         "use 'auto' (CUDA when present, else CPU) or 'cpu'")
    if requested == "auto":
        requested = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(requested)


def device_from_params(params: dict) -> torch.device:
    """The top-level ``device`` params key (``auto`` when absent), validated, then :func:`choose_device`."""
    from eqlab.params import check_choice

    return choose_device(check_choice("device", params.get("device", "auto"), ["auto", "cpu", "cuda"]))


def make_deterministic(seed: int) -> None:
    """Seed torch and ask for deterministic kernels (CUDA needs a fixed cuBLAS workspace).

    Deterministic mode also fills every newly allocated tensor with NaN by default, to expose kernels that
    read memory they never wrote; no kernel here does (a test trains with and without the fill and gets
    the same weights, bit for bit), and the fill cost ResNet18 training steps up to half their time on a
    2-core CPU (`make bench`), so it is off."""
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=False)
    torch.utils.deterministic.fill_uninitialized_memory = False
    torch.backends.cudnn.benchmark = False


def describe(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda:{torch.cuda.get_device_name(device)}"
    return "cpu"
