"""Datasets: raw-file readers, generators that apply group actions, and the on-disk format."""
