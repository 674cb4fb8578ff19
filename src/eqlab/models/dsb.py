"""Dynamic steerable blocks (Jacobsen thesis ch. 4, eq. 29) and their parameter-matched pixel-basis baseline.

The block is the two-factor model H(x) = F(Φ(x)) Φ(x) W:

1. Φ: a fixed frame, the Gaussian-derivative gradient pair (G_x, G_y) at scale σ (the RFNN basis of
   :mod:`eqlab.models.rfnn`, order 1 without the zeroth element), convolved with the image;
2. F: a small pose network (``pose_layers`` k×k convolutions, ``hidden`` units, tanh) that reads the frame
   responses, so its pose estimate sees context, and outputs one angle θ_c per location and output channel;
3. the steering equations of the first-order frame, r_c = cos θ_c · (G_x * x) + sin θ_c · (G_y * x) — the
   derivative of the Gaussian in direction θ_c — acting as pose-parametrised activations;
4. W: a 1×1 convolution of the steered responses (one boundary logit here).

``FCN`` is the baseline the thesis compares with: a fully convolutional net in the pixel basis with the same
receptive field (first kernel the frame's size, then ``pose_layers`` k×k layers, ReLU, 1×1 head) whose width
:func:`matched_width` picks so its parameter count is the closest to the block's. Nothing here is registered in
:data:`eqlab.models.ARCHS`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from eqlab.models.rfnn import element, kernel_radius


def gradient_frame(sigma: float, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """(G_x, G_y) = (∂/∂x, ∂/∂y) of the normalised Gaussian at scale ``sigma``, shape (2, 1, k, k),
    k = 2⌈3σ⌉+1; x runs along columns, y along rows."""
    r = kernel_radius([sigma])
    u = torch.arange(-r, r + 1, dtype=torch.float64)
    y, x = torch.meshgrid(u, u, indexing="ij")
    return torch.stack([element(1, 0, sigma, x, y), element(0, 1, sigma, x, y)]).unsqueeze(1).to(dtype)


def steer(frame: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """The first-order steering equation: ``frame`` (N, 2, H, W) = (G_x*x, G_y*x) and angles ``theta``
    (N, C, H, W) → r_c = cos θ_c · G_x*x + sin θ_c · G_y*x, the directional derivative at angle θ_c."""
    return torch.cos(theta) * frame[:, :1] + torch.sin(theta) * frame[:, 1:2]



class SteerableBlock(nn.Module):
    """One dynamic steerable two-factor block with a 1×1 head: (N, 1, H, W) → logits (N, 1, H, W)."""

    def __init__(self, channels: int = 8, hidden: int = 16, pose_layers: int = 3, kernel: int = 3,
                 sigma: float = 1.0) -> None:  # fmt: skip
        super().__init__()
        if pose_layers < 1 or kernel % 2 == 0:
            raise ValueError(f"need pose_layers ≥ 1 and an odd kernel, got {pose_layers}, {kernel}")
        self.register_buffer("frame", gradient_frame(sigma))
        layers: list[nn.Module] = []
        c = 2
        for i in range(pose_layers):
            last = i == pose_layers - 1
            layers.append(nn.Conv2d(c, channels if last else hidden, kernel, padding=kernel // 2))
            if not last:
                layers.append(nn.Tanh())
            c = hidden
        self.pose_net = nn.Sequential(*layers)
        self.mix = nn.Conv2d(channels, 1, 1)

    def frame_responses(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.frame, padding=self.frame.shape[-1] // 2)

    def pose(self, x: torch.Tensor) -> torch.Tensor:
        """θ (N, C, H, W), radians, unwrapped (the steering is 2π-periodic)."""
        return self.pose_net(self.frame_responses(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        phi = self.frame_responses(x)
        return self.mix(steer(phi, self.pose_net(phi)))


class FCN(nn.Module):
    """The pixel-basis baseline: a (frame-size) conv, ``layers`` k×k convs (ReLU after each), a 1×1 head."""

    def __init__(self, width: int, channels: int = 8, layers: int = 3, kernel: int = 3, first_kernel: int = 7) -> None:
        super().__init__()
        mods: list[nn.Module] = [nn.Conv2d(1, width, first_kernel, padding=first_kernel // 2), nn.ReLU()]
        c = width
        for i in range(layers):
            out = channels if i == layers - 1 else width
            mods += [nn.Conv2d(c, out, kernel, padding=kernel // 2), nn.ReLU()]
            c = out
        mods.append(nn.Conv2d(c, 1, 1))
        self.net = nn.Sequential(*mods)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def block_params(channels: int, hidden: int, layers: int, kernel: int) -> int:
    """Trainable parameters of :class:`SteerableBlock` (the frame is a fixed buffer)."""
    k2 = kernel * kernel
    if layers == 1:
        return 2 * channels * k2 + channels + channels + 1
    return (2 * hidden * k2 + hidden) + (layers - 2) * (hidden * hidden * k2 + hidden) + (hidden * channels * k2 + channels) + channels + 1


def fcn_params(width: int, channels: int, layers: int, kernel: int, first_kernel: int) -> int:
    """Trainable parameters of :class:`FCN`."""
    k2 = kernel * kernel
    return ((first_kernel**2 + 1) * width + (layers - 1) * (width * width * k2 + width)
            + (width * channels * k2 + channels) + channels + 1)  # fmt: skip


def matched_width(target: int, channels: int, layers: int, kernel: int, first_kernel: int) -> int:
    """The FCN width whose parameter count is the closest to ``target`` (ties: the smaller width). Counted in
    closed form: building candidate nets would also draw from the generator that initialises the real one."""
    return min(range(1, 257), key=lambda w: (abs(fcn_params(w, channels, layers, kernel, first_kernel) - target), w))


def boundary_nets(kind: str, channels: int, hidden: int, layers: int, kernel: int, sigma: float) -> nn.Module:
    """``dsb`` (the steerable block) or ``fcn`` (the parameter-matched baseline with the same receptive field)."""
    if kind == "dsb":
        return SteerableBlock(channels, hidden, layers, kernel, sigma)
    if kind == "fcn":
        first = 2 * kernel_radius([sigma]) + 1
        target = block_params(channels, hidden, layers, kernel)
        return FCN(matched_width(target, channels, layers, kernel, first), channels, layers, kernel, first)
    raise ValueError(f"boundary net kind {kind!r}; allowed values: ['dsb', 'fcn']")


def receptive_field(net: nn.Module) -> int:
    """Side of the receptive field of a stack of stride-1 convolutions (the frame counts for the block)."""
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    extra = net.frame.shape[-1] - 1 if isinstance(net, SteerableBlock) else 0
    return 1 + extra + sum(m.kernel_size[0] - 1 for m in convs)

