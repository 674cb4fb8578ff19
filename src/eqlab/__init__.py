"""eqlab: measure, train and compare equivariance and invariance in image representations.

Importing the package does no I/O and imports no heavy dependency; submodules are imported
explicitly (``from eqlab.groups import get_transform``).
"""

__version__ = "0.1.0"
