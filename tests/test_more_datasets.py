"""Scale-MNIST, Rot-TIM / R2-TIM and textured blobs: loaders on files written here, protocols, determinism."""

import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage
from test_data import _digest, fake_digits, make_mnist_dir, raises_naming

from eqlab.data import blobs as B
from eqlab.data.card import write_card
from eqlab.data.raw import RawDataError
from eqlab.data.rot_mnist import SplitSizes
from eqlab.data.scale_mnist import ScaleMnistConfig, build_scale_mnist, shrink_digits, stratified_split
from eqlab.data.store import load_meta, save_dataset
from eqlab.data.tinyimagenet import TimConfig, TimSizes, build_tim, read_tinyimagenet
from eqlab.groups import circular_mask
from eqlab.report.datasets import claim_blob_difficulty

# ---------------------------------------------------------------- Scale-MNIST


def test_stratified_split_keeps_class_proportions():
    labels = np.repeat(np.arange(10), [50, 60, 70, 80, 90, 100, 110, 120, 130, 140])
    parts = stratified_split(labels, SplitSizes(300, 100, 200), seed=0)
    assert [len(parts[k]) for k in ("train", "val", "test")] == [300, 100, 200]
    assert not set(parts["train"]) & set(parts["test"]) and not set(parts["val"]) & set(parts["test"])
    frac = np.bincount(labels) / len(labels)
    np.testing.assert_allclose(np.bincount(labels[parts["train"]]) / 300, frac, atol=1 / 300 + 1e-9)


def test_shrink_digits_scales_the_extent():
    digit = np.zeros((1, 28, 28), np.uint8)
    digit[0, 4:24, 4:24] = 255  # a 20-px square
    for s in (0.3, 0.5, 1.0):
        out, eff = shrink_digits(digit, np.array([s]))
        rows = np.flatnonzero(out[0, 0].max(1) > 127)
        assert abs(len(rows) - 20 * eff[0]) <= 1.5, (s, len(rows))
        assert abs(rows.mean() - 13.5) <= 1.0  # stays centred
        assert eff[0] == pytest.approx(round(28 * s) / 28)


def test_scale_mnist_from_idx(tmp_path):
    make_mnist_dir(tmp_path / "mnist", n_train=40, n_test=20)
    cfg = ScaleMnistConfig(source="auto", seed=1)
    splits, meta = build_scale_mnist(cfg, SplitSizes(30, 10, 20), tmp_path)
    assert meta["source"] == "mnist_idx"
    s = splits["train"].factors["scale"]
    assert s.min() >= 0.3 - 1 / 28 and s.max() <= 1.0
    assert np.all(np.abs(splits["train"].factors["scale_drawn"] - s) <= 0.5 / 28 + 1e-6)
    for name in ("a", "b"):
        save_dataset(tmp_path / name, *build_scale_mnist(cfg, SplitSizes(30, 10, 20), tmp_path))
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")


# ---------------------------------------------------------------- TinyImageNet


def _smooth_rgb(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:64, 0:64]
    base = np.stack([np.sin(xx / rng.uniform(4, 9)) + np.cos(yy / rng.uniform(4, 9)) * c for c in (1.0, 0.5, -0.7)], -1)
    return np.clip(127 + 60 * base, 0, 255).astype(np.uint8)


def make_tim_tree(root, wnids=("n01", "n02", "n03"), n_train=6, n_val=3):
    root.mkdir(parents=True)
    (root / "wnids.txt").write_text("\n".join(wnids) + "\n")
    (root / "val" / "images").mkdir(parents=True)
    lines = []
    for k, w in enumerate(wnids):
        d = root / "train" / w / "images"
        d.mkdir(parents=True)
        for i in range(n_train):
            Image.fromarray(_smooth_rgb(100 * k + i)).save(d / f"{w}_{i}.JPEG", quality=95)
        for i in range(n_val):
            name = f"val_{k * n_val + i}.JPEG"
            Image.fromarray(_smooth_rgb(1000 + 100 * k + i)).save(root / "val" / "images" / name, quality=95)
            lines.append(f"{name}\t{w}\t0\t0\t63\t63")
    (root / "val" / "val_annotations.txt").write_text("\n".join(lines) + "\n")
    return root


