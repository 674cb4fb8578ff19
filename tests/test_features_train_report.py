import json

import nbformat
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import torch

from conftest import SymmetricNet
from eqlab.features.extract import extract_features
from eqlab.features.store import partition, read_block, read_manifest
from eqlab.groups import get_transform, group_elements
from eqlab.io import atomic_path, write_json
from eqlab.models import build_model, load_trained
from eqlab.report import ien
from eqlab.report.notebook import scrub
from eqlab.train.loop import TrainSpec, train
from eqlab.train.schedule import get_lr


def test_feature_store_round_trip(tmp_path):
    net = SymmetricNet().eval()
    images = (np.random.default_rng(0).random((6, 1, 8, 8)) * 255).astype(np.uint8)
    labels, ids = np.arange(6) % 3, np.arange(10, 16)
    ts = [get_transform(n) for n in ("identity", "rot90", "rot45")]
    man = extract_features(net, images, labels, ids, ts, tmp_path / "f", {"run": "demo"}, progress=False)
    assert [lay["name"] for lay in man["layers"]] == ["conv1", "conv2"]
    assert read_manifest(tmp_path / "f")["transforms"] == ["identity", "rot90", "rot45"]
    block = read_block(tmp_path / "f", "conv2", "rot90")
    x = torch.from_numpy(images).float() / 255
    _, taps = net.forward_taps(get_transform("rot90").apply(x))
    np.testing.assert_array_equal(block.values, taps[1].detach().numpy())
    assert block.sample_ids.tolist() == ids.tolist() and block.meta["shape"] == [8, 4, 4]
    assert block.meta["group_size"] == 1 and block.meta["exact"] is True
    schema = pq.read_schema(partition(tmp_path / "f", "conv1", "rot45"))
    assert schema.names == ["sample_id", "label", "transform", "layer", "values"]
    with pytest.raises(FileNotFoundError, match="layers: \\['conv1', 'conv2'\\]"):
        read_block(tmp_path / "f", "conv9", "rot90")


def test_atomic_path_keeps_old_output_on_failure(tmp_path):
    target = tmp_path / "out.json"
    write_json(target, {"v": 1})
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("interrupted")
    assert json.loads(target.read_text()) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]  # no temp left behind


def test_schedule_shape():
    lrs = [get_lr(s, 100, 1e-5, 5e-3, 0.25) for s in range(120)]
    assert lrs[0] == pytest.approx(1e-5) and max(lrs) == pytest.approx(5e-3) and lrs.index(max(lrs)) == 25
    assert lrs[99] < 1e-4 and lrs[100] == lrs[119] == 1e-5  # back to the floor, then flat
    assert all(a <= b for a, b in zip(lrs[:25], lrs[1:26]))


def _tiny_train(seed: int, beta: float):
    torch.manual_seed(seed)
    model = build_model("rotmnist6", width=0.125)
    gen = torch.Generator().manual_seed(0)
    x = (torch.rand(48, 1, 28, 28, generator=gen) * 255).to(torch.uint8)
    y = torch.randint(0, 10, (48,), generator=gen)
    spec = TrainSpec(1, 1, 16, 1e-4, 1e-3, 0.25, 0.0, True, beta, seed)
    hist = train(model, spec, x, y, x[:8], y[:8], group_elements("r4"), progress=False)
    return model, hist


def test_training_is_deterministic_and_logs_the_equivariance_term():
    (m1, h1), (m2, _) = _tiny_train(0, 0.1), _tiny_train(0, 0.1)
    for (k, a), b in zip(m1.state_dict().items(), m2.state_dict().values()):
        assert torch.equal(a, b), k
    assert all(h.equiv > 0 for h in h1)
    _, h0 = _tiny_train(0, 0.0)
    assert all(h.equiv == 0 for h in h0)  # CNN-aug: same copies, no equivariance term


def test_checkpoint_round_trip(tmp_path):
    model = build_model("rotmnist6", width=0.125).eval()
    d = tmp_path / "m"
    d.mkdir()
    torch.save(model.state_dict(), d / "model.pt")
    write_json(d / "config.json", {"arch": "rotmnist6", "family": "cnn", "kwargs": {"width": 0.125}})
    back = load_trained(d)
    x = torch.rand(2, 1, 28, 28)
    assert torch.equal(back(x), model(x))


