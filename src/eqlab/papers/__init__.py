"""Per-paper report code. One package per paper; everything shared lives in :mod:`eqlab.report`.

Layout a paper ``<paper>`` follows (``ien`` is the worked example):

- ``src/eqlab/papers/<paper>/__init__.py``: what the paper is, which tables and claims it regenerates.
- ``tables.py``: our runs mapped onto the paper's rows and columns, from run metadata (``runs.parquet``:
  ``family``, ``arch``, ``dataset``, ``group``, ``augment``, ``beta``, …), as long cells
  ``table, row, column, value, n`` for :func:`eqlab.report.references.side_by_side`. Select runs by
  metadata; labels are for display only and are never parsed back.
- ``claims.py``: one function per claim (or per claim and case) over the collected tables, returning
  :class:`eqlab.report.claims.Claim` with the claim's id as the paper numbers it ("3", "6a"),
  verdict holds / does not hold / not established, the evidence, and the interval and n when known.
- ``plots.py``: figures only this paper needs (generic ones are in :mod:`eqlab.report.plots`).
- ``notebooks/<paper>.ipynb``: the report, with a ``parameters`` cell (``results_dir``,
  ``published_csv``, ``curves_dir``, ``profile``); it shows claims with
  :func:`eqlab.report.claims.verdict_table`. Add ``<paper>`` to ``PAPERS`` in ``stages/report.py`` and
  to the ``report`` foreach in ``dvc.yaml``, with deps ``src/eqlab/report`` and
  ``src/eqlab/papers/<paper>`` (a report that reads no collected run tables, like ``lenc_vedaldi``, gets
  a ``report_<paper>`` stage of its own with its probe outputs as deps, so it needs no training).
- ``references/published.csv``: the paper's published cells, ``paper == "<paper>"``, each with its source.

Dependencies point down only: ``eqlab.papers.<paper>`` → ``eqlab.report`` → pandas, matplotlib.
Nothing in :mod:`eqlab.report` imports from here, and papers do not import each other.
"""
