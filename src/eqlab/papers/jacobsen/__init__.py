"""Paper 001, the Jacobsen thesis (RFNN, dynamic steerable blocks, hierarchical attribute CNNs, i-RevNet):
tables, claims and plots over the tables of the ``probe_rfnn``, ``probe_dsb``, ``probe_hcnn`` and
``probe_irevnet`` stages."""
