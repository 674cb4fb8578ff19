"""Report machinery shared by every paper: collect results into one long table (``collect``), select
from it (``results``), published numbers and side-by-side tables (``references``), the Claim type and
verdict table (``claims``), generic figures (``plots``), the notebook runner (``notebook``) and the
datasets report (``datasets``). Paper-specific code lives in :mod:`eqlab.papers`; nothing here imports it."""
