"""Paper 001, the Jacobsen thesis (RFNN, i-RevNet): tables, claims and plots over the tables of the
``probe_rfnn`` and ``probe_irevnet`` stages. The dynamic steerable block (ch. 4) and the hierarchical
attribute CNN (ch. 5) are not built yet (issue 13, items 2 and 3)."""
