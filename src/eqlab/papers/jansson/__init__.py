"""Jansson, Maydanskiy, Finnveden, Lindeberg — "Inability of spatial transformations of CNN feature maps to
support invariant recognition" (``shared/PAPERS.md``, section 003). A theory paper with no experiments and no
tables: its results are checked numerically from ``data/probes/alignment`` (``stages/probe_alignment.py``)
on untrained conv stacks. Rendered by ``notebooks/jansson.ipynb``; there are no published cells.

- ``tables``: the alignment table → residuals per transform × family, the warp sweep, the G-CNN, Lemma 4.1
- ``claims``: the claims of PAPERS.md section 003, numbered in the order written there, plus Lemma 4.1 and the
  δ-loophole control, as :class:`eqlab.report.claims.Claim`
- ``plots``: residual against depth per transform and family, the warp sweep, the G-CNN
"""