def test_tinyimagenet_reader_and_protocol(tmp_path):
    make_tim_tree(tmp_path / "raw" / "tiny-imagenet-200")
    sizes = TimSizes(n_classes=2, train_per_class=4, val_per_class=2, test_per_class=3)
    splits, meta = build_tim("rot_tim", TimConfig(seed=0), sizes, tmp_path / "raw")
    assert meta["source"] == "tinyimagenet" and len(meta["classes"]) == 2
    assert {k: len(v.labels) for k, v in splits.items()} == {"train": 8, "val": 4, "test": 12}  # 2 copies
    outside = ~circular_mask(64, 64).numpy()
    for s in splits.values():
        assert s.images.shape[1:] == (3, 64, 64) and s.images[..., outside].max() == 0
        assert s.factors["hflip"].sum() == 0 and s.factors["vflip"].sum() == 0
    # the two test copies of one image are the same picture at two angles
    t = splits["test"]
    assert t.labels[0] == t.labels[1] and t.factors["angle"][0] != t.factors["angle"][1]
    # turning a stored image back by its angle recovers the source inside the disk
    arrays, _ = read_tinyimagenet(tmp_path / "raw" / "tiny-imagenet-200", sizes, 0)
    src = arrays["train"][0][0].astype(float)
    img = splits["train"].images[0].astype(float)
    inner = (np.hypot(*np.mgrid[0:64, 0:64] - 31.5) < 22)
    for sign, ok in ((-1, True), (1, False)):
        back = np.stack([ndimage.rotate(c, sign * math.degrees(splits["train"].factors["angle"][0]),
                                        reshape=False, order=1) for c in img])
        err = np.abs(back - src)[:, inner].mean()
        assert (err < 12) == ok, (sign, err)


def test_tinyimagenet_errors_name_the_file(tmp_path):
    root = make_tim_tree(tmp_path / "t")
    sizes = TimSizes(2, 4, 2, 3)
    bad = root / "train" / "n02" / "images" / "n02_0.JPEG"
    bad.write_bytes(b"not a jpeg")
    with pytest.raises(RawDataError, match="n02_0.JPEG: not a readable image"):
        read_tinyimagenet(root, TimSizes(3, 4, 2, 3), 0)
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(bad)
    with pytest.raises(RawDataError, match="n02_0.JPEG: expected a 64×64 image"):
        read_tinyimagenet(root, TimSizes(3, 4, 2, 3), 0)
    (root / "val" / "val_annotations.txt").unlink()
    Image.fromarray(_smooth_rgb(0)).save(bad)
    with pytest.raises(RawDataError, match="expected .*val_annotations.txt"):
        read_tinyimagenet(root, TimSizes(3, 4, 2, 3), 0)
    with pytest.raises(RawDataError, match="lists 3 classes, params ask for 5"):
        read_tinyimagenet(root, TimSizes(5, 4, 2, 3), 0)
    (root / "wnids.txt").unlink()
    with pytest.raises(RawDataError, match="expected .*wnids.txt"):
        read_tinyimagenet(root, sizes, 0)


TIM_SIZES = TimSizes(n_classes=2, train_per_class=4, val_per_class=2, test_per_class=3)


def test_auto_refuses_a_tim_tree_without_wnids(tmp_path):
    root = make_tim_tree(tmp_path / "tiny-imagenet-200")
    (root / "wnids.txt").unlink()
    with raises_naming(f"incomplete TinyImageNet in {root}: missing wnids.txt (found train/, val/)"):
        build_tim("rot_tim", TimConfig(), TIM_SIZES, tmp_path)


def test_tim_unpacked_one_level_too_deep_is_read_where_it_is(tmp_path):
    outer = tmp_path / "raw" / "tiny-imagenet-200"
    inner = make_tim_tree(outer / "tiny-imagenet-200")
    (outer / ".DS_Store").write_bytes(b"\0")
    (outer / "__MACOSX").mkdir()
    splits, meta = build_tim("rot_tim", TimConfig(), TIM_SIZES, tmp_path / "raw")
    assert meta["source"] == "tinyimagenet" and meta["origin"] == f"TinyImageNet at {inner}"
    flat, _ = build_tim(
        "rot_tim", TimConfig(), TIM_SIZES, make_tim_tree(tmp_path / "flat" / "tiny-imagenet-200").parent
    )
    assert all(np.array_equal(splits[k].images, flat[k].images) for k in splits)
    (inner / "val" / "val_annotations.txt").unlink()  # one level down, still checked
    with raises_naming(f"incomplete TinyImageNet in {inner}: missing val/val_annotations.txt"):
        build_tim("rot_tim", TimConfig(), TIM_SIZES, tmp_path / "raw")


@pytest.mark.parametrize("folder", ["tiny-imagenet-200", "kth_tips"])
@pytest.mark.parametrize("junk", [(), (".DS_Store", "__MACOSX/")])
def test_auto_refuses_an_empty_tim_or_kth_folder(tmp_path, folder, junk):
    d = tmp_path / folder
    d.mkdir()
    for j in junk:
        (d / j).mkdir() if j.endswith("/") else (d / j).write_bytes(b"\0")
    title = "TinyImageNet" if folder == "tiny-imagenet-200" else "KTH-TIPS textures"
    with raises_naming(f"incomplete {title} in {d}: missing ", ".*the folder is empty"):
        if folder == "kth_tips":
            B.build_blobs(B.BlobsConfig(), B.BlobSizes(1, 1, 1), tmp_path)
        else:
            build_tim("r2_tim", TimConfig(), TIM_SIZES, tmp_path)


