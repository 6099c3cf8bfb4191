"""Data-parallel training: two gloo processes on the CPU against one process, same global batch."""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from course_lib.data import load_cifar10
from course_lib.models import build_model
from course_lib.train import TrainConfig, fit

from .conftest import cifar_source

CONFIG = TrainConfig(
    epochs=1, batch_size=32, image_size=64, lr=5e-4, log_every=1, eval_batch_size=50
)
LOSS_TOLERANCE = 1e-3  # relative, per logged step: only the order of float sums differs


def _train(out_path, run_dir=None) -> None:
    torch.set_num_threads(1)
    data = load_cifar10(cifar_source(), train_subset=256, test_subset=50, download=False)
    torch.manual_seed(0)
    model = build_model("alexnet", image_size=64, dropout=0.0)  # no dropout: no per-rank masks
    history = fit(model, data, CONFIG, run_dir=run_dir, progress=False)
    torch.save({"state": model.state_dict(), "loss": history.step_loss}, out_path)


def _worker(rank: int, world: int, init_file: str, out_dir: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        _train(f"{out_dir}/rank{rank}.pt", run_dir=f"{out_dir}/run")
    finally:
        dist.destroy_process_group()


def test_two_processes_match_one_process(tmp_path):
    mp.spawn(_worker, args=(2, str(tmp_path / "init"), str(tmp_path)), nprocs=2, join=True)
    rank0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    rank1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    for name, a in rank0["state"].items():
        assert torch.equal(a, rank1["state"][name]), f"{name} differs between the ranks"
    assert (tmp_path / "run" / "last.pt").exists(), "rank 0 writes the checkpoint"

    _train(tmp_path / "single.pt")
    single = torch.load(tmp_path / "single.pt", weights_only=True)
    assert len(single["loss"]) == len(rank0["loss"]) == 256 // 32
    for step, (a, b) in enumerate(zip(rank0["loss"], single["loss"]), start=1):
        assert abs(a - b) <= LOSS_TOLERANCE * abs(b), f"step {step}: {a} vs {b}"
