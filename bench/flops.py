"""FLOP counts and this machine's measured peak, for the ``flops`` section of ``make bench``.

A multiply–add counts as 2 FLOPs (the convention of ``torch.utils.flop_counter``). A conv2d forward
costs ``2·N·C_out·H_out·W_out·(C_in/groups)·k_h·k_w``; its backward costs the same again for the
weight gradient and again for the input gradient (when the input needs one). Only matrix products
and convolutions are counted (``FlopCounterMode`` counts nothing else): batch norm, activations,
pooling, resizing, the optimiser step and the equivariance loss's elementwise terms are free here.

The *padding-excluded* count drops the multiply–adds whose kernel tap reads the zero padding. Along
one axis of size S with kernel k, padding p, stride s and dilation d, the taps that read the image are

    V = #{(o, j) : 0 ≤ o < S_out, 0 ≤ j < k, 0 ≤ o·s − p + j·d < S},

so a conv's useful fraction is ``V_h·V_w / (H_out·W_out·k_h·k_w)``; the forward, the weight gradient
and the input gradient visit the same (output, tap) pairs, so the one fraction applies to all three.

The peak is measured, not taken from a data sheet: the median time of a large float32 conv2d forward
(oneDNN on CPU) and of a large matmul, in this process, on this machine's threads.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

CONV_OPS = ("aten.convolution", "aten.convolution_backward")


def conv_out_size(size: int, k: int, padding: int, stride: int = 1, dilation: int = 1) -> int:
    """``⌊(S + 2p − d·(k − 1) − 1) / s⌋ + 1``."""
    return (size + 2 * padding - dilation * (k - 1) - 1) // stride + 1


def conv2d_flops(
    n: int, c_in: int, c_out: int, h_out: int, w_out: int, k_h: int, k_w: int | None = None, groups: int = 1
) -> int:
    """FLOPs of one conv2d forward: ``2·N·C_out·H_out·W_out·(C_in/groups)·k_h·k_w``."""
    k_w = k_h if k_w is None else k_w
    return 2 * n * c_out * h_out * w_out * (c_in // groups) * k_h * k_w


def valid_taps(size: int, k: int, padding: int, stride: int = 1, dilation: int = 1) -> int:
    """V along one axis: the (output position, kernel tap) pairs that read the input, not the padding."""
    out = conv_out_size(size, k, padding, stride, dilation)
    return sum(1 for o in range(out) for j in range(k) if 0 <= o * stride - padding + j * dilation < size)


@dataclass(frozen=True)
class ConvCall:
    """One nn.Conv2d forward seen during a counted step, and the passes its backward will add."""

    name: str
    flops: int  # forward FLOPs, padding included
    useful: float  # the fraction of them that read the input (V_h·V_w / (H_out·W_out·k_h·k_w))
    passes: int  # 1 (forward) + 1 if the weight needs a gradient + 1 if the input does

    @property
    def padding_flops(self) -> float:
        """FLOPs of this call, over all its passes, spent on the zero padding."""
        return (1 - self.useful) * self.flops * self.passes


def _conv_call(name: str, conv: nn.Conv2d, x: torch.Tensor) -> ConvCall:
    if not isinstance(conv.padding, tuple):
        raise ValueError(f"conv {name!r}: padding {conv.padding!r} is not supported; use integer paddings")
    (k_h, k_w), (p_h, p_w), (s_h, s_w), (d_h, d_w) = conv.kernel_size, conv.padding, conv.stride, conv.dilation
    h, w = x.shape[-2:]
    h_out, w_out = conv_out_size(h, k_h, p_h, s_h, d_h), conv_out_size(w, k_w, p_w, s_w, d_w)
    flops = conv2d_flops(x.shape[0], conv.in_channels, conv.out_channels, h_out, w_out, k_h, k_w, conv.groups)
    useful = valid_taps(h, k_h, p_h, s_h, d_h) * valid_taps(w, k_w, p_w, s_w, d_w) / (h_out * w_out * k_h * k_w)
    grad = torch.is_grad_enabled()
    passes = 1 + int(grad and conv.weight.requires_grad) + int(grad and x.requires_grad)
    return ConvCall(name, flops, useful, passes)


@contextmanager
def record_convs(model: nn.Module) -> Iterator[list[ConvCall]]:
    """Record every ``nn.Conv2d`` forward of ``model`` while the block runs (hooks removed after)."""
    calls: list[ConvCall] = []
    handles = [
        m.register_forward_pre_hook(lambda mod, args, n=name: calls.append(_conv_call(n, mod, args[0])))
        for name, m in model.named_modules()
        if isinstance(m, nn.Conv2d)
    ]
    try:
        yield calls
    finally:
        for h in handles:
            h.remove()


@dataclass(frozen=True)
class FlopCount:
    total: int  # FlopCounterMode's total
    by_op: dict[str, int]  # aten op → FLOPs
    padding: float  # FLOPs spent on zero padding (nn.Conv2d modules of the model only)

    @property
    def conv(self) -> int:
        return sum(v for k, v in self.by_op.items() if k in CONV_OPS)

    @property
    def padding_excluded(self) -> float:
        return self.total - self.padding


def count_flops(fn: Callable[[], object], model: nn.Module | None = None) -> FlopCount:
    """FLOPs of ``fn()`` counted by ``FlopCounterMode``; with ``model``, also what its convs spend on
    padding (from the shapes their forward hooks see)."""
    with FlopCounterMode(display=False) as counter:
        if model is None:
            fn()
            calls: list[ConvCall] = []
        else:
            with record_convs(model) as calls:
                fn()
    by_op = {str(op): int(n) for op, n in counter.get_flop_counts().get("Global", {}).items()}
    return FlopCount(int(counter.get_total_flops()), by_op, sum(c.padding_flops for c in calls))


def median_seconds(fn: Callable[[], object], repeats: int, warmup: int = 1) -> float:
    """Median wall time of ``repeats`` calls after ``warmup`` untimed ones (CUDA synchronised)."""
    if repeats < 1:
        raise ValueError(f"repeats must be ≥ 1, got {repeats}")
    sync = torch.cuda.synchronize if torch.cuda.is_available() else (lambda: None)
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        sync()
        t = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


@dataclass(frozen=True)
class Peak:
    """A measured peak: ``flops`` per call (analytic), cross-checked by ``FlopCounterMode``."""

    what: str
    flops: int
    counted: int
    seconds: float  # median per call
    kernel: str  # the innermost aten op that did the work (e.g. aten::mkldnn_convolution)

    @property
    def gflops(self) -> float:
        return self.flops / self.seconds / 1e9


def _kernel(fn: Callable[[], object], match: str) -> str:
    """Name of the op with the largest self CPU time among those whose name contains ``match``."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        fn()
    events = [e for e in prof.key_averages() if match in e.key]
    return max(events, key=lambda e: e.self_cpu_time_total).key if events else "?"