def test_scrub_removes_time_stamps():
    nb = nbformat.v4.new_notebook()
    nb.metadata["papermill"] = {"start_time": "t0", "end_time": "t1", "duration": 1.0, "parameters": {"a": 1}}
    cell = nbformat.v4.new_code_cell("1")
    cell.metadata["execution"] = {"iopub.execute_input": "t"}
    cell.metadata["papermill"] = {"start_time": "t", "duration": 0.1}
    nb.cells.append(cell)
    scrub(nb)
    assert nb.metadata["papermill"] == {"parameters": {"a": 1}}
    assert "execution" not in cell.metadata and "papermill" not in cell.metadata


def _frames(acc_aug=0.95, rel_ien=(0.1, 0.2)):
    rows = []
    for run, acc, rel in (("cnn", 0.9, (0.5, 0.6)), ("cnn_aug", acc_aug, (0.5, 0.6)), ("ien", 0.94, rel_ien)):
        rows.append(dict(run=run, probe="train", metric="test_acc", layer="", transform="", value=acc))
        for layer, v in zip(("conv1", "conv2"), rel):
            rows.append(dict(run=run, probe="extent_of_equivariance", metric="rel", layer=layer, transform="r4",
                             value=v))
            rows.append(dict(run=run, probe="extent_of_equivariance", metric="rel", layer=layer,
                             transform="rot45_odd", value=10 * v))
    runs = pd.DataFrame({"run": ["cnn", "cnn_aug", "ien"], "arch": ["rotmnist6"] * 3, "dataset": ["rot_mnist"] * 3,
                         "augment": [False, True, True], "beta": [0.0, 0.0, 0.01]})
    return pd.DataFrame(rows), runs


def test_claims_are_computed_and_can_fail():
    results, runs = _frames()
    ours = ien.ours_table5(results, runs, "rel")
    assert list(ours.row) == ["CNN (no aug)", "CNN (aug)", "IEN β=0.01"]
    assert ours.loc["ien", "conv1"] == 0.1  # the quarter turns only; 45° multiples reported apart
    assert ien.ours_table5(results, runs, "rel", angles="45").loc["ien", "conv1"] == pytest.approx(1.0)
    assert ien.claim_aug_accuracy(ours).holds is True
    assert [c.holds for c in ien.claim_ien_below_aug(ours)] == [True]
    results, runs = _frames(acc_aug=0.8, rel_ien=(0.1, 0.7))
    ours = ien.ours_table5(results, runs, "rel")
    assert ien.claim_aug_accuracy(ours).holds is False
    claim = ien.claim_ien_below_aug(ours)[0]
    assert claim.holds is False and "conv2" in claim.evidence


def test_order_of_magnitude():
    assert ien.order_of_magnitude(3e-5) == "1e-5"
    assert ien.order_of_magnitude(4e-5) == "1e-4"
    assert ien.order_of_magnitude(1.0) == "1e0"


def _table(rows: dict[str, tuple[float, list[float], float]]) -> pd.DataFrame:
    """row label → (acc, per-layer values conv1..conv3, beta)."""
    recs = [{"row": k, "acc": a, **{f"conv{i + 1}": v for i, v in enumerate(vals)}, "beta": b}
            for k, (a, vals, b) in rows.items()]
    return pd.DataFrame(recs).set_index(pd.Index(list(rows), name="run"))


def test_ien_paper_claims_hold_and_fail():
    good = _table({"CNN (no aug)": (90, [0.5, 0.6, 0.4], 0.0), "CNN (aug)": (95, [0.5, 0.5, 0.3], 0.0),
                   "E2CNN": (96, [1e-12, 1e-11, 1e-12], 0.0), "IEN β=0.01": (95, [0.1, 0.2, 0.1], 0.01),
                   "IEN β=1": (93, [0.01, 0.02, 0.01], 1.0)})
    assert ien.claim_e2cnn_exact(good).holds is True
    assert ien.claim_ordering(good).holds is True
    assert ien.claim_beta_monotone(good).holds is True
    assert ien.claim_aug_keeps_error(good).holds is True
    bad = good.copy()
    bad.loc["IEN β=1", "conv2"] = 0.3  # β=1 worse than β=0.01 at conv2
    bad.loc["E2CNN", "conv1"] = 0.05  # E2CNN above IEN β=1: ordering and exactness both fail
    assert ien.claim_beta_monotone(bad).holds is False and "conv2" in ien.claim_beta_monotone(bad).evidence
    assert ien.claim_e2cnn_exact(bad).holds is False
    assert ien.claim_ordering(bad).holds is False
    assert ien.claim_ordering(good.drop(index="E2CNN")).holds is None


