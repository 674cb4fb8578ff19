"""Hierarchical attribute CNNs (Jacobsen thesis ch. 5; Jacobsen, Oyallon, Mallat & Smeulders 2017), in miniature.

Layer j is indexed by space u and the last three attributes (v_{j−2}, v_{j−1}, v_j), stored as a
(N, K/4, K/2, K, H, W) array. Every operator W_j is a convolution along (u, v), so the network is covariant
to translations along the attributes, and the final sum over (u, v_{J−3}, v_{J−2}) makes the class scores
x_J(v_{J−1}) invariant to them (the thesis's Proposition 5.3.1). One layer (eqs. 35–37):

1. the marginal sum of x_{j−1} over v_{j−3} (the filter does not depend on it, eq. 35);
2. Q spatial filters h_{j,q}(u) (3×3, applied to every attribute slice, stride 2^{s_j}) and a batch
   normalisation per q (the thesis's intermediate normalisation);
3. K filters g_{v_j,q}(v_{j−2}, v_{j−1}) convolved along the two kept attributes with stride 2, summed over q:
   together w_{v_j}(u, v_{j−2}, v_{j−1}) = Σ_q h_{j,q}(u) g_{v_j,q}(v_{j−2}, v_{j−1}) (eq. 37), then ρ = ReLU.

Layer 1 is an ordinary convolution of the image into K attribute values; layers 2 and 3 are the general
layer on arrays whose leading attribute sizes are 1. The last layer outputs ``n_classes`` values of its new
attribute, and the class scores are the mean of x_{J−1} over (u, v_{J−3}, v_{J−2}) (the thesis's sum, divided
by a constant). ``padding="circular"`` along the attributes makes the translation covariance exact (tests);
the thesis uses zeros by default. ``vanilla_cnn`` is the plain baseline with the same depth and strides.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from eqlab.models.counting import n_params


class AttributeLayer(nn.Module):
    """x_{j−1} (N, A, B, C, H, W) → x_j (N, ⌈B/2⌉, ⌈C/2⌉, K, H', W') by eqs. 35–37."""

    def __init__(self, q: int, k: int, support: tuple[int, int] = (3, 5), stride_u: int = 1,
                 padding: str = "zeros") -> None:  # fmt: skip
        super().__init__()
        if padding not in ("zeros", "circular"):
            raise ValueError(f"attribute padding {padding!r}; allowed values: ['circular', 'zeros']")
        if any(s % 2 == 0 for s in support):
            raise ValueError(f"attribute support {support} must be odd")
        self.h = nn.Conv2d(1, q, 3, stride=stride_u, padding=1, bias=False)
        self.bn = nn.BatchNorm1d(q)  # per q, over (attributes, space) and the batch
        self.g = nn.Conv2d(q, k, support, stride=2, padding=(support[0] // 2, support[1] // 2), padding_mode=padding)

    def attribute_matrix(self, q: int, b: int, c: int) -> torch.Tensor:
        """The attribute convolution g as a dense matrix (q·b·c, k·⌈b/2⌉·⌈c/2⌉): g applied to the unit arrays.
        The attribute arrays are tiny (K/2 × K), so one matrix product beats a convolution over N·H·W arrays."""
        eye = torch.eye(q * b * c, dtype=self.g.weight.dtype, device=self.g.weight.device).reshape(-1, q, b, c)
        return self.g._conv_forward(eye, self.g.weight, None).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = x.sum(1)  # marginal over v_{j−3}
        n, b, c, h, w = z.shape
        s = self.h.stride[0]
        h2, w2 = (h - 1) // s + 1, (w - 1) // s + 1
        patches = F.unfold(z.reshape(n, b * c, h, w), 3, padding=1, stride=s)  # (N, B·C·9, H'W'); faster than
        q = self.h.out_channels  # a 1-channel convolution over N·B·C images, backward included
        z = torch.einsum("nbkp,qk->nqbp", patches.reshape(n, b * c, 9, h2 * w2), self.h.weight.reshape(q, 9))
        z = self.bn(z.reshape(n, q, b * c * h2 * w2)).reshape(n, q * b * c, h2 * w2)
        m = self.attribute_matrix(q, b, c)  # along (v_{j−2}, v_{j−1}), summed over q
        k = self.g.out_channels
        z = torch.einsum("nih,io->noh", z, m).reshape(n, k, -1, h2, w2) + self.g.bias.view(1, k, 1, 1, 1)
        b2, c2 = (b + 1) // 2, (c + 1) // 2
        return F.relu(z.reshape(n, k, b2, c2, h2, w2).permute(0, 2, 3, 1, 4, 5))


class HCNN(nn.Module):
    """Image (N, c_in, H, W) → class scores (N, n_classes). ``strides[j]`` ∈ {1, 2} is layer j's spatial stride
    (layer 0 is the first convolution); ``len(strides)`` is the number of layers J − 1."""

    def __init__(self, k: int = 8, q: int = 8, strides: Sequence[int] = (1, 2, 1, 2, 1), n_classes: int = 10,
                 c_in: int = 1, support: tuple[int, int] = (3, 5), padding: str = "zeros") -> None:  # fmt: skip
        super().__init__()
        if len(strides) < 3:
            raise ValueError(f"an HCNN needs ≥ 3 layers, got strides {list(strides)}")
        self.first = nn.Conv2d(c_in, k, 3, stride=strides[0], padding=1)
        self.bn0 = nn.BatchNorm2d(k)
        outs = [k] * (len(strides) - 2) + [n_classes]
        self.layers = nn.ModuleList(AttributeLayer(q, o, support, s, padding) for o, s in zip(outs, strides[1:], strict=True))

    def attributes(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Every x_j, each (N, A, B, C, H, W)."""
        z = F.relu(self.bn0(self.first(x)))
        out = [z[:, None, None]]
        for layer in self.layers:
            out.append(layer(out[-1]))
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        last = self.attributes(x)[-1]  # (N, B, C, n_classes, H, W)
        return last.mean(dim=(1, 2, 4, 5))


def vanilla_cnn(width: int, strides: Sequence[int] = (1, 2, 1, 2, 1), n_classes: int = 10, c_in: int = 1) -> nn.Sequential:
    """Plain baseline: one 3×3 conv + BN + ReLU per HCNN layer (same strides), global average pool, linear."""
    mods: list[nn.Module] = []
    c = c_in
    for s in strides:
        mods += [nn.Conv2d(c, width, 3, stride=s, padding=1), nn.BatchNorm2d(width), nn.ReLU()]
        c = width
    mods += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, n_classes)]
    return nn.Sequential(*mods)



def cnn_width_for(target: int, strides: Sequence[int], n_classes: int = 10) -> int:
    """The smallest vanilla-CNN width with at least ``target`` parameters."""
    for w in range(1, 1025):
        if n_params(vanilla_cnn(w, strides, n_classes)) >= target:
            return w
    raise ValueError(f"no vanilla CNN width up to 1024 has {target} parameters")
