"""The Lie derivative of a layer (Gruver et al. 2022, "The Lie derivative for measuring learned equivariance").

A one-parameter flow ``T_t`` (``T_0 = id``, ``T_s T_t = T_{s+t}``) acts on an image by moving its
content along a vector field ``v``: ``[T_t x](u) = x(Φ_{-t}(u))`` with ``Φ_t`` the flow of ``v``. A
layer φ is equivariant to the flow when ``φ(T_t x) = T_t φ(x)`` for all ``t`` (the law
``φ(g·x) = g·φ(x)`` for every ``g = T_t``, the action on features purely spatial). Its Lie derivative

    Lφ(x) = d/dt [ T_t⁻¹ φ(T_t x) ] at t = 0  =  J_φ(x)·(A x)  −  A' φ(x)

is zero for an equivariant layer and measures the *local* (infinitesimal) equivariance error.
``A = d/dt T_t |_{t=0}`` is the flow's generator on the image grid and ``A'`` the same generator on
the layer's own grid; ``J_φ(x)·(A x)`` is an exact Jacobian-vector product through the network
(autograd, two reverse-mode passes, see :func:`_jvp`), not a finite difference of the network.

Discretisation. On a sampled image the generator is ``A x = −v(u)·∇x(u)`` with ∇ the *central
difference* ``(x[i+1] − x[i−1]) / 2`` along each axis. Bilinear warping (``grid_sample``) has only
one-sided derivatives at pixel centres (the forward difference for t > 0, the backward one for
t < 0); their average, the symmetric derivative ``(T_t x − T_{−t} x) / 2t`` at t → 0, is exactly
this central difference (checked by the tests against :func:`apply_flow`). The same linear operator
is used on the input and on every feature map, so any layer that commutes with it has ``Lφ = 0``
to float precision: a circular-padded conv for translations (the difference wraps around, a
circular convolution itself), a conv whose kernel is a polynomial of the 5-point Laplacian for
rotations. Pointwise nonlinearities and subsampling do not commute with it; the error they leave
is the aliasing that Gruver et al. measure.

Flows and units (pixels measured from the grid centre, columns to the right, rows down):

* ``rotate``      — counter-clockwise about the centre, ``v(c, r) = (r, −c)``; t in radians;
* ``translate_x`` — content moves right, ``v = (1/s, 0)``; t in input pixels; circular boundary;
* ``translate_y`` — content moves down, ``v = (0, 1/s)``; t in input pixels; circular boundary;
* ``scale``       — isotropic about the centre, ``v(c, r) = (c, r)``; t = log of the factor.

Rotation and scaling use a zero boundary (the image is zero outside the canvas, as in
:func:`eqlab.groups.rotate`). A feature grid is assumed centred on the image grid with stride
``s`` (feature pixel = ``s`` image pixels); rotation and scaling fields are linear, hence the same
in every grid's own centred coordinates, while a translation by one image pixel is ``1/s`` feature
pixels. :func:`infer_stride` takes ``s`` as the input/output size ratio rounded to a power of two
(valid convolutions shrink a map by a few pixels without changing its stride).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch

from eqlab.groups import rescale, rotate

FLOWS: tuple[str, ...] = ("rotate", "translate_x", "translate_y", "scale")
CIRCULAR_FLOWS: frozenset[str] = frozenset({"translate_x", "translate_y"})


def check_flow(flow: str) -> str:
    if flow not in FLOWS:
        raise ValueError(f"unknown flow {flow!r}; allowed values: {list(FLOWS)}")
    return flow


def infer_stride(in_size: int, out_size: int) -> float:
    """The stride of a grid of ``out_size`` pixels over one of ``in_size``: the ratio rounded to a
    power of two (1 for valid convolutions that shrink a map by a few pixels)."""
    if out_size <= 0 or in_size <= 0:
        raise ValueError(f"grid sizes must be positive, got {in_size} → {out_size}")
    return float(2 ** round(math.log2(in_size / out_size)))


def vector_field(
    flow: str, h: int, w: int, stride: float = 1.0, *, dtype: torch.dtype = torch.float64, device=None
) -> tuple[torch.Tensor, torch.Tensor]:
    """The flow's velocity ``(v_col, v_row)`` at each pixel of an ``h × w`` grid of stride ``stride``,
    in that grid's pixels per unit of t; each component broadcasts to ``(h, w)``."""
    check_flow(flow)
    r = (torch.arange(h, dtype=dtype, device=device) - (h - 1) / 2).view(h, 1)
    c = (torch.arange(w, dtype=dtype, device=device) - (w - 1) / 2).view(1, w)
    zero = torch.zeros((), dtype=dtype, device=device)
    if flow == "rotate":
        return r.expand(h, w), (-c).expand(h, w)
    if flow == "scale":
        return c.expand(h, w), r.expand(h, w)
    one = torch.full((), 1.0 / stride, dtype=dtype, device=device)
    return (one, zero) if flow == "translate_x" else (zero, one)


