"""Data-parallel training (eqlab.train.distributed): two gloo processes under torchrun take equal shards
of each batch and end with the weights one process gets, up to float summation order; the train stage
relaunches itself from params and writes the same outputs as one process."""

import json
import os
import subprocess
import sys
import textwrap

import pytest
import torch
import yaml

from conftest import ROOT
from eqlab.train.distributed import SINGLE, World, backend_for

TINY = textwrap.dedent(
    """
    import sys, torch
    from torch import nn
    from eqlab.groups import group_elements
    from eqlab.models.base import Tap, TappedModel
    from eqlab.train.loop import TrainSpec, train

    class Tiny(TappedModel):  # no BatchNorm: shards then give exactly the full batch's mean gradient
        def __init__(self):
            super().__init__()
            torch.manual_seed(0)
            self.blocks = nn.ModuleList([nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ELU()),
                                         nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), nn.MaxPool2d(2), nn.ELU())])
            self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 3))
            self.taps = (Tap("conv1", 8, 4), Tap("conv2", 8, 4))

    def run(world):
        model = Tiny()
        gen = torch.Generator().manual_seed(1)
        x = (torch.rand(40, 1, 12, 12, generator=gen) * 255).to(torch.uint8)
        y = torch.randint(0, 3, (40,), generator=gen)
        spec = TrainSpec(2, 1, 16, 1e-3, 1e-2, 0.25, 0.0, True, 0.1, 0)
        hist = train(model, spec, x, y, x[:8], y[:8], group_elements("r4"), progress=False, world=world)
        return model, hist

    if __name__ == "__main__":
        import torch.distributed as dist
        from eqlab.train.distributed import World
        dist.init_process_group("gloo")
        model, hist = run(World(dist.get_rank(), dist.get_world_size()))
        if dist.get_rank() == 0:
            torch.save({"state": model.state_dict(), "loss": [h.loss for h in hist]}, sys.argv[1])
        dist.destroy_process_group()
    """
)


def test_world_shards_a_batch_into_equal_interleaved_parts():
    idx = torch.arange(10)
    parts = [World(r, 2).shard(idx) for r in range(2)]
    assert parts[0].tolist() == [0, 2, 4, 6, 8] and parts[1].tolist() == [1, 3, 5, 7, 9]
    assert torch.equal(SINGLE.shard(idx), idx) and SINGLE.main and not World(1, 2).main
    t = torch.ones(3)
    assert SINGLE.all_sum(t) is t and t.tolist() == [1, 1, 1]
    assert backend_for("auto", torch.device("cpu")) == "gloo"
    with pytest.raises(ValueError, match="allowed values"):
        backend_for("mpi", torch.device("cpu"))
    with pytest.raises(ValueError, match="needs CUDA"):
        backend_for("nccl", torch.device("cpu"))


def test_two_gloo_processes_train_the_weights_of_one(tmp_path):
    script = tmp_path / "tiny_ddp.py"
    script.write_text(TINY)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{tmp_path}"}
    out = tmp_path / "ddp.pt"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2", str(script), str(out)]
    subprocess.run(cmd, env=env, check=True, capture_output=True, timeout=300)
    sys.path.insert(0, str(tmp_path))
    try:
        import tiny_ddp
    finally:
        sys.path.remove(str(tmp_path))
    one, hist = tiny_ddp.run(SINGLE)
    two = torch.load(out, weights_only=True)
    for k, v in one.state_dict().items():
        torch.testing.assert_close(two["state"][k], v, rtol=1e-4, atol=1e-5, msg=k)
    assert two["loss"] == pytest.approx([h.loss for h in hist], rel=1e-4)  # means over all processes' shards
    fresh = tiny_ddp.Tiny()
    assert any(not torch.equal(a, b) for a, b in zip(fresh.state_dict().values(), one.state_dict().values()))


def _last(curves, name: str) -> float:
    rows = (curves / "plots" / "metrics" / f"{name}.tsv").read_text().split("\n")[1:]
    return float([r for r in rows if r][-1].split("\t")[-1])


def test_train_stage_runs_data_parallel_from_params(tmp_path):
    """The stage reads train.distributed.nproc, relaunches under torchrun and writes what one process writes,
    with accuracy and equivariance term within tolerance (BatchNorm statistics are per shard)."""
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["profile"] = "smoke"
    params["train"]["models"] = {"ien_r4_b01": params["train"]["models"]["ien_r4_b01"]}
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    data = tmp_path / "rot_mnist"
    p0 = tmp_path / "params.yaml"
    p0.write_text(yaml.safe_dump(params))
    subprocess.run([sys.executable, str(ROOT / "stages/make_dataset.py"), "rot_mnist", "--raw-dir", str(tmp_path / "raw"),
                    "--out", str(data), "--card", str(tmp_path / "card"), "--params", str(p0)],
                   env=env, check=True, capture_output=True, cwd=tmp_path, timeout=300)
    results = {}
    for nproc in (1, 2):
        params["train"]["distributed"]["nproc"] = nproc
        pf = tmp_path / f"params{nproc}.yaml"
        pf.write_text(yaml.safe_dump(params))
        o = tmp_path / f"n{nproc}"
        cmd = [sys.executable, str(ROOT / "stages/train.py"), "ien_r4_b01", "--data", str(data),
               "--model-dir", str(o / "model"), "--metrics", str(o / "metrics.json"), "--card", str(o / "card.json"),
               "--curves", str(o / "curves"), "--params", str(pf)]
        r = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=tmp_path, timeout=600)
        assert r.returncode == 0, r.stderr[-3000:]
        results[nproc] = (json.loads((o / "metrics.json").read_text()), json.loads((o / "card.json").read_text()),
                          _last(o / "curves", "train/equivariance"))
        assert sorted(p.name for p in o.iterdir()) == ["card.json", "curves", "metrics.json", "model"]
    (m1, c1, e1), (m2, c2, e2) = results[1], results[2]
    assert c1["processes"] == 1 and c2["processes"] == 2
    assert abs(m1["val_acc"] - m2["val_acc"]) <= 0.15 and abs(m1["test_acc"] - m2["test_acc"]) <= 0.15
    assert 0.5 <= e2 / e1 <= 2.0
    torch.load(tmp_path / "n2/model/model.pt", weights_only=True)  # a state dict, written once by rank 0


def test_a_one_process_group_is_torn_down(monkeypatch):
    """torchrun with one process (the NCCL path on one GPU) still joins a group; shutdown must destroy it."""
    import socket

    import torch.distributed as dist

    from eqlab.train import distributed

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    for k, v in {"RANK": "0", "WORLD_SIZE": "1", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)}.items():
        monkeypatch.setenv(k, v)
    world, _ = distributed.init("gloo", torch.device("cpu"))
    assert world.size == 1 and dist.is_initialized()
    distributed.shutdown(world)
    assert not dist.is_initialized()
