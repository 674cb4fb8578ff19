"""The invariance review (``shared/PAPERS.md`` section 004): pooling variants and a Morlet scattering transform.

- ``pooling``: local pooling layers (max, average, Lp with fixed or learned p, stochastic, heterogeneous,
  entropy) and the global heads, each docstring stating its formula
- ``poolnet``: a small CNN with a chosen pooling, its seeded training on embedded digits
- ``scattering``: an order ≤ 2 Morlet scattering transform in torch (filters built in Fourier)
- ``textures``: a texture and its phase-randomised twin (equal Fourier power spectrum)
- ``experiments``: the two experiments as tidy tables, configured from params section ``invariance_review``
"""