def central_difference(x: torch.Tensor, dim: int, circular: bool) -> torch.Tensor:
    """``(x[i+1] − x[i−1]) / 2`` along ``dim``; outside the grid the map wraps around (circular) or is 0."""
    if circular:
        return (torch.roll(x, -1, dim) - torch.roll(x, 1, dim)) / 2
    n = x.shape[dim]
    pad = torch.zeros_like(x.narrow(dim, 0, 1))
    padded = torch.cat([pad, x, pad], dim=dim)
    return (padded.narrow(dim, 2, n) - padded.narrow(dim, 0, n)) / 2


def generator(x: torch.Tensor, flow: str, stride: float = 1.0) -> torch.Tensor:
    """``A x = d/dt T_t x |_{t=0} = −v·∇x`` on a ``(B, C, H, W)`` map of stride ``stride`` (linear in x)."""
    h, w = x.shape[-2:]
    vc, vr = vector_field(flow, h, w, stride, dtype=x.dtype, device=x.device)
    circ = flow in CIRCULAR_FLOWS
    return -(vc * central_difference(x, -1, circ) + vr * central_difference(x, -2, circ))


def _shift(x: torch.Tensor, t: float, dim: int) -> torch.Tensor:
    k = math.floor(t)
    f = t - k
    return (1 - f) * torch.roll(x, k, dim) + f * torch.roll(x, k + 1, dim)


def apply_flow(x: torch.Tensor, flow: str, t: float) -> torch.Tensor:
    """The finite flow ``T_t x`` with bilinear interpolation (``T_0 = id``): rotation by ``t`` radians,
    a circular shift by ``t`` pixels, or a rescaling by ``exp(t)``, about the grid centre."""
    check_flow(flow)
    if flow == "rotate":
        return rotate(x, t, "bilinear")
    if flow == "scale":
        return rescale(x, math.exp(t), "bilinear")
    return _shift(x, t, -1 if flow == "translate_x" else -2)


def lie_derivatives(
    fn: Callable[[torch.Tensor], torch.Tensor | Sequence[torch.Tensor]],
    x: torch.Tensor,
    flows: Sequence[str],
    rate: float = 1.0,
    strides: Sequence[float] | None = None,
) -> dict[str, tuple[list[torch.Tensor], list[torch.Tensor]]]:
    """For each flow, ``(Lφ(x), φ(x))`` for every 4-D map ``fn`` returns, the flow run as ``T_{rate·t}``.

    ``fn`` maps ``(B, C, H, W)`` images to one map or a sequence of maps (e.g. pooled taps); it must
    be twice differentiable by autograd and act on each image independently (eval mode), since all
    flows go through one forward pass on ``len(flows)`` stacked copies of ``x``. ``strides`` (one per
    map) default to :func:`infer_stride` of the sizes (widths for ``translate_x``, else heights). The
    result is linear in ``rate``: a flow run twice as fast has twice the derivative."""
    flows = [check_flow(f) for f in flows]
    b = len(x)
    tangent = torch.cat([rate * generator(x, f) for f in flows])
    prims, tangs = _jvp(fn, x.repeat(len(flows), *([1] * (x.ndim - 1))), tangent)
    result = {}
    for i, flow in enumerate(flows):
        prim = [p[i * b : (i + 1) * b] for p in prims]
        axis = -1 if flow == "translate_x" else -2
        st = strides if strides is not None else [infer_stride(x.shape[axis], p.shape[axis]) for p in prim]
        lie = [t[i * b : (i + 1) * b] - rate * generator(p, flow, s) for p, t, s in zip(prim, tangs, st, strict=True)]
        result[flow] = (lie, prim)
    return result


def _jvp(fn: Callable, x: torch.Tensor, v: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """``(φ(x), J_φ(x)·v)`` for every map ``fn`` returns, by the double-vjp trick: ``g(u) = J_φᵀu`` is
    linear in ``u``, so the gradient of ``⟨g(u), v⟩`` with respect to ``u`` is ``J_φ v``. Two reverse
    passes through PyTorch's C++ derivative formulas (forward-mode AD would route batch norm
    through Python decompositions that import TorchDynamo, ~2 s per process)."""
    with torch.enable_grad():
        xr = x.detach().requires_grad_(True)
        out = fn(xr)
        outs = [out] if isinstance(out, torch.Tensor) else list(out)
        live = [i for i, o in enumerate(outs) if o.requires_grad]
        tangs = [torch.zeros_like(o) for o in outs]
        if live:
            us = [torch.zeros_like(outs[i], requires_grad=True) for i in live]
            (g,) = torch.autograd.grad([outs[i] for i in live], xr, us, create_graph=True)
            for i, t in zip(live, torch.autograd.grad(g, us, v, allow_unused=True), strict=True):
                if t is not None:
                    tangs[i] = t.detach()
    return [o.detach() for o in outs], tangs


def lie_derivative(
    fn: Callable[[torch.Tensor], torch.Tensor | Sequence[torch.Tensor]],
    x: torch.Tensor,
    flow: str,
    rate: float = 1.0,
    strides: Sequence[float] | None = None,
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """``(Lφ(x), φ(x))`` for one flow; see :func:`lie_derivatives`."""
    return lie_derivatives(fn, x, [flow], rate, strides)[flow]
