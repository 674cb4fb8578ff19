"""The four papers whose stages need no shared training (Lenc & Vedaldi's HOG and own nets, Jansson et
al., the Jacobsen thesis, the invariance review), on the smoke profile in a copy of their own, driven
through DVC. Apart from tests/test_pipeline.py so that pytest-xdist runs the two DAGs side by side.
"""

from __future__ import annotations

import re

import pytest
from test_pipeline import (
    CACHED_DVC,
    HOG,
    INVARIANCE,
    JACOBSEN,
    JANSSON,
    LV_NETS,
    PAPERS,
    TRAINED_FILTERS,
    _env,
    copy_checkout,
    git_snapshot,
    ran,
    run,
)

from eqlab.warm import stage_server

# the smoke run keeps one Lenc & Vedaldi net per family and label set (each further seed repeats a code path
# at ~6 s of stages; the report then reads "not established" where it needs 3 seeds)
LV_KEPT = ("anet_s0", "places_s0", "cnet_s3", "vgg_s4", "resnet_s0")
REPORTS = {"report_lenc_vedaldi": HOG | LV_NETS, "report_jansson": JANSSON | TRAINED_FILTERS, "report_jacobsen": JACOBSEN,
           "report_invariance_review": INVARIANCE}


def test_reports_without_training_depend_on_their_own_stages_only(tmp_path):
    """Each of these reports depends on its own probes (and for Lenc & Vedaldi its nets' own data and
    training) and nothing else — except Jansson's trained-filter family, which needs its two trained runs and
    their dataset, and the Jacobsen steerable block, which needs the blobs dataset: in a fresh copy, where
    nothing is cached, `dvc repro <report>` runs exactly the stages `dvc dag <report>` lists, so no other
    shared training and no other paper (the test below runs them)."""
    work = copy_checkout(tmp_path / "repo")
    git_snapshot(work)
    for report, stages in REPORTS.items():
        dag = run(["dvc", "dag", "--dot", report], work)
        assert set(re.findall(r'^"([^"]+)";$', dag, re.M)) == stages, (report, dag)


@pytest.mark.slow
def test_paper_stages_run_render_and_rerun_to_the_same_bytes(tmp_path):
    """`dvc repro` of the four reports in a fresh copy on the smoke profile runs their stages and nothing
    else, renders each report with its plots and verdicts, runs nothing a second time, and forced re-runs
    (their own nets' training, a probe, a notebook) in fresh interpreters leave the lock the warm
    stages wrote (eqlab.warm) byte-identical."""
    from dvc.utils.serialize import modify_yaml  # DVC's own round-trip writer: style and comments kept

    work = copy_checkout(tmp_path / "repo")
    with modify_yaml(work / "params.yaml") as params:
        params["profile"] = "smoke"
        nets = params["lenc_vedaldi_nets"]["nets"]
        dropped = [n for n in nets if n not in LV_KEPT]
        for name in dropped:
            del nets[name]
            (work / f"reports/metrics/lv_nets/{name}.json").unlink(True)
        params["lenc_vedaldi_pose"]["nets"] = [n for n in params["lenc_vedaldi_pose"]["nets"] if n in LV_KEPT]
        stitch = params["lenc_vedaldi_nets"]["stitch"]
        stitch["skip"] = [n for n in stitch["skip"] if n in LV_KEPT]
    git_snapshot(work)
    with stage_server(_env()) as warm:  # warm stages here; the forced re-runs below are cold
        out = run([*CACHED_DVC, "repro", *REPORTS], work, warm.env)
    assert ran(out) == (PAPERS | TRAINED_FILTERS) - {f"train_lv@{n}" for n in dropped}, out[-2000:]
    assert "Traceback" not in out

    html = (work / "reports/html/lenc_vedaldi.html").read_text()
    assert all(s in html for s in ("Fig. 6", "Table 2", "Profile <strong>smoke</strong>", "<img", "verdict-holds",
                                   "Table 4", "Table 6 analogue", "6a"))
    assert "def " not in html  # rendered without code cells
    html = (work / "reports/html/jansson.html").read_text()
    assert all(s in html for s in ("Profile <strong>smoke</strong>", "no experiments", "<img", "verdict-holds",
                                   "Lemma 4.1", "G-CNN", "trained (cnn)", "Extension (not in the paper)"))
    assert "verdict verdict-fails\"" not in html and "def " not in html  # no claim fails (the CSS names the class)
    html = (work / "reports/html/jacobsen.html").read_text()
    assert all(s in html for s in ("Profile <strong>smoke</strong>", "<img", "Table 1", "published only", "9a",
                                   "textured blobs", "Hierarchical attribute CNN", "D1", "H1"))
    assert "def " not in html and "Traceback" not in html
    html = (work / "reports/html/invariance_review.html").read_text()
    assert all(s in html for s in ("Profile <strong>smoke</strong>", "<img", "verdict-"))
    assert "def " not in html and "Traceback" not in html

    lock = (work / "dvc.lock").read_bytes()
    assert ran(run(["dvc", "repro", *REPORTS], work)) == set()
    forced = ("train_lv@places_s0", "probe_alignment", "report_jacobsen")
    assert ran(run([*CACHED_DVC, "repro", "-f", "-s", *forced], work)) == set(forced)
    assert (work / "dvc.lock").read_bytes() == lock
