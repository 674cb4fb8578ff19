"""Probes read feature tables (and, when needed, the frozen model) and return long-format rows:
``run, layer, transform, probe, metric, value`` (plus identifying columns added by the caller)."""

ROW_COLUMNS = ("run", "model", "dataset", "seed", "layer", "transform", "probe", "metric", "value")
