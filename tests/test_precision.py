"""Mixed precision that fits the device: ``auto`` resolves to bf16 where native, to float16 with
a gradient scaler on CUDA GPUs without bf16 (T4, V100), to float32 elsewhere; the float16 path
(autocast + ``torch.amp.GradScaler``) runs here on the CPU, so a GPU lease is never its first
test."""

from __future__ import annotations

import importlib

import pytest
import torch
from torch import nn

from course_lib.attention import list_attention
from course_lib.models import build_model
from course_lib.runtime import device as device_module
from course_lib.runtime.device import autocast, grad_scaler, resolve_precision
from course_lib.train import TrainConfig, fit


def fp16_and_fp32_gradients(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor
) -> tuple[torch.Tensor, dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """One training step's loss under float16 autocast with a GradScaler, its gradients
    unscaled, and the float32 gradients of the same step: ``(loss, fp16 grads, fp32 grads)``."""
    device = x.device
    model.zero_grad(set_to_none=True)
    nn.functional.cross_entropy(model(x).float(), y).backward()
    reference = {n: p.grad.detach().clone() for n, p in model.named_parameters()}

    model.zero_grad(set_to_none=True)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    scaler = grad_scaler(device, "fp16")
    with autocast(device, "fp16"):
        logits = model(x)
    assert logits.dtype == torch.float16, "the classifier ran in float16"
    loss = nn.functional.cross_entropy(logits.float(), y)
    scaler.scale(loss).backward()
    scaler.unscale_(optimizer)  # the gradients as the optimiser sees them
    low = {n: p.grad.detach().clone() for n, p in model.named_parameters()}
    return loss.detach(), low, reference


def relative_gradient_error(low: dict, reference: dict) -> float:
    """|g16 - g32| / |g32| over all parameters at once (one tensor's tiny gradient would make
    its own ratio meaningless)."""
    a = torch.cat([g.flatten().double() for g in low.values()])
    b = torch.cat([g.flatten().double() for g in reference.values()])
    return float((a - b).norm() / b.norm())


def check_fp16_step(attention: str, device: torch.device, batch: int = 4) -> None:
    """Finite float16 loss, float32 gradients, all finite and within 5 % of float32's."""
    torch.manual_seed(0)
    model = build_model("alexnet", attention=attention, image_size=64).to(device)
    model.eval()  # dropout off and BatchNorm on its running statistics: the same function twice
    x = torch.randn(batch, 3, 64, 64, device=device)
    y = torch.arange(batch, device=device) % 10
    loss, low, reference = fp16_and_fp32_gradients(model, x, y)
    assert torch.isfinite(loss), f"float16 loss {float(loss)}"
    for name, grad in low.items():
        assert grad.dtype == torch.float32, f"{name}: gradient in {grad.dtype}"
        assert torch.isfinite(grad).all(), f"{name}: non-finite gradient after unscaling"
    error = relative_gradient_error(low, reference)
    assert error < 5e-2, f"float16 gradients differ from float32 by {error:.3g} (relative)"


def test_auto_resolves_to_fp16_on_a_cuda_gpu_without_bf16(monkeypatch):
    monkeypatch.setattr(device_module, "native_bf16", lambda device=None: False)
    assert resolve_precision("auto", "cuda") == "fp16"  # a T4: float16 tensor cores
    assert resolve_precision("auto", "cpu") == "fp32"  # no bf16, and no float16 units
    monkeypatch.setattr(device_module, "native_bf16", lambda device=None: True)
    assert resolve_precision("auto", "cuda") == "bf16"  # Ampere and later: unchanged
    assert resolve_precision("fp16", "cpu") == "fp16", "asked for: taken as asked"


@pytest.mark.parametrize(
    ("capabilities", "isa", "bf16"),
    [
        ({"amx_bf16": True, "avx512_bf16": True, "avx512f": True, "avx2": True}, "AMX", True),
        ({"avx512_bf16": True, "avx512f": True, "avx2": True}, "AVX512-BF16", True),
        ({"avx512f": True, "avx2": True}, "AVX512", False),
        ({"avx2": True}, "AVX2", False),
        ({}, "other", False),
    ],
)
def test_cpu_isa_names_the_best_instruction_set_and_decides_native_bf16(
    capabilities, isa, bf16, monkeypatch
):
    assert device_module.cpu_isa(capabilities, caps={}) == isa
    monkeypatch.setattr(device_module, "_cpu_capabilities", lambda: capabilities)
    monkeypatch.setattr(device_module, "_process_isa_caps", lambda: {})
    assert device_module.native_bf16("cpu") is bf16
    assert resolve_precision("auto", "cpu") == ("bf16" if bf16 else "fp32")


ZEN4 = {"avx512_bf16": True, "avx512f": True, "avx2": True}


@pytest.mark.parametrize(
    ("environ", "aten", "caps", "isa"),
    [
        ({}, "AVX512", {}, "AVX512-BF16"),
        # the three caps that made the course's Zen 4 run a Zen 3's (AVX2) kernels
        (
            {"ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_ENABLE_INSTRUCTIONS": "AVX2"},
            "AVX2",
            {"aten": "AVX2", "onednn": "AVX2", "mkl": "AVX2"},
            "AVX2",
        ),
        ({"ONEDNN_MAX_CPU_ISA": "avx512_core"}, "AVX512", {"onednn": "AVX512"}, "AVX512"),
        (
            {"DNNL_MAX_CPU_ISA": "AVX512_CORE_BF16"},
            "AVX512",
            {"onednn": "AVX512-BF16"},
            "AVX512-BF16",
        ),
        ({"ONEDNN_MAX_CPU_ISA": "SSE41"}, "AVX512", {"onednn": "other"}, "other"),
        (
            {"ONEDNN_MAX_CPU_ISA": "ALL", "MKL_ENABLE_INSTRUCTIONS": "AVX512"},
            "AVX512",
            {},
            "AVX512-BF16",
        ),
        ({}, "DEFAULT", {"aten": "other"}, "other"),
    ],
)
def test_isa_caps_lower_the_recorded_cpu_kind(environ, aten, caps, isa):
    assert device_module.isa_caps(environ, aten) == caps
    assert device_module.cpu_isa(ZEN4, caps) == isa


def test_a_cap_above_the_cpu_does_not_raise_its_kind():
    assert device_module.cpu_isa({"avx2": True}, {"onednn": "AVX512-BF16"}) == "AVX2"


def test_only_fp16_gets_a_gradient_scaler():
    assert isinstance(grad_scaler("cpu", "fp16"), torch.amp.GradScaler)
    assert grad_scaler("cpu", "fp32") is None and grad_scaler("cpu", "bf16") is None
    with pytest.raises(ValueError, match="precision must be one of auto, bf16, fp32, fp16"):
        grad_scaler("cpu", "half")


@pytest.mark.parametrize("attention", list_attention())
def test_fp16_step_on_the_cpu_is_finite_and_close_to_fp32(attention):
    check_fp16_step(attention, torch.device("cpu"))


class TinyNet(nn.Module):
    """A network small enough to train in float16 on a CPU in a second."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.AdaptiveAvgPool2d(4)
        )
        self.classifier = nn.Linear(8 * 16, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).flatten(1))


def test_fp16_training_saves_and_restores_the_gradient_scale(cifar_small, tmp_path, monkeypatch):
    config = TrainConfig(epochs=1, batch_size=32, image_size=32, precision="fp16",
                         eval_batch_size=100)  # fmt: skip
    torch.manual_seed(0)
    history = fit(TinyNet(), cifar_small, config, run_dir=tmp_path, device="cpu", progress=False)
    assert all(torch.isfinite(torch.tensor(history.train_loss)))
    saved = torch.load(tmp_path / "last.pt", weights_only=True)
    assert saved["scaler"]["scale"] > 0, "last.pt keeps the gradient scale"

    saved["scaler"]["scale"] = 1024.0  # as if it had backed off during the first epoch
    torch.save(saved, tmp_path / "last.pt")
    scalers = []

    def recording_scaler(device, precision):
        scalers.append(grad_scaler(device, precision))
        return scalers[-1]

    # the module, not the function course_lib.train re-exports under the same name
    monkeypatch.setattr(importlib.import_module("course_lib.train.fit"), "grad_scaler",
                        recording_scaler)  # fmt: skip
    history = fit(TinyNet(), cifar_small, config.replace(epochs=2), run_dir=tmp_path,
                  device="cpu", progress=False)  # fmt: skip
    assert history.epoch == [1, 2], "resumed after the saved epoch"
    # 10 more steps without overflow: the scale grows only every 2,000, so it stays restored
    assert scalers[0].get_scale() == 1024.0


def test_bf16_and_fp32_checkpoints_have_no_scaler(cifar_small, tmp_path):
    config = TrainConfig(epochs=1, batch_size=32, image_size=32, precision="fp32",
                         eval_batch_size=100)  # fmt: skip
    fit(TinyNet(), cifar_small, config, run_dir=tmp_path, device="cpu", progress=False)
    assert "scaler" not in torch.load(tmp_path / "last.pt", weights_only=True)
