"""IEN — Implicitly Equivariant Networks (``shared/IEN.md``): Tables 1, 2, 4, 5, 8, 9 beside ours, the
claims, the accuracy-vs-equivariance trade-off. Rendered by ``notebooks/ien.ipynb``; published cells
are the ``paper == "ien"`` rows of ``references/published.csv``.

- ``tables``: runs → the paper's models (``kind``, Table 5 labels), our cells for every table
- ``claims``: the claims of IEN.md, numbered as there, as :class:`eqlab.report.claims.Claim`
- ``plots``: accuracy against equivariance over β
"""
