"""e2cnn 0.2.3 under NumPy 2: the two idioms it uses that NumPy 2 removed, patched in place.

Both fail on the flip groups (D4): ``ndarray.tostring()`` in four kernel-basis ``__hash__``es
(``tobytes()`` gives the same bytes) and ``np.array(x, copy=False)`` in the harmonic samplers (an
error in NumPy 2 when a copy is needed; ``np.asarray`` is what it meant under NumPy 1). Tests build
D4 models and check their exact equivariance, so a wrong patch cannot pass silently.

A third fix is not about NumPy: e2cnn caches each sampled kernel basis (a module) in a global dict
and shares it between every R2Conv built later in the process. ``model.double()`` (or ``.cuda()``)
converts that shared module in place, and the next float32 model built in the same process then
fails ("expected scalar type Double but found Float"). The cache now hands a basis out only while it
is still float32 on the CPU, as e2cnn built it; otherwise a fresh one is built and cached. Sharing
inside one model — and so the bytes of every saved state dict — is unchanged.

Importing this module does nothing; :func:`patch_e2cnn` imports e2cnn and patches it (idempotent).
"""

from __future__ import annotations

import numpy as np
import torch


class _NumpyCopyCompat:
    """NumPy as seen by ``e2cnn.kernels.utils``: ``np.array(v, copy=False)`` → ``np.asarray(v)``."""

    def __getattr__(self, name: str):
        return getattr(np, name)

    @staticmethod
    def array(obj, *args, copy=True, **kwargs):
        return np.asarray(obj, *args, **kwargs) if copy is False else np.array(obj, *args, copy=copy, **kwargs)


def _basis_hash(obj) -> int:
    gamma = obj.gamma.tobytes() if hasattr(obj.gamma, "tobytes") else obj.gamma
    return hash(obj.in_irrep) + hash(obj.out_irrep) + hash(obj.mu.tobytes()) + hash(gamma)


class _PristineBasisCache(dict):
    """e2cnn's basis cache, answering only for bases still as e2cnn built them (float32, CPU)."""

    def __contains__(self, key: object) -> bool:
        if not dict.__contains__(self, key):
            return False
        tensors = [*self[key].buffers(), *self[key].parameters()]
        return all(t.dtype == torch.float32 and t.device.type == "cpu" for t in tensors)


def patch_e2cnn() -> None:
    """Patch e2cnn's two NumPy-1 idioms and its shared basis cache (safe to call more than once)."""
    from e2cnn.kernels import irreps_basis as ib
    from e2cnn.kernels import utils as ku
    from e2cnn.nn.modules.r2_conv import basisexpansion_singleblock as bs

    if isinstance(ku.np, _NumpyCopyCompat):
        return
    ku.np = _NumpyCopyCompat()
    bs._stored_filters = _PristineBasisCache(bs._stored_filters)
    for name in ("R2FlipsSolution", "R2ContinuousRotationsSolution", "R2FlipsDiscreteRotationsSolution",
                 "R2FlipsContinuousRotationsSolution"):
        getattr(ib, name).__hash__ = _basis_hash
