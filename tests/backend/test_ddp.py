"""Data-parallel training on an existing engine (issue 15): ``torch.distributed`` DDP over gloo,
two CPU processes started by ``torch.multiprocessing``, trains a compiled potential on energy and
force loss; after the steps its parameters equal those of one process on the same global batch
(1e-6)."""

from __future__ import annotations

import os
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from helpers import periodic_system

import geoc
from geoc.backends.torch_fx.verify.params import random_parameters

CUTOFF = 3.0
PARAMS = {"periodic": True, "depth": 1, "channels": 4, "cutoff": CUTOFF}
STEPS, WORLD = 3, 2
RANKS_TIMEOUT_S = 300


def _model() -> torch.nn.Module:
    module = geoc.compile("nequip", PARAMS, dtype=torch.float64)
    return random_parameters(module, np.random.default_rng(0))


def _batch(seeds: list[int]) -> dict:
    """Structures of 4 atoms each, batched (one cell per structure)."""
    systems = [periodic_system("bulk", 4, seed, CUTOFF) for seed in seeds]
    return {
        "z": torch.cat([s["z"] for s in systems]),
        "pos": torch.cat([s["pos"] for s in systems]),
        "cell": torch.stack([s["cell"] for s in systems]),
        "pbc": torch.stack([s["pbc"] for s in systems]),
        "batch": torch.arange(len(seeds)).repeat_interleave(4),
        "num_graphs": len(seeds),
    }


def _loss(model: torch.nn.Module, inputs: dict) -> torch.Tensor:
    out = geoc.energy_forces_stress(model, inputs, training=True)
    return out["energy"].pow(2).mean() + out["forces"].pow(2).mean()


def _global_batches() -> list[list[int]]:
    return [[4 * step + i for i in range(4)] for step in range(STEPS)]


def _train(model: torch.nn.Module, shards: list[list[int]]) -> None:
    optimiser = torch.optim.SGD(model.parameters(), lr=0.05)
    for seeds in shards:
        optimiser.zero_grad()
        _loss(model, _batch(seeds)).backward()
        optimiser.step()


def _worker(rank: int, rendezvous: str, out: str) -> None:
    """One rank. The ranks meet through a file, not a TCP port: a port probed free and then
    closed can be taken by another process before rank 0 binds it, which left the other rank
    waiting forever (a hung suite); any later hang is an error after the timeout."""
    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo",
        init_method=f"file://{rendezvous}",
        rank=rank,
        world_size=WORLD,
        timeout=timedelta(seconds=120),
    )
    model = torch.nn.parallel.DistributedDataParallel(_model())
    half = [seeds[rank * 2 : rank * 2 + 2] for seeds in _global_batches()]  # its shard
    _train(model, half)
    if rank == 0:
        torch.save(model.module.state_dict(), out)
    # Leave without tearing torch.distributed down: freeing the DDP reducer (its process group)
    # on this thread, which holds the GIL, joins gloo's worker thread, which may still be
    # freeing a finished allreduce and waits for the GIL: a deadlock that hung the suite (seen
    # with torch 2.13 under load). The results are written; the OS closes the connections.
    dist.barrier()
    os._exit(0)


@pytest.mark.slow
def test_ddp_on_two_processes_equals_one_process_on_the_global_batch(tmp_path: Path) -> None:
    out = str(tmp_path / "ddp.pt")
    ranks = mp.spawn(_worker, args=(str(tmp_path / "rendezvous"), out), nprocs=WORLD, join=False)
    deadline = time.monotonic() + RANKS_TIMEOUT_S
    while not ranks.join(timeout=5):  # a hang anywhere in a rank is a failure, not a stall
        if time.monotonic() > deadline:
            for process in ranks.processes:
                process.kill()
            pytest.fail(f"the DDP ranks did not finish in {RANKS_TIMEOUT_S} s")
    parallel = torch.load(out, weights_only=True)
    single = _model()
    _train(single, _global_batches())  # DDP averages the shards' gradients: the global mean
    for name, value in single.state_dict().items():
        torch.testing.assert_close(parallel[name], value, rtol=1e-6, atol=1e-9, msg=name)
    assert any(not torch.equal(v, _model().state_dict()[k]) for k, v in parallel.items())
