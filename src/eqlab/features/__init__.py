"""Per-layer activations on x and g·x, stored as Parquet partitioned by layer and transform."""
