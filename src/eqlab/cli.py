"""Shared plumbing for the thin stage CLIs in ``stages/``: logging, params, clean failures."""

from __future__ import annotations

import argparse
import logging
import re
import sys
import warnings
from collections.abc import Callable, Sequence
from typing import Any

from tqdm.contrib.logging import logging_redirect_tqdm

from eqlab.params import ArtifactError, ParamError, RawDataError, load_params

# Warnings that say nothing about the user's run: e2cnn 0.2.3 indexes with uint8 masks inside torch,
# torchvision's import touches the deprecated torch.jit.script. Silenced by message, nothing broader.
QUIET_WARNINGS = ("indexing with dtype torch.uint8 is now deprecated", "`torch.jit.script` is deprecated")


def setup_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    for noisy in ("matplotlib", "PIL", "papermill", "traitlets", "blib2to3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    for message in QUIET_WARNINGS:
        warnings.filterwarnings("ignore", message=f".*{re.escape(message)}")


def run_stage(main: Callable[[argparse.Namespace, dict[str, Any]], None], parser: argparse.ArgumentParser,
              argv: Sequence[str] | None = None) -> int:
    """Parse arguments, load ``--params``, call ``main``; expected errors exit 2 with one clear line."""
    parser.add_argument("--params", default="params.yaml", help="params file (default: params.yaml)")
    args = parser.parse_args(argv)
    setup_logging()
    try:
        with logging_redirect_tqdm():  # log lines and progress bars do not interleave
            main(args, load_params(args.params))
    except (ParamError, RawDataError, ArtifactError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # `python -m eqlab.cli` is `python -m eqlab` (this module holds the stage runner)
    from eqlab.__main__ import main as _main

    sys.exit(_main())
