"""Sub-commands of the ``eqlab`` CLI (see :mod:`eqlab.__main__`)."""
