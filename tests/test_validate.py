"""`eqlab validate` finds every bad param and dangling run reference before `dvc repro` runs anything."""

from __future__ import annotations

import copy

import pytest
import yaml

from conftest import ROOT
from eqlab.__main__ import main
from eqlab.params import load_params
from eqlab.validate import validate


@pytest.fixture
def params():
    return load_params(ROOT / "params.yaml")


def test_the_committed_params_check_out(params, tmp_path):
    assert validate(params, tmp_path) == []


def test_every_problem_is_reported_with_its_key(params, tmp_path):
    p = copy.deepcopy(params)
    p["extract_features"]["runs"]["ien_r4"] = {"dataset": "rot_mnist", "family": "cnn", "arch": "vgg"}
    p["extract_features"]["runs"]["nosuchrun"] = {"dataset": "rot_mnist", "family": "cnn", "arch": "rotmnist6"}
    p["train"]["optional"]["tim_vgg_cnn"]["upsample"] = 2  # a run set that is not enabled is checked too
    p["train"]["models"]["cnn"]["ien"] = {"augment": False, "beta": 0.1}
    p["train"]["models"]["cnn_aug"]["dataset"] = "cifar"
    p["probe_extent"]["lie_flows"] = ["rotate", "twirl"]
    p["extract_features"]["transforms"] = ["rot90", "twist"]
    p["probe_hog_maps"]["sweep_angle"] = 20.0
    problems = validate(p, tmp_path)
    expected = [
        "'extract_features.runs.ien_r4.arch' is 'vgg', but train.models.ien_r4.arch is 'rotmnist6'",
        "'extract_features.runs.nosuchrun' names run 'nosuchrun'",
        "train.optional.tim_vgg_cnn: upsample applies to arch 'rotmnist6' only",
        "'train.models.cnn.ien.beta' is 0.1 with augment: false",
        "'train.models.cnn_aug.dataset' is 'cifar'; allowed values:",
        "'probe_extent.lie_flows[1]' is 'twirl'; allowed values:",
        "'extract_features.transforms[1]': unknown transform 'twist'",
        "params section 'probe_hog_maps': sweep_angle=20.0 must be one of angles",
        # and their consequences for the listed runs
        "'extract_features.runs.cnn' names run 'cnn', which is not a valid run",
        "'extract_features.runs.cnn_aug.dataset' is 'rot_mnist', but train.models.cnn_aug.dataset is 'cifar'",
        "'probe_alignment.trained_runs': ['cnn'] are not valid runs of train.models",
    ]
    for e in expected:
        assert any(e in line for line in problems), (e, problems)
    assert len(problems) == len(expected), problems


def test_stale_outputs_of_removed_runs_are_named(params, tmp_path):
    (tmp_path / "data/probes/extent/old_run").mkdir(parents=True)
    problems = validate(params, tmp_path)
    assert len(problems) == 1 and "data/probes/extent/old_run" in problems[0]


def test_cli_exit_codes(params, tmp_path, capsys):
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump(params))
    assert main(["validate", "--params", str(good), "--root", str(tmp_path)]) == 0
    p = copy.deepcopy(params)
    p["device"] = "tpu"
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(p))
    assert main(["validate", "--params", str(bad), "--root", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "'device' is 'tpu'; allowed values: ['auto', 'cpu', 'cuda']" in err and "nothing was run" in err


def test_data_raw_layout_problems_are_reported_before_anything_runs(params, tmp_path, capsys):
    from test_data import make_mnist_dir
    from test_more_datasets import make_tim_tree

    raw = tmp_path / "data" / "raw"
    m = make_mnist_dir(raw / "mnist")
    (m / "train-labels-idx1-ubyte").unlink()
    tim = make_tim_tree(raw / "tiny-imagenet-200")
    (tim / "wnids.txt").write_bytes(b"n01\nn02\xff\n")
    p = copy.deepcopy(params)
    p["make_dataset"]["blobs"]["source"] = "kth_tips"
    problems = validate(p, tmp_path)
    assert problems == [
        f"make_dataset.rot_mnist.source, make_dataset.scale_mnist.source: incomplete MNIST IDX files in {m}: "
        "missing train-labels-idx1-ubyte[.gz] (found t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, "
        "train-images-idx3-ubyte); complete it or remove it (see data/raw/README.md)",
        f"make_dataset.rot_tim.source, make_dataset.r2_tim.source: {tim / 'wnids.txt'}: not UTF-8 text "
        "(byte 0xff at offset 7)",
        f"make_dataset.blobs.source: source 'kth_tips' needs the KTH-TIPS textures in {raw / 'kth_tips'}/, "
        "which does not exist (see data/raw/README.md)",
    ], problems
    f = tmp_path / "params.yaml"
    f.write_text(yaml.safe_dump(p))
    assert main(["validate", "--params", str(f), "--root", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"3 problem(s) in {f} or {raw}; nothing was run" in err
