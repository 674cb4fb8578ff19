"""``eqlab <command> …`` (also ``python -m eqlab``): a dispatcher over sub-commands.

Each command lives in ``eqlab.commands.<name>`` and provides ``add_parser(subparsers)`` (its
arguments and help) and ``run(args) -> int`` (the exit status). Adding a verb means adding a module
and one entry to :data:`COMMANDS`. Expected failures (bad names, missing files, unreadable
checkpoints) print one ``error: …`` line on stderr and exit 2, without a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

COMMANDS: tuple[str, ...] = ("measure", "validate", "compare", "repro", "stage", "sets")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="eqlab", description="Measure equivariance of image representations.")
    sub = parser.add_subparsers(dest="command", metavar="<command>", required=True)
    for name in COMMANDS:
        importlib.import_module(f"eqlab.commands.{name}").add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(importlib.import_module(f"eqlab.commands.{args.command}").run(args))


if __name__ == "__main__":
    sys.exit(main())
