"""What a metric was computed with: library versions (stable on one machine, no time stamps)."""

from __future__ import annotations

import platform
from importlib import metadata


def library_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in ("torch", "numpy", "e2cnn", "pyarrow", "scikit-learn"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "absent"
    return out
