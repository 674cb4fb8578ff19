import gzip
import hashlib
import math
import re
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import ndimage

from eqlab.data import raw
from eqlab.data.layout import choose
from eqlab.data.registry import dataset_spec
from eqlab.data.rot_mnist import RotMnistConfig, SplitSizes, build_rot_mnist, rotate_digits
from eqlab.data.store import Split, load_split, save_dataset


def write_idx(path: Path, arr: np.ndarray, gz: bool = False) -> Path:
    header = struct.pack(">HBB", 0, 0x08, arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape)
    data = header + arr.astype(np.uint8).tobytes()
    if gz:
        path = path.with_name(path.name + ".gz")
        data = gzip.compress(data, mtime=0)
    path.write_bytes(data)
    return path


def fake_digits(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Smooth, asymmetric strokes inside the central 20×20 box, like real digits."""
    rng = np.random.default_rng(seed)
    canvas = np.zeros((n, 28, 28))
    canvas[:, 8:20, 10:18] = rng.random((n, 12, 8))
    canvas[:, 6:10, 10:20] += 1.5  # a bar at the top: no rotational symmetry
    smooth = ndimage.gaussian_filter(canvas, sigma=(0, 1.2, 1.2))
    images = np.round(255 * smooth / smooth.max(axis=(1, 2), keepdims=True)).astype(np.uint8)
    return images, (np.arange(n) % 10).astype(np.uint8)


def make_mnist_dir(d: Path, gz: bool = False, n_train: int = 30, n_test: int = 20) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    for split, n, seed in (("train", n_train, 0), ("test", n_test, 1)):
        im, lab = fake_digits(n, seed)
        write_idx(d / raw.IDX_FILES[f"{split}_images"], im, gz)
        write_idx(d / raw.IDX_FILES[f"{split}_labels"], lab, gz)
    return d


def make_amat_dir(d: Path, n_train: int = 25, n_test: int = 15) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    for key, n, seed in (("train", n_train, 2), ("test", n_test, 3)):
        im, lab = fake_digits(n, seed)
        table = np.concatenate([im.reshape(n, -1) / 255.0, lab[:, None]], axis=1)
        np.savetxt(d / raw.AMAT_FILES[key], table, fmt="%.8f")
    return d


@pytest.mark.parametrize("gz", [False, True])
def test_idx_round_trip(tmp_path, gz):
    d = make_mnist_dir(tmp_path / "mnist", gz)
    train, test = raw.read_mnist_idx(d)
    im, lab = fake_digits(30, 0)
    assert np.array_equal(train.images, im) and np.array_equal(train.labels, lab)
    assert test.images.shape == (20, 28, 28)


def test_idx_corrupt_files_name_the_file(tmp_path):
    d = make_mnist_dir(tmp_path / "mnist")
    p = d / raw.IDX_FILES["train_images"]
    p.write_bytes(p.read_bytes()[:-10])  # truncated
    with pytest.raises(raw.RawDataError, match=f"{p.name}.*header says shape"):
        raw.read_mnist_idx(d)
    p.write_bytes(b"\x00\x00\x0d\x03" + b"\x00" * 20)  # float IDX, not uint8
    with pytest.raises(raw.RawDataError, match=f"{p.name}.*not an unsigned-byte IDX"):
        raw.read_mnist_idx(d)
    gzp = d / (raw.IDX_FILES["test_labels"] + ".gz")
    (d / raw.IDX_FILES["test_labels"]).unlink()
    gzp.write_bytes(b"not gzip at all")
    write_idx(p, fake_digits(30, 0)[0])
    with pytest.raises(raw.RawDataError, match=f"{gzp.name}.*cannot read"):
        raw.read_mnist_idx(d)


def test_idx_missing_file_names_expected_path(tmp_path):
    d = make_mnist_dir(tmp_path / "mnist")
    (d / raw.IDX_FILES["test_labels"]).unlink()
    with pytest.raises(raw.RawDataError, match="missing MNIST file: expected .*t10k-labels-idx1-ubyte"):
        raw.read_mnist_idx(d)


def test_idx_label_count_mismatch(tmp_path):
    d = make_mnist_dir(tmp_path / "mnist")
    write_idx(d / raw.IDX_FILES["train_labels"], np.zeros(29, np.uint8))
    with pytest.raises(raw.RawDataError, match="expected 30 labels"):
        raw.read_mnist_idx(d)


def test_amat_round_trip_and_errors(tmp_path):
    d = make_amat_dir(tmp_path / "amat")
    train, test = raw.read_rotation_amat(d)
    im, lab = fake_digits(25, 2)
    assert np.array_equal(train.images, im) and np.array_equal(train.labels, lab)
    bad = d / raw.AMAT_FILES["test"]
    bad.write_text("0.5 0.5 3\n")
    with pytest.raises(raw.RawDataError, match=f"{bad.name}: expected 785 columns"):
        raw.read_amat(bad)
    bad.write_text(" ".join(["0.1"] * 784 + ["11"]) + "\n")
    with pytest.raises(raw.RawDataError, match="integer labels 0-9"):
        raw.read_amat(bad)
    bad.write_text(" ".join(["abc"] * 785) + "\n")
    with pytest.raises(raw.RawDataError, match="not a table of numbers"):
        raw.read_amat(bad)


def test_auto_picks_richest_source(tmp_path):
    pref = ("amat", "mnist_idx")
    assert choose(tmp_path, "auto", pref) == ("embedded", None)
    m = make_mnist_dir(tmp_path / "mnist")
    (m / ".DS_Store").write_bytes(b"\0")  # junk beside a complete set is harmless
    assert choose(tmp_path, "auto", pref) == ("mnist_idx", m)
    a = make_amat_dir(tmp_path / "mnist_rotation_new")
    assert choose(tmp_path, "auto", pref) == ("amat", a)
    assert choose(tmp_path, "mnist_idx", pref) == ("mnist_idx", m)
    assert choose(tmp_path, "embedded", pref) == ("embedded", None)


# ---------------------------------------------------------------- data/raw layout (source: auto)


def build_from(name: str, raw_root: Path, source: str = "auto"):
    """Build dataset ``name`` through the registry, as ``make_dataset`` does."""
    spec = dataset_spec(name)
    return spec.build(spec.config(source=source), SplitSizes(10, 5, 5), raw_root)


def raises_naming(text: str, tail: str = ""):
    return pytest.raises(raw.RawDataError, match=re.escape(text) + tail)


@pytest.mark.parametrize("name", ["rot_mnist", "scale_mnist"])
@pytest.mark.parametrize(
    "key,gz", [("train_images", False), ("train_labels", True), ("test_images", True), ("test_labels", False)]
)
def test_auto_refuses_three_of_the_four_idx_files(tmp_path, name, key, gz):
    m = make_mnist_dir(tmp_path / "mnist", gz)
    (m / (raw.IDX_FILES[key] + (".gz" if gz else ""))).unlink()
    with raises_naming(f"incomplete MNIST IDX files in {m}: missing {raw.IDX_FILES[key]}[.gz] (found "):
        build_from(name, tmp_path)


@pytest.mark.parametrize("kept,idx_too", [("train", False), ("test", True)])
def test_auto_refuses_one_of_the_two_amat_files(tmp_path, kept, idx_too):
    a = make_amat_dir(tmp_path / "mnist_rotation_new")
    gone = raw.AMAT_FILES["test" if kept == "train" else "train"]
    (a / gone).unlink()
    if idx_too:  # a complete IDX set is no excuse: the half-present amat pair is still an error
        make_mnist_dir(tmp_path / "mnist")
    with raises_naming(
        f"incomplete mnist_rotation_new .amat files in {a}: missing {gone} (found {raw.AMAT_FILES[kept]})"
    ):
        build_from("rot_mnist", tmp_path)


@pytest.mark.parametrize("folder", ["mnist", "mnist_rotation_new"])
@pytest.mark.parametrize("junk", [(), (".DS_Store", "Thumbs.db", "._x")])
def test_auto_refuses_an_empty_digit_folder(tmp_path, folder, junk):
    d = tmp_path / folder
    d.mkdir()
    for j in junk:
        (d / j).write_bytes(b"\0")
    with raises_naming(f"in {d}: missing ", ".*the folder is empty"):
        build_from("rot_mnist", tmp_path)


def test_auto_refuses_misplaced_digit_files(tmp_path):
    make_mnist_dir(tmp_path)  # the IDX files at the top of data/raw, not in data/raw/mnist/
    with raises_naming(
        f"misplaced MNIST IDX files: found {tmp_path / 't10k-images-idx3-ubyte'}, ",
        ".*" + re.escape(f", but source 'mnist_idx' reads {tmp_path / 'mnist'}/ only"),
    ):
        build_from("scale_mnist", tmp_path)
    r2 = tmp_path / "r2"
    make_mnist_dir(r2 / "mnist")
    make_amat_dir(r2 / "mnist")  # the .amat files beside the IDX files
    with raises_naming(f"misplaced mnist_rotation_new .amat files: found {r2 / 'mnist' / raw.AMAT_FILES['test']}"):
        build_from("rot_mnist", r2)
    assert build_from("scale_mnist", r2)[1]["source"] == "mnist_idx"  # scale_mnist reads no .amat
    r3 = tmp_path / "r3"
    r3.mkdir()
    (r3 / "mnist.zip").write_bytes(b"PK")  # downloaded, not extracted
    with raises_naming(f"misplaced MNIST IDX files: found {r3 / 'mnist.zip'}"):
        build_from("rot_mnist", r3)


def test_auto_uses_embedded_only_when_nothing_of_mnist_is_there(tmp_path):
    (tmp_path / "README.md").write_text("what goes where")
    (tmp_path / ".DS_Store").write_bytes(b"\0")
    (tmp_path / "notes").mkdir()
    for name in ("rot_mnist", "scale_mnist"):
        assert build_from(name, tmp_path)[1]["source"] == "embedded"
    assert choose(tmp_path / "absent", "auto", ("amat", "mnist_idx")) == ("embedded", None)
    with raises_naming(f"source 'mnist_idx' needs the MNIST IDX files in {tmp_path / 'mnist'}/, which does not exist"):
        build_from("scale_mnist", tmp_path, "mnist_idx")


def test_rotation_direction_matches_an_independent_implementation():
    digit = fake_digits(1, 5)[0].astype(np.float64)
    ours = rotate_digits(digit.astype(np.uint8), np.array([math.radians(30)]), "bilinear")[0, 0].astype(float)
    ccw = ndimage.rotate(digit[0], 30, reshape=False, order=1)  # scipy: counter-clockwise on screen
    cw = ndimage.rotate(digit[0], -30, reshape=False, order=1)
    assert np.abs(ours - ccw).mean() < 0.1 * np.abs(ours - cw).mean()


def test_rot_mnist_from_idx_protocol(tmp_path):
    m = make_mnist_dir(tmp_path / "mnist")
    cfg = RotMnistConfig(source="mnist_idx", seed=3)
    splits, meta = build_rot_mnist(cfg, SplitSizes(20, 10, 15), tmp_path)
    assert meta["source"] == "mnist_idx" and "pooled" in meta["origin"]
    assert {k: len(s.labels) for k, s in splits.items()} == {"train": 20, "val": 10, "test": 15}
    angles = np.concatenate([s.factors["angle"] for s in splits.values()])
    assert angles.min() >= 0 and angles.max() < 2 * math.pi and len(np.unique(angles)) == 45
    # each stored image is its source digit turned by the stored angle: turning it back recovers
    # the source inside the disk, within interpolation error
    tr, te = raw.read_mnist_idx(m)
    pool = np.concatenate([tr.images, te.images]).astype(np.float64)
    order = np.random.default_rng(3).permutation(50)[:45]
    s = splits["train"]
    for i in range(5):
        back = ndimage.rotate(s.images[i, 0].astype(float), -math.degrees(s.factors["angle"][i]),
                              reshape=False, order=1)
        src = pool[order[i]]
        err = np.abs(back - src)[6:22, 6:22].mean() / max(src[6:22, 6:22].mean(), 1)
        assert err < 0.15, (i, err)


def test_rot_mnist_amat_used_as_is(tmp_path):
    a = make_amat_dir(tmp_path / "mnist_rotation_new")
    splits, meta = build_rot_mnist(RotMnistConfig(source="amat"), SplitSizes(10, 5, 15), tmp_path)
    train_all, test_all = raw.read_rotation_amat(a)
    assert np.array_equal(splits["train"].images[:, 0], train_all.images[:10])
    assert np.array_equal(splits["val"].images[:, 0], train_all.images[-5:])
    assert np.isnan(splits["test"].factors["angle"]).all()
    with pytest.raises(ValueError, match="exceeds"):
        build_rot_mnist(RotMnistConfig(source="amat"), SplitSizes(20, 10, 1), tmp_path)


def _digest(d: Path) -> dict[str, str]:
    return {p.name: hashlib.md5(p.read_bytes()).hexdigest() for p in sorted(d.iterdir())}


def test_same_params_same_bytes(tmp_path):
    cfg, sizes = RotMnistConfig(source="embedded", seed=7), SplitSizes(40, 10, 20)
    for name in ("a", "b"):
        splits, meta = build_rot_mnist(cfg, sizes, tmp_path)
        save_dataset(tmp_path / name, splits, meta)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    splits, meta = build_rot_mnist(RotMnistConfig(source="embedded", seed=8), sizes, tmp_path)
    save_dataset(tmp_path / "c", splits, meta)
    assert _digest(tmp_path / "a")["train_images.npy"] != _digest(tmp_path / "c")["train_images.npy"]
    back = load_split(tmp_path / "a", "val")
    assert back.images.shape == (10, 1, 28, 28) and back.images.dtype == np.uint8


def test_split_validation():
    with pytest.raises(ValueError, match="uint8"):
        Split(np.zeros((2, 1, 4, 4), np.float32), np.zeros(2, np.int64))
    with pytest.raises(ValueError, match="angle has 3 entries"):
        Split(np.zeros((2, 1, 4, 4), np.uint8), np.zeros(2, np.int64), {"angle": np.zeros(3)})


def test_embedded_digits_are_real_mnist():
    d = raw.embedded_digits()
    assert d.images.shape == (5000, 28, 28) and np.bincount(d.labels).tolist() == [500] * 10
    # real digits: centred mass, empty border
    assert d.images[:, :2].max() == 0 or d.images[:, :2].mean() < 1
    assert torch.from_numpy(d.images[:, 10:18, 10:18].astype(np.float32)).mean() > 50
