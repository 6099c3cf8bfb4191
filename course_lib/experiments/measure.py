"""Parameters, FLOPs and throughput, measured the same way for every model."""

from __future__ import annotations

import time

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from ..attention._fast import plain_forms
from ..runtime.device import autocast, enable_fast_kernels, memory_format, pick_device, synchronize
from ..runtime.modes import inspecting


def count_params(model: nn.Module, trainable_only: bool = True) -> int:
    """Number of (trainable) parameters; BatchNorm running statistics are buffers, not counted."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def count_buffers(model: nn.Module) -> int:
    """Number of buffer elements (BatchNorm running mean/var and step counters)."""
    return sum(b.numel() for b in model.buffers())


def count_flops(model: nn.Module, image_size: int, channels: int = 3) -> int:
    """FLOPs of one forward pass on one image, by ``torch.utils.flop_counter``.

    FlopCounterMode counts a multiply-add as two FLOPs, and only matrix products and
    convolutions; papers that quote "FLOPs" usually mean multiply-adds (half this number).
    Modules with a CPU fast path are counted in their plain form (the papers' k x k gate
    convolutions, not the banded form that also multiplies the band's zeros).
    """
    x = torch.zeros(1, channels, image_size, image_size, device=next(model.parameters()).device)
    counter = FlopCounterMode(display=False)
    with inspecting(model), counter, torch.no_grad(), plain_forms(model):
        model(x)
    return counter.get_total_flops()


def measure_throughput(
    model: nn.Module,
    image_size: int,
    batch_size: int = 128,
    device: str | torch.device | None = None,
    train: bool = False,
    warmup: int = 3,
    iters: int = 10,
    channels: int = 3,
    precision: str = "auto",
) -> float:
    """Images per second for inference (``train=False``) or a full training step.

    Runs ``warmup`` untimed iterations (allocation, cuDNN autotuning, compilation), then times
    ``iters`` iterations between two device synchronisations. Inputs are random, so data
    loading is not part of the number. The model's mode and weights are restored afterwards.
    """
    device = pick_device(device)
    fmt = memory_format(device)
    enable_fast_kernels(device)
    model = model.to(device, memory_format=fmt)
    state = {k: v.detach().clone() for k, v in model.state_dict().items()} if train else None
    was_training = model.training
    x = torch.randn(batch_size, channels, image_size, image_size, device=device)
    x = x.contiguous(memory_format=fmt)
    y = torch.randint(0, 2, (batch_size,), device=device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0) if train else None
    loss_fn = nn.CrossEntropyLoss()

    def step() -> None:
        if train:
            with autocast(device, precision):
                loss = loss_fn(model(x).float(), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        else:
            with torch.no_grad(), autocast(device, precision):
                model(x)

    model.train(train)
    for _ in range(warmup):
        step()
    synchronize(device)
    start = time.perf_counter()
    for _ in range(iters):
        step()
    synchronize(device)
    elapsed = time.perf_counter() - start
    model.train(was_training)
    if state is not None:
        model.load_state_dict(state)  # BatchNorm statistics moved during the timed steps
    return batch_size * iters / elapsed