def conv_peak(
    batch: int = 64,
    channels: int = 128,
    size: int = 56,
    k: int = 3,
    repeats: int = 5,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
) -> Peak:
    """Median time of one conv2d forward in ``dtype`` (float32; bfloat16 for the bf16 rows on GPUs),
    ``channels → channels``, ``k×k``, 'same' padding."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(batch, channels, size, size, generator=gen).to(device, dtype)
    w = (torch.randn(channels, channels, k, k, generator=gen) / math.sqrt(channels * k * k)).to(device, dtype)
    out = conv_out_size(size, k, k // 2)
    flops = conv2d_flops(batch, channels, channels, out, out, k)
    counted = count_flops(lambda: F.conv2d(x.to("meta"), w.to("meta"), padding=k // 2)).total
    if counted != flops:
        raise RuntimeError(f"conv peak: analytic count {flops} ≠ FlopCounterMode's {counted}")
    with torch.no_grad():
        kernel = _kernel(lambda: F.conv2d(x, w, padding=k // 2), "conv")
        seconds = median_seconds(lambda: F.conv2d(x, w, padding=k // 2), repeats)
    what = f"conv2d {batch}×{channels}×{size}×{size} → {channels}, {k}×{k}" + ("" if dtype == torch.float32 else f", {dtype}")
    return Peak(what, flops, counted, seconds, kernel)


def matmul_peak(n: int = 2048, repeats: int = 5, device: str | torch.device = "cpu") -> Peak:
    """Median time of one float32 ``n×n @ n×n`` (``2·n³`` FLOPs)."""
    gen = torch.Generator().manual_seed(0)
    a, b = (torch.randn(n, n, generator=gen).to(device) for _ in range(2))
    flops = 2 * n**3
    counted = count_flops(lambda: a.to("meta") @ b.to("meta")).total
    if counted != flops:
        raise RuntimeError(f"matmul peak: analytic count {flops} ≠ FlopCounterMode's {counted}")
    kernel = _kernel(lambda: a @ b, "mm")
    return Peak(f"matmul {n}×{n} @ {n}×{n}", flops, counted, median_seconds(lambda: a @ b, repeats), kernel)
