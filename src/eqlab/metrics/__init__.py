"""Metrics computed from models and features (accuracy, extent of equivariance)."""
