"""Every stage rejects a bad param with a message naming the key and what is allowed, and loses nothing."""

import copy
import importlib.util
import sys
from dataclasses import dataclass, field
from typing import Literal

import pytest
import yaml

from conftest import ROOT, with_every_set
from eqlab.params import ParamError, build, load_params


def stage(name: str):
    spec = importlib.util.spec_from_file_location(f"stage_{name}", ROOT / "stages" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


@dataclass(frozen=True)
class Demo:
    mode: Literal["a", "b"]
    rate: float = field(default=0.1, metadata={"min": 0.0, "max": 1.0})
    n: int = 3
    names: tuple[str, ...] = ()


def test_build_errors_name_the_key():
    assert build(Demo, {"mode": "a", "names": ["x"]}, "s").names == ("x",)
    cases = [
        ({"mode": "c"}, r"'s.mode' is 'c'; allowed values: \['a', 'b'\]"),
        ({"mode": "a", "rtae": 1}, r"unknown params key\(s\) \['s.rtae'\]; allowed keys: \['mode', 'n', 'names', 'rate'\]"),
        ({}, r"missing params key 's.mode'"),
        ({"mode": "a", "rate": 2.0}, r"'s.rate' is 2.0; allowed range: \[0.0, 1.0\]"),
        ({"mode": "a", "n": 1.5}, r"'s.n' must be an integer"),
        ({"mode": "a", "rate": "x"}, r"'s.rate' must be a number"),
        ({"mode": "a", "names": "x"}, r"'s.names' must be a list"),
    ]
    for data, pattern in cases:
        with pytest.raises(ParamError, match=pattern):
            build(Demo, data, "s")


@pytest.fixture
def params():
    return with_every_set(load_params(ROOT / "params.yaml"))  # the cases name runs of the optional sets too


def run_with(tmp_path, capsys, params, edit, name, argv):
    p = copy.deepcopy(params)
    edit(p)
    f = tmp_path / "params.yaml"
    f.write_text(yaml.safe_dump(p))
    rc = stage(name).cli([*argv, "--params", str(f)])
    return rc, capsys.readouterr().err


def _set(path, value):
    def edit(p):
        node = p
        keys = path.split(".")
        for k in keys[:-1]:
            node = node[k]
        node[keys[-1]] = value
    return edit


DUMMY = ["--data", "/nonexistent/rot_mnist", "--model-dir", "/nonexistent"]
CASES = [
    ("make_dataset", "make_dataset.rot_mnist.source", "kaggle", "allowed values: ['auto', 'embedded', 'mnist_idx', 'amat']",
     ["rot_mnist", "--raw-dir", "x", "--out", "OUT"]),
    ("make_dataset", "profile", "huge", "allowed values: ['small', 'paper', 'smoke']",
     ["rot_mnist", "--raw-dir", "x", "--out", "OUT"]),
    ("make_dataset", "make_dataset.small.rot_mnist.tain", 5, "'make_dataset.small.rot_mnist.tain'",
     ["rot_mnist", "--raw-dir", "x", "--out", "OUT"]),
    ("make_dataset", "make_dataset.blobs.levels", [1, 4], "'make_dataset.blobs.levels' has 4; allowed values: [1, 2, 3]",
     ["blobs", "--raw-dir", "x", "--out", "OUT"]),
    ("make_dataset", "make_dataset.scale_mnist.scale_min", 0.0, "'make_dataset.scale_mnist.scale_min' is 0.0; allowed range",
     ["scale_mnist", "--raw-dir", "x", "--out", "OUT"]),
    ("make_dataset", "make_dataset.small.rot_tim.n_classes", 99, "embedded stand-in has 16 classes; params ask for 99",
     ["rot_tim", "--raw-dir", "x", "--out", "OUT"]),
    ("make_dataset", "make_dataset.r2_tim.flip_prob", 1.5, "'make_dataset.r2_tim.flip_prob' is 1.5; allowed range: [0.0, 1.0]",
     ["r2_tim", "--raw-dir", "x", "--out", "OUT"]),
    ("train", "train.models.cnn.arch", "resnet1000", "train.models.cnn.arch' is 'resnet1000'; allowed values: ['resnet18', 'rotmnist6', 'vgg']",
     ["cnn", *DUMMY, "--metrics", "OUT", "--card", "OUT", "--curves", "OUT"]),
    ("train", "train.optim.lr_max", "fast", "'train.optim.lr_max' must be a number",
     ["cnn", *DUMMY, "--metrics", "OUT", "--card", "OUT", "--curves", "OUT"]),
    ("train", "train.models.cnn.group", "r5", "'train.models.cnn.group' is 'r5'; allowed values: ['r1', 'r2', 'r4', 'r8', 'r4r', 'scale']",
     ["cnn", *DUMMY, "--metrics", "OUT", "--card", "OUT", "--curves", "OUT"]),
    ("train", "train.small.arch_width", {"resnet1000": 0.5}, "'train.small.arch_width (key)' is 'resnet1000'; allowed values: ['resnet18', 'rotmnist6', 'vgg']",
     ["cnn", *DUMMY, "--metrics", "OUT", "--card", "OUT", "--curves", "OUT"]),
    ("train", "train.models.e2cnn_c4.group", "scale", "'train.models.e2cnn_c4.group' is 'scale'; e2cnn models support ['r4', 'r8', 'r4r']",
     ["e2cnn_c4", *DUMMY, "--metrics", "OUT", "--card", "OUT", "--curves", "OUT"]),
    ("train", "train.models.tim_vgg_hetien_r4.ien.het", [8, 4], "'train.models.tim_vgg_hetien_r4.ien.het' must start with the group size 4",
     ["tim_vgg_hetien_r4", *DUMMY, "--metrics", "OUT", "--card", "OUT", "--curves", "OUT"]),
    ("train", "train.models.cnn.family", "escnn", "'train.models.cnn.family' is 'escnn'; allowed values: ['cnn', 'e2cnn']",
     ["cnn", *DUMMY, "--metrics", "OUT", "--card", "OUT", "--curves", "OUT"]),
    ("train", "train.models.cnn.ien", {"augment": False, "beta": 0.1}, "'train.models.cnn.ien.beta' is 0.1 with augment: false",
     ["cnn", *DUMMY, "--metrics", "OUT", "--card", "OUT", "--curves", "OUT"]),
    ("train", "train.models.e2cnn_c4.ien", {"augment": True}, "'train.models.e2cnn_c4.ien': an e2cnn twin is equivariant",
     ["e2cnn_c4", *DUMMY, "--metrics", "OUT", "--card", "OUT", "--curves", "OUT"]),
    ("train", "train.models.tim_vgg_cnn.upsample", 2, "train.models.tim_vgg_cnn: upsample applies to arch 'rotmnist6' only",
     ["tim_vgg_cnn", *DUMMY, "--metrics", "OUT", "--card", "OUT", "--curves", "OUT"]),
    ("probe_extent", "probe_extent.small.n_images", 0, "'probe_extent.small.n_images' is 0; allowed range: [1, None]",
     ["cnn", *DUMMY, "--out", "OUT", "--metrics", "OUT"]),
    ("extract_features", "extract_features.runs.cnn", "scale_mnist", "'extract_features.runs.cnn' must be a mapping with keys ['arch', 'dataset', 'family']",
     ["cnn", *DUMMY, "--out", "OUT"]),
    ("train", "device", "tpu", "'device' is 'tpu'; allowed values: ['auto', 'cpu', 'cuda']",
     ["cnn", *DUMMY, "--metrics", "OUT", "--card", "OUT", "--curves", "OUT"]),
    ("extract_features", "extract_features.transforms", ["rot90", "twist"], "'extract_features.transforms[1]': unknown transform 'twist'; allowed: identity, hflip",
     ["cnn", *DUMMY, "--out", "OUT"]),
    ("extract_features", "extract_features.interpolation", "lanczos", "allowed values: ['nearest', 'bilinear', 'bicubic']",
     ["cnn", *DUMMY, "--out", "OUT"]),
    ("probe_lv_maps", "probe_lv_maps.ridge_lambda", -1.0, "'probe_lv_maps.ridge_lambda' is -1.0; allowed range: [0.0, None]",
     ["cnn", "--features", "x", "--model-dir", "y", "--data", "z", "--out", "OUT", "--metrics", "OUT"]),
    ("probe_lv_maps", "probe_lv_maps.fit_images", 1, "'probe_lv_maps.fit_images' is 1; allowed range: [2, None]",
     ["cnn", "--features", "x", "--model-dir", "y", "--data", "z", "--out", "OUT", "--metrics", "OUT"]),
    ("probe_lv_maps", "probe_lv_maps.lambda", 1.0, "unknown params key(s) ['probe_lv_maps.lambda']; allowed keys:",
     ["cnn", "--features", "x", "--model-dir", "y", "--data", "z", "--out", "OUT", "--metrics", "OUT"]),
    ("probe_hog_maps", "probe_hog_maps.small.n_train", 1, "'probe_hog_maps.small.n_train' is 1; allowed range: [2, None]",
     ["--out", "OUT", "--metrics", "OUT"]),
    ("probe_hog_maps", "probe_hog_maps.flips", ["hflip", "twist"], "'probe_hog_maps.flips[1]' is 'twist'; allowed values: ['hflip', 'vflip']",
     ["--out", "OUT", "--metrics", "OUT"]),
    ("probe_hog_maps", "probe_hog_maps.sweep_angle", 20.0, "params section 'probe_hog_maps': sweep_angle=20.0 must be one of angles",
     ["--out", "OUT", "--metrics", "OUT"]),
    ("probe_hog_maps", "probe_hog_maps.ms", [3, 11], "params section 'probe_hog_maps': ms must be between 1 and in_cells=9, got (3, 11)",
     ["--out", "OUT", "--metrics", "OUT"]),
    ("probe_hog_maps", "probe_hog_maps.angels", [0.0], "unknown params key(s) ['probe_hog_maps.angels']; allowed keys:",
     ["--out", "OUT", "--metrics", "OUT"]),
    ("probe_hog_maps", "probe_hog_maps.n_train", 10, "params key(s) ['probe_hog_maps.n_train'] belong under probe_hog_maps.<profile>",
     ["--out", "OUT", "--metrics", "OUT"]),
    ("probe_hog_maps", "probe_hog_maps.small", {"n_train": 10}, "missing params key 'probe_hog_maps.small.n_val'",
     ["--out", "OUT", "--metrics", "OUT"]),
    ("probe_hog_classify", "probe_hog_classify.digits", [3, 3], "params section 'probe_hog_classify': digits must be two different classes among 0-9, got (3, 3)",
     ["--out", "OUT", "--metrics", "OUT"]),
    ("probe_hog_classify", "probe_hog_classify.small.n_test", 0, "'probe_hog_classify.small.n_test' is 0; allowed range: [2, None]",
     ["--out", "OUT", "--metrics", "OUT"]),
    ("probe_hog_classify", "probe_hog_classify.k", "five", "'probe_hog_classify.k' must be an integer",
     ["--out", "OUT", "--metrics", "OUT"]),
    ("report", "profile", "tiny", "allowed values: ['small', 'paper', 'smoke']",
     ["ien", "--template", "t", "--kernel", "k", "--out-notebook", "OUT", "--out-html", "OUT"]),
]


@pytest.mark.parametrize("name,key,value,message,argv", CASES, ids=[f"{c[0]}:{c[1]}" for c in CASES])
def test_stage_rejects_bad_param(tmp_path, capsys, params, name, key, value, message, argv):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("previous artifact")
    argv = [str(out) if a == "OUT" else a for a in argv]
    rc, err = run_with(tmp_path, capsys, params, _set(key, value), name, argv)
    assert rc == 2, err
    assert message in err, err
    assert (out / "keep.txt").read_text() == "previous artifact"  # nothing lost


def test_lv_maps_refuse_features_of_another_dataset(tmp_path, capsys, params):
    """probe_lv_maps fits on the --data split and scores on --features: both must be the same dataset."""
    feats, model = tmp_path / "features", tmp_path / "model"
    feats.mkdir()
    model.mkdir()
    (feats / "manifest.json").write_text('{"dataset": "rot_mnist"}')
    (model / "config.json").write_text("{}")
    out = tmp_path / "out"
    rc, err = run_with(tmp_path, capsys, params, lambda p: None, "probe_lv_maps",
                       ["cnn", "--features", str(feats), "--model-dir", str(model), "--data", str(tmp_path / "scale_mnist"),
                        "--out", str(out), "--metrics", str(tmp_path / "m.json")])
    assert rc == 2 and "holds features of 'rot_mnist', not of" in err and "scale_mnist" in err, err
    assert not out.exists()


def test_unknown_stage_items_list_allowed(tmp_path, capsys, params):
    rc, err = run_with(tmp_path, capsys, params, lambda p: None, "train", ["nosuchrun", *DUMMY, "--metrics", "m", "--card", "c", "--curves", "c"])
    assert rc == 2 and f"allowed values: {sorted(params['train']['models'])}" in err
    rc, err = run_with(tmp_path, capsys, params, lambda p: None, "extract_features", ["ien_r4", *DUMMY, "--out", "o"])
    assert rc == 2 and f"'extract_features.runs (stage item)' is 'ien_r4'; allowed values: {sorted(params['extract_features']['runs'])}" in err
    rc, err = run_with(tmp_path, capsys, params, lambda p: None, "report",
                       ["nosuchpaper", "--template", "t", "--kernel", "k", "--out-notebook", "a", "--out-html", "b"])
    assert rc == 2 and "allowed values: ['ien', 'datasets', 'lenc_vedaldi', 'jansson', 'jacobsen', 'invariance_review']" in err
    rc, err = run_with(tmp_path, capsys, params, lambda p: None, "make_dataset",
                       ["cifar", "--raw-dir", "r", "--out", "o"])
    assert rc == 2 and "allowed values: ['blobs', 'r2_tim', 'rot_mnist', 'rot_tim', 'scale_mnist']" in err


def test_corrupt_raw_file_fails_the_stage_and_keeps_the_old_dataset(tmp_path, capsys, params):
    from test_data import make_mnist_dir

    m = make_mnist_dir(tmp_path / "raw" / "mnist")
    (m / "train-images-idx3-ubyte").write_bytes(b"\x00\x00\x08\x03garbage")
    out = tmp_path / "ds"
    out.mkdir()
    (out / "meta.json").write_text("{}")
    rc, err = run_with(tmp_path, capsys, params, _set("make_dataset.rot_mnist.source", "mnist_idx"), "make_dataset",
                       ["rot_mnist", "--raw-dir", str(tmp_path / "raw"), "--out", str(out)])
    assert rc == 2 and "train-images-idx3-ubyte" in err and "truncated IDX header" in err
    assert (out / "meta.json").read_text() == "{}"


def test_partial_raw_data_fails_the_stage_in_one_line_naming_the_file(tmp_path, capsys, params):
    from test_data import make_mnist_dir
    from test_more_datasets import make_tim_tree

    raw = tmp_path / "raw"
    m = make_mnist_dir(raw / "mnist")
    (m / "t10k-images-idx3-ubyte").unlink()
    tim = make_tim_tree(raw / "tiny-imagenet-200")
    (tim / "wnids.txt").write_bytes(b"n01\n\xff\n")
    out = tmp_path / "ds"
    out.mkdir()
    (out / "meta.json").write_text("{}")
    for name, expected in (
        ("scale_mnist", f"error: incomplete MNIST IDX files in {m}: missing t10k-images-idx3-ubyte[.gz]"),
        ("rot_tim", f"error: {tim / 'wnids.txt'}: not UTF-8 text (byte 0xff at offset 4)\n"),
    ):
        argv = [name, "--raw-dir", str(raw), "--out", str(out)]
        rc, err = run_with(tmp_path, capsys, params, lambda p: None, "make_dataset", argv)
        assert rc == 2 and err.startswith(expected) and err.count("\n") == 1, err
    assert (out / "meta.json").read_text() == "{}"


def test_params_file_is_valid_for_every_profile(params):
    from eqlab.data.registry import DATASETS, dataset_spec
    from eqlab.runs import run_specs
    from eqlab.train.config import OptimConfig, ProfileConfig

    build(OptimConfig, params["train"]["optim"], "train.optim")
    for prof in ("small", "paper", "smoke"):
        build(ProfileConfig, params["train"][prof], f"train.{prof}")
        for name in DATASETS:
            spec = dataset_spec(name)
            build(spec.config, params["make_dataset"][name], f"make_dataset.{name}")
            build(spec.sizes, params["make_dataset"][prof][name], f"make_dataset.{prof}.{name}")
    run_specs(params["train"]["models"])


if __name__ == "__main__":
    sys.exit(pytest.main([__file__]))


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_a_gpu_is_one_clear_line(tmp_path, capsys, params):
    rc, err = run_with(tmp_path, capsys, params, _set("device", "cuda"), "probe_extent",
                       ["cnn", *DUMMY, "--out", str(tmp_path / "o"), "--metrics", str(tmp_path / "m.json")])
    assert rc == 2 and "params key 'device' is 'cuda' but no CUDA device is available" in err
    assert "Traceback" not in err


def test_truncated_checkpoint_is_one_line_naming_the_file(tmp_path, capsys, params):
    import torch

    from eqlab.io import write_json
    from eqlab.models import build_model

    model_dir = tmp_path / "m"
    model_dir.mkdir()
    torch.save(build_model("rotmnist6", width=0.125).state_dict(), model_dir / "model.pt")
    data = (model_dir / "model.pt").read_bytes()
    (model_dir / "model.pt").write_bytes(data[: len(data) // 2])
    write_json(model_dir / "config.json", {"run": "cnn", "family": "cnn", "arch": "rotmnist6", "group": "r4",
                                          "kwargs": {"width": 0.125}, "spec": {}})
    rc, err = run_with(tmp_path, capsys, params, lambda p: None, "probe_extent",
                       ["cnn", "--data", "x", "--model-dir", str(model_dir), "--out", str(tmp_path / "o"),
                        "--metrics", str(tmp_path / "m.json")])
    assert rc == 2 and f"{model_dir / 'model.pt'}: not a readable state dict" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_dvc_set_changes_exactly_one_line_of_params_yaml(tmp_path, root):
    """`dvc exp run -S key=value` rewrites params.yaml through DVC's YAML round trip: the file is written in
    a style that round trip keeps (no comment after a list item, which it drops), so one `-S` is one line."""
    from dvc.utils.hydra import apply_overrides  # what `dvc exp run -S` calls

    copy = tmp_path / "params.yaml"
    original = (root / "params.yaml").read_text()
    copy.write_text(original)
    apply_overrides(copy, ["profile=smoke"])
    changed = [(a, b) for a, b in zip(original.splitlines(), copy.read_text().splitlines(), strict=True) if a != b]
    assert changed == [("profile: small", "profile: smoke")], changed


@pytest.mark.parametrize(("key", "value", "message"), [
    ("lenc_vedaldi_nets.nets.resnet_s0.transforms", ["vflip", "rot33"],
     "lenc_vedaldi_nets.nets.resnet_s0.transforms: ['rot33'] are not probed; allowed: "),
    ("lenc_vedaldi_nets.nets.vgg_s4.family", "alexnet", "lenc_vedaldi_nets.nets.vgg_s4: unknown family 'alexnet'; families: "),
])
def test_lv_probe_names_a_bad_net_key_and_writes_nothing(tmp_path, capsys, params, key, value, message):
    out = tmp_path / "maps"
    rc, err = run_with(tmp_path, capsys, params, _set(key, value), "probe_lv_nets",
                       ["--data", "x", "--models", "x", "--out-maps", str(out), "--out-invariant", str(tmp_path / "inv"),
                        "--metrics", str(tmp_path / "m.json")])
    assert rc == 2 and message in err and "Traceback" not in err
    assert not out.exists() and not (tmp_path / "m.json").exists()


@pytest.mark.parametrize(("key", "value", "message"), [
    ("lenc_vedaldi_pose.nets", ["anet_s0", "anet_s9"],
     "lenc_vedaldi_pose.nets: ['anet_s9'] are not nets of lenc_vedaldi_nets.nets; allowed: "),
    ("lenc_vedaldi_pose.step", 7, "lenc_vedaldi_pose"),
    ("lenc_vedaldi_pose.small.n_test", 0, "lenc_vedaldi_pose.n_test"),
])
def test_lv_pose_names_a_bad_key_and_writes_nothing(tmp_path, capsys, params, key, value, message):
    out = tmp_path / "pose"
    rc, err = run_with(tmp_path, capsys, params, _set(key, value), "probe_lv_pose",
                       ["--data", "x", "--models", "x", "--out", str(out), "--metrics", str(tmp_path / "m.json")])
    assert rc == 2 and message in err and "Traceback" not in err
    assert not out.exists() and not (tmp_path / "m.json").exists()


def test_lv_stitch_names_an_unknown_skipped_net_and_writes_nothing(tmp_path, capsys, params):
    out = tmp_path / "stitch"
    rc, err = run_with(tmp_path, capsys, params, _set("lenc_vedaldi_nets.stitch.skip", ["places_s9"]), "probe_lv_stitch",
                       ["--data", "x", "--models", "x", "--out", str(out), "--metrics", str(tmp_path / "m.json")])
    assert rc == 2 and "lenc_vedaldi_nets.stitch.skip: ['places_s9'] are not nets; allowed: " in err
    assert "Traceback" not in err and not out.exists() and not (tmp_path / "m.json").exists()


@pytest.mark.parametrize(("name", "key", "value", "message", "extra"), [
    ("probe_dsb", "probe_dsb.kernel", 4, "probe_dsb", ["--dataset", "/nonexistent/blobs"]),
    ("probe_hcnn", "probe_hcnn.q", 3, "q=3", []),
    ("probe_stn", "probe_stn.depths", [0, 5], "depths", []),
])
def test_jacobsen_and_jansson_probes_name_a_bad_key_and_write_nothing(tmp_path, capsys, params, name, key, value,
                                                                     message, extra):  # fmt: skip
    out = tmp_path / "out"
    rc, err = run_with(tmp_path, capsys, params, _set(key, value), name,
                       [*extra, "--out", str(out), "--metrics", str(tmp_path / "m.json")])
    assert rc == 2 and message in err and "Traceback" not in err
    assert not out.exists() and not (tmp_path / "m.json").exists()
