"""The GPU path: bf16 autocast and channels_last for every attention module, float16 autocast
with a gradient scaler (what a T4 or V100 trains in), the device-resident data path, a short
run, and checkpoints that move between devices.

These run on CUDA when there is one and are skipped otherwise; ``COURSE_TEST_DEVICE=cpu`` runs
them on the CPU (the GPU job's dry run does, so that a GPU lease is never spent on a typo).
``pytest -m cuda`` selects them.
"""

from __future__ import annotations

import os

import pytest
import torch
from torch import nn

from course_lib.attention import list_attention
from course_lib.data import BatchAugment, balanced_subset
from course_lib.models import build_model
from course_lib.train import TrainConfig, fit, load_weights, train_or_load
from course_lib.train.batches import train_batches
from tests.test_precision import check_fp16_step

pytestmark = pytest.mark.cuda


@pytest.fixture
def device() -> torch.device:
    name = os.environ.get("COURSE_TEST_DEVICE")
    if name:
        return torch.device(name)
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device (COURSE_TEST_DEVICE=cpu runs these tests on the CPU)")
    return torch.device("cuda")


@pytest.mark.parametrize("attention", list_attention())
def test_bf16_channels_last_step_is_finite_and_close_to_fp32(attention, device):
    torch.manual_seed(0)
    model = build_model("alexnet", attention=attention, image_size=64).to(device)
    model = model.to(memory_format=torch.channels_last)
    x = torch.randn(8, 3, 64, 64, device=device).contiguous(memory_format=torch.channels_last)
    y = torch.arange(8, device=device) % 10

    model.eval()
    with torch.no_grad():
        reference = model(x).double()
        with torch.autocast(device.type, dtype=torch.bfloat16):
            low = model(x).double()
    error = (low - reference).norm() / reference.norm()
    assert error < 5e-2, f"bf16 logits differ from fp32 by {error:.3g} (relative)"

    model.train()
    with torch.autocast(device.type, dtype=torch.bfloat16):
        logits = model(x)
    assert logits.dtype == torch.bfloat16  # the classifier ran in bf16
    loss = nn.functional.cross_entropy(logits.float(), y)
    loss.backward()
    assert torch.isfinite(loss)
    for name, p in model.named_parameters():
        assert p.grad is not None, f"{name} got no gradient"
        assert p.grad.dtype == torch.float32, f"{name}: gradient in {p.grad.dtype}"
        assert torch.isfinite(p.grad).all(), f"{name}: non-finite gradient"


@pytest.mark.parametrize("attention", list_attention())
def test_fp16_grad_scaler_step_is_finite_and_close_to_fp32(attention, device):
    """float16 autocast + GradScaler, as ``precision="auto"`` trains on a GPU without native
    bf16: finite loss, float32 gradients within 5 % of float32's after unscaling."""
    check_fp16_step(attention, device, batch=8)


def test_device_batches_equal_cpu_batches(cifar_small, device):
    augment = BatchAugment(64, cifar_small.mean, cifar_small.std)
    images, labels = cifar_small.train_images, cifar_small.train_labels

    def first_batches(on: torch.device) -> list[tuple[torch.Tensor, torch.Tensor]]:
        batches = train_batches(images.to(on), labels.to(on), augment, 32, seed=7, epoch=2)
        return [(x.cpu(), y.cpu()) for (x, y), _ in zip(batches, range(3))]

    for (x_cpu, y_cpu), (x_dev, y_dev) in zip(
        first_batches(torch.device("cpu")), first_batches(device)
    ):
        assert torch.equal(y_cpu, y_dev), "the shuffle differs between devices"
        assert torch.allclose(x_cpu, x_dev, atol=1e-3), "the augmentation differs"


def test_a_short_run_on_the_device_lowers_the_loss(cifar_small, device):
    torch.manual_seed(0)
    model = build_model("alexnet", attention="triplet", image_size=64)
    config = TrainConfig(epochs=5, batch_size=32, image_size=64, lr=5e-4, eval_batch_size=100)
    history = fit(model, cifar_small, config, device=device, progress=False)
    assert history.train_loss[-1] < history.train_loss[0] - 0.03  # CPU fp32: 2.31 -> 2.24
    assert all(0.0 <= a <= 1.0 for a in history.val_acc)


def test_a_checkpoint_saved_on_the_device_loads_on_the_cpu(cifar_full, device, tmp_path):
    data = balanced_subset(cifar_full, 128, 50, seed=0)
    config = TrainConfig(epochs=1, batch_size=32, image_size=64, eval_batch_size=50)
    run = train_or_load(
        "alexnet",
        data,
        config,
        attention="simam",
        device=device,
        progress=False,
        runs_root=tmp_path,
    )
    on_cpu = build_model("alexnet", attention="simam", image_size=64, num_classes=10)
    load_weights(on_cpu, run.run_dir / "final.pt")
    for name, value in run.model.state_dict().items():
        assert torch.equal(on_cpu.state_dict()[name], value.cpu()), name
    assert run.metrics["device"] and 0.0 <= run.metrics["accuracy"] <= 1.0
