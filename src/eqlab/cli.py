"""Shared plumbing for the thin stage CLIs in ``stages/``: logging, params, clean failures."""

from __future__ import annotations

import argparse
import logging
import os
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


THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def threads_of(params: dict[str, Any]) -> int:
    """The top-level ``threads`` params key, checked (default 1)."""
    threads = params.get("threads", 1)
    if type(threads) is not int or threads < 1:
        raise ParamError(f"params key 'threads' must be a positive integer (CPU threads per stage), not {threads!r}")
    return threads


def stage_threads(params: dict[str, Any]) -> int:
    """The top-level ``threads`` params key: CPU threads of one stage (default 1), applied to torch, the
    BLAS/OpenMP pools already loaded, and (through the environment) the processes the stage starts.

    It is a param because results depend on it: a float sum split over 2 threads rounds differently
    from one over 1 (a training step's weights differ in the last bits), so the same params must mean
    the same thread count whatever runs beside the stage (``eqlab repro -j``)."""
    threads = threads_of(params)
    for name in THREAD_ENV:
        os.environ[name] = str(threads)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
    from threadpoolctl import threadpool_limits

    threadpool_limits(threads)
    return threads


def run_stage(main: Callable[[argparse.Namespace, dict[str, Any]], None], parser: argparse.ArgumentParser,
              argv: Sequence[str] | None = None) -> int:
    """Parse arguments, load ``--params``, set the stage's thread count (:func:`stage_threads`), call
    ``main``; expected errors exit 2 with one clear line."""
    parser.add_argument("--params", default="params.yaml", help="params file (default: params.yaml)")
    args = parser.parse_args(argv)
    setup_logging()
    try:
        params = load_params(args.params)
        stage_threads(params)
        with logging_redirect_tqdm():  # log lines and progress bars do not interleave
            main(args, params)
    except (ParamError, RawDataError, ArtifactError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # `python -m eqlab.cli` is `python -m eqlab` (this module holds the stage runner)
    from eqlab.__main__ import main as _main

    sys.exit(_main())
