"""The command line of a probe stage that writes one output folder and a small metrics JSON."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import Any

from eqlab.cli import run_stage


def probe_cli(main: Callable[[argparse.Namespace, dict[str, Any]], None], doc: str | None,
              argv: list[str] | None = None, out_help: str = "output directory: results.parquet + results.csv",
              inputs: Sequence[tuple[str, str]] = ()) -> int:  # fmt: skip
    """``--out`` and ``--metrics`` (required), one required ``--<name>`` per ``inputs`` (name, help), and
    ``--params``; then :func:`eqlab.cli.run_stage` (clear errors, atomic outputs)."""
    p = argparse.ArgumentParser(description=doc)
    for name, help_ in inputs:
        p.add_argument(f"--{name}", required=True, help=help_)
    p.add_argument("--out", required=True, help=out_help)
    p.add_argument("--metrics", required=True, help="output metrics JSON")
    return run_stage(main, p, argv)
