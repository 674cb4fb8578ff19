"""Group actions on images and feature maps: one implementation for both.

The law everything here serves: an equivariant φ satisfies ``φ(g·x) = ρ(g)·P_g·φ(x)``, with
``[g·x](u) = x(g⁻¹u)`` on images, P_g the same action on the feature grid and ρ(g) a permutation
of channels. Modules, one level of abstraction each (none does I/O on import):

* :mod:`~eqlab.groups.actions` — pure tensor functions (``rot90``, ``flip``, ``shift``, ``rotate``,
  ``rescale``, ``translate``, ``shear``, one affine warp, ``circular_mask``);
* :mod:`~eqlab.groups.geometry` — affine maps of pixel offsets as tuples (compose, invert, classify);
* :mod:`~eqlab.groups.transforms` — named elements :class:`Transform`, ``get_transform``;
* :mod:`~eqlab.groups.grid` — where feature pixels sit on the image, P_g on that grid;
* :mod:`~eqlab.groups.reps` — channel representations ρ (trivial, regular, permutation);
* :mod:`~eqlab.groups.registry` — the named groups (``GROUPS``, ``GroupSpec``, ``e2cnn_gspace``);
* :mod:`~eqlab.groups.pooling` — group pooling over contiguous channel groups (IEN).
"""

from eqlab.groups.actions import (
    FLIP_AXES,
    INTERPOLATIONS,
    Interp,
    affine,
    affine_warp,
    circular_mask,
    flip,
    rescale,
    rot90,
    rotate,
    shear,
    shift,
    translate,
)
from eqlab.groups.grid import Grid
from eqlab.groups.pooling import Layout, acts_on_block, group_pool, het_layout
from eqlab.groups.registry import (
    E2CNN_D4_ORDER,
    GROUP_SPECS,
    GROUPS,
    GroupSpec,
    e2cnn_gspace,
    exact_elements,
    group_elements,
    group_spec,
)
from eqlab.groups.reps import TRIVIAL, PermutationRep, Rep, TrivialRep, act_on_features, permutation, regular
from eqlab.groups.transforms import TRANSFORM_NAMES, Transform, TransformKind, from_affine, get_transform

__all__ = [
    "E2CNN_D4_ORDER",
    "FLIP_AXES",
    "GROUPS",
    "GROUP_SPECS",
    "INTERPOLATIONS",
    "TRANSFORM_NAMES",
    "TRIVIAL",
    "Grid",
    "GroupSpec",
    "Interp",
    "Layout",
    "PermutationRep",
    "Rep",
    "Transform",
    "TransformKind",
    "TrivialRep",
    "act_on_features",
    "acts_on_block",
    "affine",
    "affine_warp",
    "circular_mask",
    "e2cnn_gspace",
    "exact_elements",
    "flip",
    "from_affine",
    "get_transform",
    "group_elements",
    "group_pool",
    "group_spec",
    "het_layout",
    "permutation",
    "regular",
    "rescale",
    "rot90",
    "rotate",
    "shear",
    "shift",
    "translate",
]
