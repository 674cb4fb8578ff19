"""Where a feature map's pixels sit on the image, and the spatial action P_g there.

A :class:`Grid` says that feature pixel ``i`` (along either axis) sits at input pixel coordinate
``offset + stride·i`` (centres; a conv with kernel k, stride s, padding p has ``offset = (k-1)/2 - p``).
The image's group elements act about the image centre. Expressed in feature coordinates
``q = i - (n_out-1)/2`` an element ``g(u) = A u + t`` becomes

    P_g(q) = A q + ((A - I)·δ + t) / stride,      δ = (feature-grid centre) - (image centre),

in input pixels. On a *centred* grid (δ = 0: symmetric padding, odd sizes at stride 2, even sizes
at 2×2 pools) P_g of a map without translation is g itself — the action the rest of the code uses.
On an uncentred grid (e.g. a stride-2 conv on an even size, or torchvision AlexNet's stride-4
conv1 on 224 px, δ = -0.5 px) even a quarter turn picks up a translation ``(A - I)·δ / stride``:
when that is a whole number of feature pixels P_g is still exact (a D4 map and a zero-filled shift),
otherwise P_g is an interpolated affine warp and is marked not exact. Callers who need exactness
pass ``require_exact=True`` and get a ``ValueError`` instead.
"""

from __future__ import annotations

from dataclasses import dataclass

from eqlab.groups import geometry as af
from eqlab.groups.transforms import Transform, from_affine


@dataclass(frozen=True)
class Grid:
    """Feature pixel ``i`` sits at input pixel coordinate ``offset + stride·i`` (both axes)."""

    stride: float = 1.0
    offset: float = 0.0

    @classmethod
    def conv(cls, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> Grid:
        """The grid of one conv (or pooling) layer's output on its input."""
        if kernel < 1 or stride < 1 or dilation < 1:
            raise ValueError(f"kernel, stride and dilation must be ≥ 1, got {kernel}, {stride}, {dilation}")
        return cls(float(stride), dilation * (kernel - 1) / 2 - padding)

    @classmethod
    def centred(cls, n_in: int, n_out: int) -> Grid:
        """``n_out`` pixels spread evenly over ``n_in`` (stride ``n_in / n_out``), centres aligned."""
        stride = n_in / n_out
        return cls(stride, (n_in - 1) / 2 - stride * (n_out - 1) / 2)

    def then(self, inner: Grid) -> Grid:
        """The grid of ``inner`` (a layer applied to this grid's feature map) on the image."""
        return Grid(self.stride * inner.stride, self.offset + self.stride * inner.offset)

    def misalignment(self, image: tuple[int, int], feature: tuple[int, int]) -> tuple[float, float]:
        """δ = feature-grid centre − image centre, in input pixels, as (columns, rows)."""
        (hi, wi), (hf, wf) = image, feature
        return tuple(self.offset + self.stride * (nf - 1) / 2 - (ni - 1) / 2 for ni, nf in ((wi, wf), (hi, hf)))  # type: ignore[return-value]

    def is_centred(self, image: tuple[int, int], feature: tuple[int, int]) -> bool:
        return all(abs(v) < af.TOL for v in self.misalignment(image, feature))

    def transform(
        self, g: Transform, image: tuple[int, int], feature: tuple[int, int], require_exact: bool = False
    ) -> Transform:
        """P_g: the element acting on feature maps of size ``feature`` for g on images of size ``image``."""
        dx, dy = self.misalignment(image, feature)
        a, b, c, d, tx, ty = g.matrix
        if abs(dx) < af.TOL and abs(dy) < af.TOL and tx == 0 and ty == 0:
            return g
        s = self.stride
        tfx = ((a - 1) * dx + b * dy + tx) / s
        tfy = (c * dx + (d - 1) * dy + ty) / s
        p = from_affine((a, b, c, d, tfx, tfy))
        if require_exact and g.exact and not p.exact:
            raise ValueError(
                f"{g.name} is exact on the image but not on this feature grid ({self}, image {image}, "
                f"feature {feature}: centres {dx:+g}, {dy:+g} px apart); P_g = {p.name} needs interpolation"
            )
        return p