def _tim_frames():
    """Runs on Rot-TIM / R2-TIM / Scale-MNIST with known accuracies and L_G."""
    spec = [  # run, arch, dataset, group, augment, beta, het, upsample, channels, acc, L_G per tap
        ("r_cnn", "resnet18", "rot_tim", "r4", False, 0.0, "", 1, 100, 0.40, 1e3),
        ("r_aug", "resnet18", "rot_tim", "r4", True, 0.0, "", 1, 100, 0.50, 2e3),
        ("r_ien", "resnet18", "rot_tim", "r4", True, 0.1, "", 1, 100, 0.52, 1e-4),
        ("r_ien_s1", "resnet18", "rot_tim", "r4", True, 0.1, "", 1, 100, 0.54, 1e-4),
        ("r_e2", "resnet18_e2", "rot_tim", "r4", False, 0.0, "", 1, 100, 0.48, 1e-12),
        ("v_ien8", "vgg", "rot_tim", "r8", True, 0.1, "", 1, 200, 0.45, 1e-3),
        ("v_het8", "vgg", "rot_tim", "r8", True, 0.1, "8-4-2", 1, 138, 0.44, 1e-3),
        ("v_r4r", "vgg", "r2_tim", "r4r", True, 0.1, "", 1, 200, 0.41, 1e-3),
        ("s_aug56", "rotmnist6", "scale_mnist", "scale", True, 0.0, "", 2, 50, 0.90, 1e-1),
        ("s_ien56", "rotmnist6", "scale_mnist", "scale", True, 0.1, "", 2, 50, 0.91, 1e-3),
    ]
    rows, runs = [], []
    for run, arch, ds, g, aug, beta, het, up, ch, acc, lg in spec:
        runs.append(dict(run=run, arch=arch, dataset=ds, group=g, augment=aug, beta=beta, het=het, upsample=up,
                         channels=ch))
        rows.append(dict(run=run, probe="train", metric="test_acc", layer="", transform="", value=acc))
        for layer in (("stage1", "stage2") if arch.startswith("resnet") else ("conv1", "conv3")):
            for metric in ("abs", "rel"):
                rows.append(dict(run=run, probe="extent_of_equivariance", metric=metric, layer=layer, transform=g,
                                 value=lg))
    return pd.DataFrame(rows), pd.DataFrame(runs)


def test_runs_map_onto_the_published_tables(root):
    from eqlab.report.references import load_published

    pub = load_published(root / "references/published.csv", "ien")
    t9 = ien.published_table(pub, "9")
    assert t9.loc["R4 E2CNN", "ResNet18 stage1"] == "1e-11" and t9.loc["R8 IEN β=0.1", "ResNet18 acc"] == "59.7"
    results, runs = _tim_frames()
    cells = ien.ours_cells(results, runs).set_index(["table", "row", "column"])
    assert cells.loc[("1", "Rot-TIM CNN4-aug", "acc"), "value"] == pytest.approx(50.0)
    ien_r4 = cells.loc[("1", "Rot-TIM IEN R4", "acc")]
    assert ien_r4.value == pytest.approx(53.0) and ien_r4.n == 2  # two seeds averaged and counted
    assert cells.loc[("2", "R2-TIM IEN R4R", "acc"), "value"] == pytest.approx(41.0)
    assert cells.loc[("4", "VGG Het R8-4-2", "channels"), "value"] == pytest.approx(69.0)
    assert cells.loc[("9", "R4 E2CNN", "ResNet18 stage1"), "value"] == pytest.approx(1e-12)
    assert cells.loc[("9", "R8 IEN β=0.1", "VGG conv3"), "value"] == pytest.approx(1e-3)
    assert cells.loc[("8", "Scale-MNIST 56×56 IEN", "error"), "value"] == pytest.approx(9.0)
    t1 = ien.side_by_side(pub, ien.ours_cells(results, runs), "1", "small")
    assert t1.loc["Rot-TIM IEN R4", ("acc", "paper")] == "56.9" and t1.loc["Rot-TIM IEN R4", ("acc", "ours")] == "53.0"
    assert t1.loc["Rot-TIM IEN R8", ("acc", "ours")] == "—" and t1.loc["Rot-TIM IEN R4", ("ours", "n")] == 2
    t9 = ien.side_by_side(pub, ien.ours_cells(results, runs), "9", "small")
    assert t9.loc["R4 E2CNN", ("ResNet18 stage1", "ours")] == "1e-12"
    t8 = ien.side_by_side(pub, ien.ours_cells(results, runs), "8", "small")
    assert t8.loc["Scale-MNIST 56×56 CNN-aug (ours only)", ("error", "paper")] == "—"
    assert "offline" in ien.OFFLINE_ONLY["3"]