def test_auto_refuses_misplaced_tim_and_kth(tmp_path):
    (tmp_path / "tiny-imagenet-200.zip").write_bytes(b"PK")  # downloaded, not extracted
    (tmp_path / "kth-tips" / "sponge").mkdir(parents=True)  # a near miss of kth_tips/
    with raises_naming(
        f"misplaced TinyImageNet: found {tmp_path / 'tiny-imagenet-200.zip'}, but source "
        f"'tinyimagenet' reads {tmp_path / 'tiny-imagenet-200'}/ only"
    ):
        build_tim("rot_tim", TimConfig(), TIM_SIZES, tmp_path)
    with raises_naming(
        f"misplaced KTH-TIPS textures: found {tmp_path / 'kth-tips'}, but source 'kth_tips' "
        f"reads {tmp_path / 'kth_tips'}/ only"
    ):
        B.build_blobs(B.BlobsConfig(), B.BlobSizes(1, 1, 1), tmp_path)


def test_auto_uses_the_tim_stand_in_only_when_nothing_of_it_is_there(tmp_path):
    make_mnist_dir(tmp_path / "mnist")  # other datasets' files do not count
    (tmp_path / ".DS_Store").write_bytes(b"\0")
    _, meta = build_tim("rot_tim", TimConfig(), TimSizes(2, 2, 1, 1), tmp_path)
    assert meta["source"] == "embedded"
    with raises_naming(
        f"source 'tinyimagenet' needs the TinyImageNet in {tmp_path / 'tiny-imagenet-200'}/, which does not exist"
    ):
        build_tim("rot_tim", TimConfig(source="tinyimagenet"), TIM_SIZES, tmp_path)


def test_non_utf8_tim_text_files_are_named(tmp_path):
    root = make_tim_tree(tmp_path / "tiny-imagenet-200")
    (root / "wnids.txt").write_bytes("n01\nn02\nn03\n# caf\xe9\n".encode("latin-1"))
    with raises_naming(f"{root / 'wnids.txt'}: not UTF-8 text (byte 0xe9 at offset"):
        build_tim("rot_tim", TimConfig(), TIM_SIZES, tmp_path)
    (root / "wnids.txt").write_text("n01\nn02\nn03\n")
    ann = root / "val" / "val_annotations.txt"
    ann.write_bytes(ann.read_bytes().replace(b"\t0\t0", "\tcaf\xe9".encode("latin-1"), 1))
    with raises_naming(f"{ann}: not UTF-8 text"):
        build_tim("rot_tim", TimConfig(), TIM_SIZES, tmp_path)


def test_r2_flip_fraction_matches_param(tmp_path):
    sizes = TimSizes(n_classes=4, train_per_class=100, val_per_class=1, test_per_class=1)
    splits, meta = build_tim("r2_tim", TimConfig(source="embedded", flip_prob=0.5, seed=3), sizes, tmp_path)
    h, v = splits["train"].factors["hflip"], splits["train"].factors["vflip"]
    assert abs(h.mean() - 0.5) < 0.08 and abs(v.mean() - 0.5) < 0.08
    splits, _ = build_tim("r2_tim", TimConfig(source="embedded", flip_prob=0.2, seed=3), sizes, tmp_path)
    assert abs(splits["train"].factors["hflip"].mean() - 0.2) < 0.07


def test_embedded_stand_in_is_labelled_and_not_colour_solvable(tmp_path):
    sizes = TimSizes(n_classes=8, train_per_class=40, val_per_class=5, test_per_class=20)
    splits, meta = build_tim("rot_tim", TimConfig(source="auto"), sizes, tmp_path)
    assert meta["source"] == "embedded" and "NOT TinyImageNet" in meta["origin"]
    assert meta["colour_baseline"]["accuracy"] < 2.5 * meta["colour_baseline"]["chance"]
    # the test crops come from a band of each picture that the training crops never touch
    assert len(set(meta["classes"])) == 8


# ---------------------------------------------------------------- textured blobs


def test_blob_sample_depends_only_on_its_coordinates():
    cfg, tex = B.BlobsConfig(seed=4), B.embedded_textures(4)
    splits, _ = B.build_blobs(cfg, B.BlobSizes(3, 2, 4), Path("/nonexistent"))
    test = splits["test"]
    i = int(np.flatnonzero(test.labels == 2)[3])
    img, bd = B.blob_sample(cfg, tex, "test", 2, 3)
    assert np.array_equal(test.images[i, 0], img) and np.array_equal(test.targets[i, 0], bd)
    other, _ = B.blob_sample(cfg, tex, "val", 2, 3)
    assert not np.array_equal(other, img)


