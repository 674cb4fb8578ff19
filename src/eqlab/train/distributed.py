"""Data-parallel training over several processes (torchrun + DistributedDataParallel).

``train.distributed.nproc`` > 1 makes the train stage relaunch itself under ``torch.distributed.run``
(``--standalone``: one node, a free rendezvous port); every process holds the whole model and takes
every ``nproc``-th image of each batch (the same batches as one process, cut into equal shards).
DistributedDataParallel averages the shards' gradients, so a step equals the one-process step up to
float summation order and BatchNorm, whose statistics are per shard. Multi-node runs use torchrun
directly with the same stage command (``RANK``/``WORLD_SIZE`` set: no relaunch).

Backend ``auto``: NCCL on CUDA (one GPU per process, ``LOCAL_RANK``), gloo on CPU. Rank 0 alone
writes outputs; every rank computes the same validation accuracy (the weights are the same).
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.distributed as dist

log = logging.getLogger(__name__)

BACKENDS = ("auto", "gloo", "nccl")


@dataclass(frozen=True)
class World:
    """This process's place among ``size`` processes (``rank`` 0 writes the outputs)."""

    rank: int = 0
    size: int = 1

    @property
    def main(self) -> bool:
        return self.rank == 0

    def shard(self, idx: torch.Tensor) -> torch.Tensor:
        """This process's share of a batch: every ``size``-th index from ``rank``."""
        return idx[self.rank :: self.size]

    def all_sum(self, t: torch.Tensor) -> torch.Tensor:
        """Sum ``t`` over the processes (in place; the identity for one process)."""
        if self.size > 1:
            dist.all_reduce(t, op=dist.ReduceOp.SUM)
        return t


SINGLE = World()


def launched() -> bool:
    """True inside a torchrun worker (its environment names a rank and a world size)."""
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def backend_for(requested: str, device: torch.device) -> str:
    if requested not in BACKENDS:
        raise ValueError(f"distributed backend {requested!r}; allowed values: {list(BACKENDS)}")
    if requested == "auto":
        return "nccl" if device.type == "cuda" else "gloo"
    if requested == "nccl" and device.type != "cuda":
        raise ValueError("distributed backend 'nccl' needs CUDA; use 'gloo' (or 'auto') on CPU")
    return requested


def relaunch(nproc: int, argv: Sequence[str]) -> int:
    """Run this stage again as ``nproc`` torchrun workers on this machine; their exit status."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}", *argv]
    log.info("relaunching under torchrun with %d processes", nproc)
    env = dict(os.environ)
    # torchrun defaults every worker to one thread; share the cores out instead
    env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // nproc)))
    return subprocess.run(cmd, env=env, check=False).returncode


def init(requested_backend: str, device: torch.device) -> tuple[World, torch.device]:
    """Join the process group of a torchrun worker; (its world, its device: ``cuda:LOCAL_RANK`` on GPUs)."""
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    dist.init_process_group(backend_for(requested_backend, device))
    world = World(dist.get_rank(), dist.get_world_size())
    log.info("process %d of %d (%s, %s)", world.rank, world.size, dist.get_backend(), device)
    return world, device


def shutdown(world: World) -> None:
    """Wait for every process, then tear the process group down (also a one-process torchrun group: NCCL
    warns of leaked resources otherwise, as seen on an H200)."""
    if dist.is_initialized():
        if world.size > 1:
            dist.barrier()
        dist.destroy_process_group()
