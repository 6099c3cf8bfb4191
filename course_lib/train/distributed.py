"""Data-parallel training with PyTorch's own machinery: torchrun starts the processes,
``torch.distributed`` connects them, DistributedDataParallel averages the gradients.

    torchrun --nproc_per_node=2 -m course_lib train --model alexnet --profile quick
    torchrun --nnodes=2 --nproc_per_node=8 --rdzv_backend=c10d --rdzv_endpoint=HOST:29400 \\
        -m course_lib train ...

Nothing here manages processes; it only reads what torchrun puts in the environment.
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


def is_main() -> bool:
    """Only rank 0 writes checkpoints, histories and results."""
    return rank() == 0


def init_from_env() -> torch.device | None:
    """Join the process group that torchrun describes (``WORLD_SIZE`` > 1), if any.

    Returns this process's device (its own GPU by ``LOCAL_RANK``, or the CPU with gloo), or
    None when not launched by torchrun.
    """
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or is_distributed():
        return None
    if torch.cuda.is_available():
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local_rank)
        dist.init_process_group("nccl")
        return torch.device("cuda", local_rank)
    dist.init_process_group("gloo")
    return torch.device("cpu")


def all_reduce_mean(tensor: torch.Tensor) -> torch.Tensor:
    """The mean of ``tensor`` over all ranks (a copy; the input is unchanged)."""
    if not is_distributed():
        return tensor
    return all_reduce_sum(tensor) / world_size()


def all_reduce_sum(tensor: torch.Tensor) -> torch.Tensor:
    """The sum of ``tensor`` over all ranks (a copy; the input is unchanged)."""
    if not is_distributed():
        return tensor
    out = tensor.clone()
    dist.all_reduce(out, op=dist.ReduceOp.SUM)
    return out


def barrier() -> None:
    if is_distributed():
        dist.barrier()
