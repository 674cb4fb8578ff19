"""Lenc & Vedaldi — "Understanding image representations by measuring their equivariance and
equivalence" (IJCV; ``shared/PAPERS.md``, section 000). The HOG part (Sec. 5.2: Fig. 6, Table 2, Fig. 7)
from ``data/probes/hog_maps`` and ``hog_classify``; the CNN maps and invariant channels (Figs. 9–11, Tables 1
and 3) on the ANet analogues from ``data/probes/lv_nets``; stitching and pose regression are not in the
pipeline yet. Rendered by ``notebooks/lenc_vedaldi.ipynb``; published cells are the
``paper == "lenc_vedaldi"`` rows of ``references/published.csv``.

- ``tables``: the HOG map table → Fig. 6 (error per transform and method) and Table 2 (the m sweep)
- ``claims``: the claims of PAPERS.md section 000, numbered as there, as :class:`eqlab.report.claims.Claim`
- ``plots``: the Fig. 6, Fig. 7 and Figs. 9–11 analogues
"""
