"""Lenc & Vedaldi — "Understanding image representations by measuring their equivariance and
equivalence" (IJCV; ``shared/PAPERS.md``, section 000). Today the HOG part (Sec. 5.2: Fig. 6, Table 2)
from ``data/probes/hog_maps``; the CNN parts (maps, invariant channels, stitching, pose regression)
are not in the pipeline yet. Rendered by ``notebooks/lenc_vedaldi.ipynb``; published cells are the
``paper == "lenc_vedaldi"`` rows of ``references/published.csv``.

- ``tables``: the HOG map table → Fig. 6 (error per transform and method) and Table 2 (the m sweep)
- ``claims``: the claims of PAPERS.md section 000, numbered as there, as :class:`eqlab.report.claims.Claim`
- ``plots``: the Fig. 6 analogue
"""
