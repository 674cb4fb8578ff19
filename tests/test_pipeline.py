"""The shared-training DAG (datasets, training, probes, features, IEN and dataset reports) on the smoke
profile in a temporary copy of the repository, driven through DVC. The four papers whose stages need no
shared training have their own copy and test (tests/test_pipeline_papers.py), which pytest-xdist runs
beside this one.

Checks, in one copy (the runs are the expensive part): the profile switch runs every stage; a second
`dvc repro` runs nothing; forced re-runs give byte-identical outputs (dvc.lock unchanged); one
`dvc exp run -S train.models.<run>.<key>=…` makes exactly that run's chain stale (train, its extent probe,
and features and Lenc & Vedaldi maps when the run is listed in extract_features.runs); `dvc params diff`
and `dvc exp show` show the change; adding a model module and a transform module reruns nothing.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import ROOT
from eqlab.warm import stage_server

DATASETS = ("rot_mnist", "scale_mnist", "rot_tim", "r2_tim", "blobs")
PARAMS = yaml.safe_load((ROOT / "params.yaml").read_text())
# The DAG runs on a subset of the runs that still covers every dataset, architecture, family (cnn, IEN,
# Het-IEN, e2cnn) and stage template, to keep `make test` within its budget: each extra run only repeats
# a code path at ~40 s of stages. Every run's spec is checked by `eqlab validate` (tests/test_validate.py)
# and every run's model is built at paper scale (tests/test_models_tim.py).
PROBED = ["cnn", "ien_r4_b01"]  # extract_features.runs in the test's copy (the exp-run check needs ien_r4_b01)
RUNS = sorted({*PROBED, "smnist56_ien", "tim_resnet_ien_r4", "tim_vgg_hetien_r4", "r2tim_vgg_e2cnn_r4r"})
HOG = {"probe_hog_maps", "probe_hog_classify", "report_lenc_vedaldi"}  # Lenc & Vedaldi on HOG: no trained model
# Lenc & Vedaldi's CNNs: their own data and train_lv stages, nothing of the shared train stage
LV_NETS = {"lv_data", "probe_lv_nets", "probe_lv_stitch", "probe_lv_pose", *(f"train_lv@{n}" for n in PARAMS["lenc_vedaldi_nets"]["nets"])}
# Jansson et al.: numerical checks on untrained stacks and on the first layers of two trained runs, and the
# alignment extension on digits
TRAINED_FILTERS = {"make_dataset@rot_mnist", "train@cnn", "train@ien_r4_b01"}
JANSSON = {"probe_alignment", "probe_stn", "report_jansson"}
# Jacobsen thesis: RFNN, HCNN and i-RevNet on their own data, the steerable block on the blobs dataset
JACOBSEN = {"probe_rfnn", "probe_irevnet", "probe_dsb", "probe_hcnn", "make_dataset@blobs", "report_jacobsen"}
INVARIANCE = {"invariance_pooling", "invariance_scattering", "report_invariance_review"}  # the review: digits only
PAPERS = HOG | LV_NETS | JANSSON | JACOBSEN | INVARIANCE  # their own DAG test: tests/test_pipeline_papers.py
# the shared-training pipeline (IEN and the Lenc & Vedaldi maps on its CNNs) and the dataset cards
TARGETS = ("report@ien", "report_datasets")
ALL = ({"collect", *TARGETS} | {f"make_dataset@{d}" for d in DATASETS}
       | {f"{s}@{r}" for s in ("train", "probe_extent") for r in RUNS}
       | {f"{s}@{r}" for s in ("extract_features", "probe_lv_maps") for r in PROBED})


# the long DVC runs go through eqlab.dvc_cache and fork their stages from a warm server (eqlab.warm), as
# `eqlab repro` does; forced re-runs in fresh interpreters must leave the lock they wrote unchanged.
# eqlab.dvc_cache (the `dvc` command with its YAML parsing cached, as `eqlab repro`
# runs it: ~2 s less per stage); plain `dvc` rewrites the lock it leaves to the same bytes (checked below)
CACHED_DVC = [sys.executable, "-m", "eqlab.dvc_cache"]

# where a new transform kind would live (see eqlab.groups): adding it must rerun nothing
NEW_TRANSFORM_MODULE = "src/eqlab/groups/elastic.py"


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    for k, v in (("GIT_AUTHOR_NAME", "eqlab-test"), ("GIT_COMMITTER_NAME", "eqlab-test"),
                 ("GIT_AUTHOR_EMAIL", "test@eqlab.invalid"), ("GIT_COMMITTER_EMAIL", "test@eqlab.invalid")):
        env[k] = v
    env["DVC_NO_ANALYTICS"] = "1"
    return env


def run(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    r = subprocess.run(args, cwd=cwd, env=env or _env(), capture_output=True, text=True)
    if r.returncode:
        raise AssertionError(f"{' '.join(args)} failed ({r.returncode}):\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
    return r.stdout + r.stderr


def ran(output: str) -> set[str]:
    return set(re.findall(r"Running stage '([^']+)'", output))


def copy_checkout(work: Path) -> Path:
    """The committed files of this checkout in ``work``."""
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    for rel in filter(None, files.decode().split("\0")):
        src = ROOT / rel
        if src.is_file():
            (work / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, work / rel)
    return work


def git_snapshot(work: Path) -> None:
    run(["git", "init", "-q"], work)
    run(["git", "add", "-A"], work)
    run(["git", "commit", "-qm", "snapshot"], work)


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    work = copy_checkout(tmp_path_factory.mktemp("pipeline") / "repo")
    from dvc.utils.serialize import modify_yaml  # DVC's own round-trip writer: style and comments kept

    from eqlab import runsets
    from eqlab.__main__ import main as eqlab_main

    # the optional run sets hold the TinyImageNet and 56×56 runs that cover the other architectures
    assert eqlab_main(["sets", "--params", str(work / "params.yaml"), "enable",
                       *runsets.sets_of(PARAMS["train"])]) == 0

    with modify_yaml(work / "params.yaml") as params:
        for name in [r for r in params["extract_features"]["runs"] if r not in PROBED]:
            del params["extract_features"]["runs"][name]
            (work / f"reports/metrics/probes/lv_maps/{name}.json").unlink(True)
        for name in [r for r in params["train"]["models"] if r not in RUNS]:
            del params["train"]["models"][name]
            for members in params["train"]["sets"].values():  # a set lists only runs that exist
                if name in members:
                    members.remove(name)
            for out in (f"reports/metrics/train/{name}.json", f"reports/runs/{name}.json", f"reports/curves/{name}",
                        f"reports/metrics/probes/extent/{name}.json"):  # committed outputs of the removed runs
                shutil.rmtree(work / out, ignore_errors=True) if (work / out).is_dir() else (work / out).unlink(True)
    git_snapshot(work)
    return work


@pytest.mark.slow
def test_smoke_dag_experiments_and_determinism(repo):
    # a fresh clone: every output "not in cache", nothing to pull (no remote), as the README says
    readme = (ROOT / "README.md").read_text()
    assert '"not in cache"' in readme and "`dvc pull` has nothing to pull" in readme
    assert "not in cache" in run(["dvc", "status", "--with-deps", *TARGETS], repo)
    pull = subprocess.run(["dvc", "pull"], cwd=repo, env=_env(), capture_output=True, text=True)
    assert "no remote" in (pull.stdout + pull.stderr).lower(), pull.stdout + pull.stderr

    original = (repo / "params.yaml").read_text().splitlines()
    with stage_server(_env()) as warm:  # stages forked from a warm server, two at a time, as `eqlab repro` runs them
        out = run([*CACHED_DVC, "exp", "run", "-S", "profile=smoke", *TARGETS], repo, {**warm.env, "EQLAB_JOBS": "2"})
    assert ran(out) == ALL, out[-2000:]
    assert "[train@cnn] " in out  # eqlab.dvc_jobs ran it: each line of a stage carries its name
    # progress is visible through DVC (training steps, extent batches, notebook cells), and nothing
    # alarming that is not a problem: no kernel-over-TCP, missing-alt-text or e2cnn indexing warnings
    assert all(bar in out for bar in ("train: 100%", "extent r4: ", "Executing: 100%")), out[-3000:]
    assert not any(noise in out for noise in ("over TCP", "Alternative text", "uint8", "Traceback")), out[-3000:]
    # params.yaml is written in the style DVC dumps, so `-S` changes exactly the one line it sets
    changed = [(a, b) for a, b in zip(original, (repo / "params.yaml").read_text().splitlines(), strict=True) if a != b]
    assert changed == [("profile: small", "profile: smoke")], changed
    meta = json.loads((repo / "data/datasets/rot_mnist/meta.json").read_text())
    assert meta["profile"] == "smoke" and meta["splits"]["train"]["n"] == 256
    card = json.loads((repo / "reports/runs/ien_r4_b01.json").read_text())
    assert card["profile"] == "smoke" and (card["device"] == "cpu" or card["device"].startswith("cuda"))
    assert set(json.loads((repo / "reports/metrics/train/ien_r4_b01.json").read_text())) == {"test_acc", "val_acc"}
    assert json.loads((repo / "reports/metrics/probes/extent/ien_r4_b01.json").read_text())["rel_mean"] > 0
    results = pd.read_parquet(repo / "reports/tables/results.parquet")
    extent = results[(results.run == "ien_r4_b01") & (results.probe == "extent_of_equivariance")]
    assert set(extent.layer) == {f"conv{i}" for i in range(1, 7)} and set(extent["transform"]) == {"r4", "rot45_odd"}
    html = (repo / "reports/html/ien.html").read_text()
    assert "Table 5" in html and "IEN β=0.1" in html and "<img" in html
    assert all(f"Table {t} " in html for t in ("1", "2", "4", "8", "9")) and "Rot-TIM IEN R4" in html
    assert "def " not in html  # rendered without code cells
    cards = (repo / "reports/html/datasets.html").read_text()
    assert all(f"<code>{d}</code>" in cards for d in DATASETS) and "Blob difficulty ordering" in cards

    assert ran(run(["dvc", "repro", *TARGETS], repo)) == set()

    # forced re-runs in fresh interpreters (the runs above were warm: eqlab.warm) reproduce byte-identical
    # outputs: nothing downstream becomes stale (a dataset, a training, each probe template, the
    # features; train@cnn in the kill -9 test below, notebooks in tests/test_pipeline_papers.py)
    lock = (repo / "dvc.lock").read_bytes()
    forced = ("make_dataset@r2_tim", "train@r2tim_vgg_e2cnn_r4r", "probe_extent@smnist56_ien", "extract_features@cnn",
              "probe_lv_maps@cnn")
    out = run([sys.executable, "-m", "eqlab", "repro", "--cold", "--", "-f", "-s", *forced], repo)
    assert ran(out) == set(forced) and "Wall time per stage" in out and "Peak memory of a stage: " in out
    assert (repo / "dvc.lock").read_bytes() == lock
    # the lock above was written through eqlab.dvc_cache: plain DVC rewrites it to the same bytes
    assert ran(run(["dvc", "repro", "-f", "-s", "collect"], repo)) == {"collect"}
    assert (repo / "dvc.lock").read_bytes() == lock
    assert "up to date" in run(["dvc", "status", "--with-deps", *TARGETS], repo)

    # one run's param: its chain and nothing else is stale (the first two stages run, to fill `exp show`)
    key = "train.models.ien_r4_b01.ien.beta"
    out = run([*CACHED_DVC, "exp", "run", "-S", f"{key}=0.5", "probe_extent@ien_r4_b01"], repo)
    assert ran(out) == {"train@ien_r4_b01", "probe_extent@ien_r4_b01"}
    stale = json.loads(run(["dvc", "status", "--json", "--with-deps", *TARGETS], repo))
    assert set(stale) == {"extract_features@ien_r4_b01", "probe_lv_maps@ien_r4_b01", "collect", "report@ien"}, stale
    assert json.loads((repo / "reports/runs/ien_r4_b01.json").read_text())["beta"] == 0.5
    diff = run(["dvc", "params", "diff", "--md"], repo)
    assert "train.models.ien_r4_b01.ien.beta" in diff and "profile" in diff
    show = run(["dvc", "exp", "show", "--md", "--no-pager"], repo)
    assert "0.5" in show and "smoke" in show
    # the README's sweep-at-a-glance view: one param and two metrics of one run, nothing truncated
    glance = run(["dvc", "exp", "show", "--md", "--no-pager", "--drop", ".*", "--keep",
                  r"Experiment|train\.models\.ien_r4_b01\.ien\.beta|.*/ien_r4_b01\.json:(test_acc|rel_mean)$"], repo)
    rows = [line for line in glance.splitlines() if line.startswith("|")]
    assert max(map(len, rows)) < 200 and "…" not in glance, glance
    assert all(c in rows[0] for c in ("Experiment", "ien.beta", "train/ien_r4_b01.json:test_acc",
                                      "extent/ien_r4_b01.json:rel_mean")), rows[0]
    assert any("| 0.5 " in r for r in rows[2:]) and any("| 0.1 " in r for r in rows[2:]), glance
    # back to β = 0.1: the training runs again (its committed curves keep it out of DVC's run cache), the
    # probe comes from the run cache, and the lock is the one before, byte for byte
    out = run([*CACHED_DVC, "exp", "run", "-S", f"{key}=0.1", "probe_extent@ien_r4_b01"], repo)
    assert ran(out) <= {"train@ien_r4_b01"} and (repo / "dvc.lock").read_bytes() == lock, out[-2000:]

    # narrow code dependencies: a new architecture module and a new transform module rerun nothing (the
    # paper stages' code deps are checked file by file in tests/test_stage_deps.py)
    assert "up to date" in run(["dvc", "status", "--with-deps", *TARGETS], repo)
    (repo / "src/eqlab/models/alexnet.py").write_text('"""A new architecture."""\n')
    (repo / NEW_TRANSFORM_MODULE).write_text('"""A new transform."""\n')
    assert "up to date" in run(["dvc", "status", "--with-deps", *TARGETS], repo)


def _temporaries(repo: Path) -> list[Path]:
    """Hidden ``.*.tmp`` entries outside ``.dvc``; folders that vanish while walked (DVC removes a stage's
    outputs as it starts) are skipped, not an error (``os.walk`` ignores them, ``Path.rglob`` raises)."""
    found = []
    for root, dirs, files in os.walk(repo):
        dirs[:] = [d for d in dirs if d != ".dvc"]
        found += [Path(root) / n for n in (*dirs, *files) if n.startswith(".") and n.endswith(".tmp")]
    return found


@pytest.mark.slow
def test_kill_9_mid_epoch_then_rerun_changes_nothing_downstream(repo):
    """A training stage killed with SIGKILL while it writes leaves temporaries; the next `dvc repro`
    re-runs that stage alone, removes them, and every dependent stage stays as it was."""
    assert "up to date" in run(["dvc", "status", "--with-deps", *TARGETS], repo)  # the smoke pipeline of the test above
    lock = (repo / "dvc.lock").read_bytes()
    proc = subprocess.Popen(["dvc", "repro", "-f", "-s", "train@cnn"], cwd=repo, env=_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 300
    while not _temporaries(repo) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert _temporaries(repo), "the stage ended before it wrote a temporary output"
    os.killpg(proc.pid, signal.SIGKILL)  # dvc and the stage's python
    proc.wait()
    assert "train@cnn" in run(["dvc", "status", "--with-deps", *TARGETS], repo)

    out = run([*CACHED_DVC, "repro", *TARGETS], repo)  # DVC with its YAML parsing cached, as `eqlab repro` runs it
    assert ran(out) == {"train@cnn"}, out[-2000:]
    assert (repo / "dvc.lock").read_bytes() == lock
    assert not _temporaries(repo)


def _queue_done(status: str) -> bool:
    return not re.search(r"\b(Queued|Running)\b", status)


@pytest.mark.slow
def test_queued_sweep_runs_every_experiment_and_shows_them(repo):
    """The README's sweep recipe: `dvc exp run --queue -S key=a,b` queues one experiment per value,
    `dvc queue start` runs them, and both are in `dvc exp show` with their β and metrics. The target
    (one run's chain) keeps the test short; the recipe is the same without it."""
    key = "train.models.ien_r4_b01.ien.beta"
    run(["dvc", "exp", "run", "--queue", "-S", f"{key}=0.05,0.2", "probe_extent@ien_r4_b01"], repo)
    try:
        run(["dvc", "queue", "start", "-j", "2"], repo)
        deadline = time.monotonic() + 900
        status = run(["dvc", "queue", "status"], repo)
        while not _queue_done(status) and time.monotonic() < deadline:
            time.sleep(3)
            status = run(["dvc", "queue", "status"], repo)
        assert _queue_done(status), f"queue still busy after 900 s:\n{status}"
        failed = [line.split()[0] for line in status.splitlines() if "Failed" in line]
        logs = "".join(subprocess.run(["dvc", "queue", "logs", t], cwd=repo, env=_env(), capture_output=True,
                                      text=True).stdout[-3000:] for t in failed)
        assert not failed, status + logs
    finally:
        subprocess.run(["dvc", "queue", "stop", "--kill"], cwd=repo, env=_env(), capture_output=True)
    glance = run(["dvc", "exp", "show", "--md", "--no-pager", "--drop", ".*", "--keep",
                  r"Experiment|train\.models\.ien_r4_b01\.ien\.beta|.*/ien_r4_b01\.json:(test_acc|rel_mean)$"], repo)
    rows = [line for line in glance.splitlines() if line.startswith("|")]
    for beta in ("0.05", "0.2"):
        row = next((r for r in rows if f"| {beta} " in r), None)
        assert row is not None, glance
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert all(c not in ("", "-", "!") for c in cells), row  # its metrics were computed


@pytest.mark.slow
def test_shared_remote_push_then_a_fresh_clone_pulls_and_runs_nothing(repo, tmp_path):
    """The README's lab recipe with a local-directory remote: results pushed from one clone are pulled
    by a fresh clone, whose `dvc repro` then runs nothing."""
    remote = tmp_path / "remote"
    run(["dvc", "remote", "add", "-d", "shared", str(remote)], repo)
    # re-read every file: after `dvc exp run` the index can hold a file's old blob with its new stat
    # (params.yaml's `profile: smoke` has the length of `small`), and `git add` would skip it
    run(["git", "rm", "-r", "-q", "--cached", "."], repo)
    run(["git", "add", "-A"], repo)  # dvc.lock, params and the small git-tracked reports: the lab's state
    run(["git", "commit", "-qm", "smoke results and the shared remote"], repo)
    assert "pushed" in run(["dvc", "push", "--with-deps", *TARGETS], repo)
    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(repo), str(clone)], tmp_path)
    assert "not in cache" in run(["dvc", "status", "--with-deps", *TARGETS], clone)
    run(["dvc", "pull", "--with-deps", *TARGETS], clone)
    assert ran(run(["dvc", "repro", *TARGETS], clone)) == set()
    assert "up to date" in run(["dvc", "status", "--with-deps", *TARGETS], clone)
    model = "data/models/cnn/model.pt"
    assert (clone / model).read_bytes() == (repo / model).read_bytes()


@pytest.mark.slow
def test_disabling_a_run_set_takes_its_stages_away_whole(repo):
    """Last in this module (it changes the shared copy): `eqlab sets disable` removes the set's runs from
    train.models, their stages' outputs and their dvc.lock entries; params still check out."""
    run([sys.executable, "-m", "eqlab", "sets", "disable", "scale_mnist_56"], repo)
    lock = yaml.safe_load((repo / "dvc.lock").read_text())["stages"]
    assert not any(k.endswith("@smnist56_ien") for k in lock) and "train@cnn" in lock
    assert not (repo / "data/models/smnist56_ien").exists() and not (repo / "reports/runs/smnist56_ien.json").exists()
    run([sys.executable, "-m", "eqlab", "validate"], repo)
    status = run(["dvc", "status", "--with-deps", *TARGETS], repo)
    assert "collect" in status and "smnist56" not in status  # collect sees the change; no stage of the set is left
