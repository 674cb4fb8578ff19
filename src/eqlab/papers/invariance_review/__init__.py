"""The invariance review — "Encoding invariance in deep networks: pooling, scattering, group invariance"
(``shared/PAPERS.md``, section 004). A review with no tables; its experiments are reported in words only. Our
experiments: ``data/invariance_review/pooling`` (``stages/invariance_pooling.py``) and
``data/invariance_review/scattering`` (``stages/invariance_scattering.py``); rendered by
``notebooks/invariance_review.ipynb``.

- ``tables``: per-variant summaries with 95 % t-intervals over seeds, paired differences, the rotation and
  texture tables
- ``claims``: the claims of PAPERS.md section 004, as :class:`eqlab.report.claims.Claim`
- ``plots``: accuracy per pooling with intervals, learned p, rotated-test accuracy, the texture pair
"""
