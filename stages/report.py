"""DVC stage report@<paper>: execute the paper's notebook with papermill, render HTML without code."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from eqlab.cli import run_stage
from eqlab.params import check_choice, profile_of
from eqlab.report.notebook import execute_report, notebook_parameters

PAPERS = ("ien", "datasets", "lenc_vedaldi", "jansson", "jacobsen", "invariance_review")
log = logging.getLogger("report")


def main(args: argparse.Namespace, params: dict[str, Any]) -> None:
    check_choice("report (stage item)", args.paper, PAPERS)
    parameters = json.loads(args.parameters)
    parameters["profile"] = profile_of(params)
    parameters = {k: v for k, v in parameters.items() if k in notebook_parameters(args.template)}
    execute_report(args.template, args.out_notebook, args.out_html, parameters, args.kernel, Path.cwd())
    log.info("%s → %s, %s", args.paper, args.out_notebook, args.out_html)


def cli(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("paper", help=f"paper ID, one of {list(PAPERS)}")
    p.add_argument("--template", required=True, help="notebook template with a 'parameters' cell")
    p.add_argument("--parameters", default="{}", help="JSON object of notebook parameters (paths)")
    p.add_argument("--kernel", required=True, help="Jupyter kernel name (registered by `make setup`)")
    p.add_argument("--out-notebook", required=True)
    p.add_argument("--out-html", required=True)
    return run_stage(main, p, argv)


if __name__ == "__main__":
    sys.exit(cli())