def test_claims_beyond_rot_mnist_are_computed_and_can_fail():
    results, runs = _tim_frames()
    e2 = ien.claim_e2cnn_exact_all(results, runs)
    assert [c.holds for c in e2] == [True]
    below = {c.text.split(":")[0]: c.holds for c in ien.claim_ien_below_aug_all(results, runs)}
    assert below["r_ien"] is True and below["s_ien56"] is True and below["v_ien8"] is None  # no R8 CNN-aug
    het = ien.claim_het_tim(ien.ours_cells(results, runs))
    assert [c.holds for c in het] == [True]
    results.loc[(results.run == "s_ien56") & (results.probe == "extent_of_equivariance"), "value"] = 1.0
    results.loc[(results.run == "r_e2") & (results.probe == "extent_of_equivariance"), "value"] = 1e-6
    below = {c.text.split(":")[0]: c.holds for c in ien.claim_ien_below_aug_all(results, runs)}
    assert below["s_ien56"] is False
    assert [c.holds for c in ien.claim_e2cnn_exact_all(results, runs)] == [False]


def test_accuracy_parity_needs_three_seeds():
    ours = _table({"CNN (aug)": (95, [0.5], 0.0), "E2CNN": (95.5, [1e-12], 0.0), "IEN β=0.1": (94.5, [0.1], 0.1)})
    claim = ien.claim_accuracy_parity(ours)
    assert claim.holds is None and "n = 1 < 3" in claim.evidence
    three = pd.concat([ours.rename(index=lambda r, i=i: f"{r}_s{i}") for i in range(3)])
    assert ien.claim_accuracy_parity(three).holds is True
    three.loc[three.row == "IEN β=0.1", "acc"] = 90.0
    assert ien.claim_accuracy_parity(three).holds is False


def test_seeds_are_averaged_and_counted():
    results, runs = _frames()
    extra = results[results.run == "ien"].assign(run="ien_s1")
    extra.loc[extra.metric == "test_acc", "value"] = 0.96
    results = pd.concat([results, extra])
    runs = pd.concat([runs, runs[runs.run == "ien"].assign(run="ien_s1")])
    ours = ien.ours_table5(results, runs, "rel")
    summary = ien.seed_summary(ours)
    assert summary.loc["IEN β=0.01", "n"] == 2 and summary.loc["CNN (aug)", "n"] == 1
    assert summary.loc["IEN β=0.01", "acc"] == pytest.approx(95.0)
    assert summary.loc["IEN β=0.01", "acc_std"] == pytest.approx(np.std([94, 96], ddof=1))
    assert ien.claim_aug_accuracy(ours).holds is True  # works with repeated labels


def test_beta_monotonicity_averages_seeds_first():
    ours = _table({"IEN β=0.01": (95, [0.1, 0.2, 0.1], 0.01), "IEN β=1": (93, [0.01, 0.02, 0.01], 1.0)})
    twin = ours.iloc[[1]].rename(index=lambda r: r + "_s1")
    assert ien.claim_beta_monotone(pd.concat([ours, twin])).holds is True
