"""Paper 001, the Jacobsen thesis (RFNN, dynamic steerable blocks, i-RevNet): tables, claims and plots over
the tables of the ``probe_rfnn``, ``probe_dsb`` and ``probe_irevnet`` stages. The hierarchical attribute CNN
(ch. 5) is not built yet (issue 13, item 3)."""