def test_boundary_is_the_edge_band():
    mask = np.zeros((20, 20), bool)
    mask[5:15, 5:15] = True
    bd = B.boundary(mask, 2.0)
    assert bd[5, 8] and bd[4, 8] and not bd[8, 8] and not bd[2, 8]


def test_boundary_f_measure():
    t = np.zeros((2, 16, 16), np.uint8)
    t[:, 8, 2:14] = 1
    assert B.boundary_f_measure(t.astype(float), t, 1)["f_measure"] == 1.0
    shifted = np.roll(t, 1, axis=1).astype(float)
    assert B.boundary_f_measure(shifted, t, 1)["f_measure"] == 1.0
    assert B.boundary_f_measure(shifted, t, 0)["f_measure"] == 0.0
    assert B.boundary_f_measure(np.zeros((2, 16, 16)), t, 2)["f_measure"] == 0.0


def test_gradient_magnitude_separates_the_levels():
    splits, meta = B.build_blobs(B.BlobsConfig(), B.BlobSizes(1, 1, 30), Path("/nonexistent"))
    d = meta["difficulty"]["levels"]
    assert d["level1"]["f_measure"] > 0.9
    assert d["level2"]["f_measure"] < 0.5 and d["level3"]["f_measure"] < 0.5


def test_blob_claim_logic():
    meta = {"difficulty": {"levels": {f"level{i}": {"f_measure": f} for i, f in ((1, 0.9), (2, 0.3), (3, 0.2))}}}
    assert claim_blob_difficulty(meta).verdict == "holds"
    meta["difficulty"]["levels"]["level3"]["f_measure"] = 0.4
    assert claim_blob_difficulty(meta).verdict == "does not hold"


def test_kth_tips_tree_is_used_and_checked(tmp_path):
    root = tmp_path / "raw" / "kth_tips"
    rng = np.random.default_rng(0)
    for c in ("aluminium_foil", "sponge", "cotton"):
        (root / c).mkdir(parents=True)
        tex = ndimage.gaussian_filter(rng.normal(size=(100, 100)), 2)
        Image.fromarray(np.clip(128 + 400 * tex, 0, 255).astype(np.uint8)).save(root / c / "s1.png")
    splits, meta = B.build_blobs(B.BlobsConfig(), B.BlobSizes(2, 2, 2), tmp_path / "raw")
    assert meta["source"] == "kth_tips" and meta["textures"] == ["aluminium_foil", "cotton", "sponge"]
    (root / "sponge" / "s1.png").write_bytes(b"broken")
    with pytest.raises(RawDataError, match="s1.png: not a readable image"):
        B.build_blobs(B.BlobsConfig(), B.BlobSizes(2, 2, 2), tmp_path / "raw")


def test_kth_tips_junk_is_neither_a_class_nor_an_image(tmp_path):
    root = tmp_path / "kth_tips"
    rng = np.random.default_rng(1)
    for c in ("cotton", "sponge"):
        (root / c).mkdir(parents=True)
        tex = ndimage.gaussian_filter(rng.normal(size=(64, 64)), 2)
        Image.fromarray(np.clip(128 + 400 * tex, 0, 255).astype(np.uint8)).save(root / c / "s1.png")
        (root / c / "._s0.png").write_bytes(b"\0\5\x16\7")  # macOS resource fork, sorts first
    (root / "__MACOSX" / "cotton").mkdir(parents=True)
    (root / ".DS_Store").write_bytes(b"\0")
    _, meta = B.build_blobs(B.BlobsConfig(), B.BlobSizes(1, 1, 1), tmp_path)
    assert meta["source"] == "kth_tips" and meta["textures"] == ["cotton", "sponge"]
    (root / "sponge" / "s1.png").unlink()
    with raises_naming(f"incomplete KTH-TIPS textures in {root}: missing images in sponge/"):
        B.build_blobs(B.BlobsConfig(), B.BlobSizes(1, 1, 1), tmp_path)


def test_dataset_card(tmp_path):
    splits, meta = B.build_blobs(B.BlobsConfig(), B.BlobSizes(4, 2, 4), tmp_path)
    meta["profile"] = "smoke"
    save_dataset(tmp_path / "ds", splits, meta)
    write_card(tmp_path / "card", "blobs", "Textured blobs", splits, load_meta(tmp_path / "ds"),
               {"seed": 0}, {"train": 4})
    text = (tmp_path / "card" / "card.md").read_text()
    assert "source used**: `embedded`" in text and "| train | 12 |" in text and "level1" in text
    png = np.asarray(Image.open(tmp_path / "card" / "examples.png"))
    assert png.ndim == 3 and png.shape[2] == 3


def test_mnist_fake_digits_helper_is_deterministic():
    assert np.array_equal(fake_digits(3, 1)[0], fake_digits(3, 1)[0])
