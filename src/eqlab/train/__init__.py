"""One training loop: task loss on every group copy plus optional equivariance terms."""
