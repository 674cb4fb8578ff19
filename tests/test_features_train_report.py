import json

import nbformat
import numpy as np
import pyarrow.parquet as pq
import pytest
import torch

from conftest import SymmetricNet
from eqlab.features.extract import extract_features
from eqlab.features.store import partition, read_block, read_manifest
from eqlab.groups import get_transform, group_elements
from eqlab.io import atomic_path, write_json
from eqlab.models import build_model, load_trained
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


def test_atomic_path_removes_a_killed_writers_leftovers_and_dvc_ignores_them(tmp_path, root):
    target = tmp_path / "curves" / "run"
    leftover = tmp_path / "curves" / ".run.abc123.tmp"
    (leftover / "run").mkdir(parents=True)
    (leftover / "run" / "x.tsv").write_text("half written")
    other = tmp_path / "curves" / ".other.abc123.tmp"
    other.mkdir()
    with atomic_path(target) as tmp:
        tmp.mkdir()
        (tmp / "x.tsv").write_text("done")
    assert (target / "x.tsv").read_text() == "done" and not leftover.exists()
    assert other.exists()  # another target's temporary is not ours to remove
    assert ".*.tmp" in (root / ".dvcignore").read_text().splitlines()


@pytest.mark.parametrize("arch", ["rotmnist6", "resnet18"])
def test_skipping_the_uninitialised_memory_fill_changes_no_weight(arch):
    """make_deterministic turns off deterministic mode's NaN fill of new tensors (a cost, not a
    safeguard here): training with the fill on and off gives bit-identical weights, so no kernel reads
    memory it did not write."""
    from eqlab.train.device import make_deterministic

    def trained(fill: bool):
        make_deterministic(0)
        torch.utils.deterministic.fill_uninitialized_memory = fill
        kw = dict(width=0.0625, input_size=17, in_channels=3, n_classes=4) if arch == "resnet18" else dict(width=0.125)
        model = build_model(arch, **kw)
        gen = torch.Generator().manual_seed(0)
        shape = (3, 64, 64) if arch == "resnet18" else (1, 28, 28)
        x = (torch.rand(32, *shape, generator=gen) * 255).to(torch.uint8)
        y = torch.randint(0, 4, (32,), generator=gen)
        train(model, TrainSpec(1, 0, 16, 1e-4, 1e-3, 0.25, 0.0, True, 0.1, 0), x, y, x[:8], y[:8],
              group_elements("r4"), progress=False)
        return model.state_dict()

    try:
        with_fill, without = trained(True), trained(False)
    finally:
        torch.use_deterministic_algorithms(False)
        torch.utils.deterministic.fill_uninitialized_memory = True
    assert all(torch.equal(a, b) for a, b in zip(with_fill.values(), without.values(), strict=True))
