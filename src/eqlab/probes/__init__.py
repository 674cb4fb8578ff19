"""Probes measure trained models; each returns long-format rows with ``ROW_COLUMNS``.

One module per measurement, one DVC stage template per probe (``probe_<name>@<run>``) writing
``data/probes/<name>/<run>/results.parquet``; ``collect`` joins them into one table. A new probe is a
module here, a stage script and a template in ``dvc.yaml``: nothing else reruns.
"""

# the odd multiples of 45° (rot45, rot135, rot225, rot315): interpolated, measured apart from a run's own
# group by the extent probe (its ``transform`` value), read apart by the reports
ROT45_ODD = "rot45_odd"
ROW_COLUMNS = ("run", "family", "arch", "dataset", "seed", "layer", "transform", "probe", "metric", "value")
ID_COLUMNS = ("run", "family", "arch", "dataset", "seed")
