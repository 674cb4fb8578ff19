"""Collect results into one long table, join published numbers, evaluate the papers' claims."""
