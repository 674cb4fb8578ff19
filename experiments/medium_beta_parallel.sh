#!/usr/bin/env bash
# experiments/medium_beta.py as six processes side by side (β ∈ {0.1, 1} × seeds 0–2), one JSON per run in
# $OUT (default reports/medium/runs); extra arguments go to every run (e.g. --width 0.5 --cycle 26 --tail 4).
# On a GPU the six share it (the committed record: an H200, 27 s a run at width 0.25). Run from the repo root,
# with the project's Python on PATH (or PYTHON=.venv/bin/python); merge the runs into one record by hand.
set -euo pipefail
OUT=${OUT:-reports/medium/runs}
PYTHON=${PYTHON:-python}
export PYTHONPATH=src${PYTHONPATH:+:$PYTHONPATH} CUBLAS_WORKSPACE_CONFIG=:4096:8 OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
mkdir -p "$OUT"
pids=()
for b in 0.1 1.0; do for s in 0 1 2; do
  "$PYTHON" experiments/medium_beta.py --betas $b --seeds $s "$@" --out "$OUT/b${b}_s${s}.json" > "$OUT/log_b${b}_s${s}.txt" 2>&1 &
  pids+=($!)
done; done
rc=0; for p in "${pids[@]}"; do wait "$p" || rc=1; done
tail -n 1 "$OUT"/log_*.txt
exit $rc
