"""Compiling only the attention modules: same names, same numbers, same checkpoints."""

from __future__ import annotations

import copy
import logging
import shutil

import pytest
import torch

from course_lib.attention import create_attention
from course_lib.models import build_model
from course_lib.runtime.compile import compile_attention, compiled


def test_an_unknown_compile_mode_is_refused():
    with pytest.raises(ValueError, match="compile must be one of model, attention"):
        compiled(torch.nn.Linear(2, 2), "everything")


@pytest.mark.skipif(not shutil.which("g++"), reason="torch.compile on a CPU needs a C++ compiler")
def test_compiled_attention_modules_compute_the_same_and_keep_their_names():
    torch.manual_seed(0)
    eager = build_model("alexnet", attention="simam", image_size=64)
    model = copy.deepcopy(eager)
    keys = list(model.state_dict())
    assert compile_attention(model) == [f"features.attn{i}" for i in range(1, 6)]
    assert list(model.state_dict()) == keys, "checkpoints of a compiled model load anywhere"
    x = torch.randn(4, 3, 64, 64)
    for m in (eager, model):
        m.train()
        torch.manual_seed(1)  # the same dropout masks (dropout runs outside the compiled parts)
        m(x).square().sum().backward()
        m.eval()
    torch.testing.assert_close(model(x), eager(x), rtol=1e-4, atol=1e-4)
    for (name, a), b in zip(eager.named_parameters(), model.parameters()):
        torch.testing.assert_close(b.grad, a.grad, rtol=1e-4, atol=1e-4, msg=name)


def test_auto_compiles_only_where_it_was_measured_to_pay(monkeypatch):
    import course_lib.runtime.compile as compile_module

    monkeypatch.setattr(compile_module, "compiler_works", lambda: True)
    cpu, steps = torch.device("cpu"), compile_module.MIN_STEPS_TO_COMPILE

    def choice(attention, precision="bf16", device=cpu, steps=steps):
        model = build_model("alexnet", attention=attention, image_size=64)
        return compile_module.auto_compile(model, device, precision, steps)

    assert choice("cbam") == choice("simam") == "attention"
    assert choice("se") is None and choice(None) is None, "too little gain to repay"
    # Triplet Attention saves ~13 ms a step: only a long run repays a first compilation
    assert choice("triplet") is None and choice("triplet", steps=1500) == "attention"
    assert choice("cbam", precision="fp32") is None
    assert choice("cbam", steps=steps - 1) is None, "a short run does not repay a compilation"
    assert choice("cbam", device=torch.device("cuda")) is None
    monkeypatch.setattr(compile_module, "compiler_works", lambda: False)
    assert choice("cbam") is None, "without a working compiler the run trains eagerly"


@pytest.mark.skipif(not shutil.which("g++"), reason="torch.compile on a CPU needs a C++ compiler")
def test_compiled_cbam_has_finite_bf16_gradients_close_to_eager():
    """Compiled as one graph, CBAM gave non-finite gradients in bf16 (torch 2.14, CPU) on
    conv1's map; compile_attention compiles its two parts one by one (CBAM.compile_parts)."""
    torch.manual_seed(0)
    eager = torch.nn.Sequential(create_attention("cbam", 48))
    model = copy.deepcopy(eager)
    compile_attention(model)
    x = torch.randn(32, 48, 32, 32).to(torch.bfloat16).contiguous(memory_format=torch.channels_last)
    upstream = torch.randn(32, 48, 32, 32).to(torch.bfloat16)
    grads = []
    for m in (eager, model):
        xx = x.clone().requires_grad_(True)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            m(xx).backward(upstream)
        grads.append([xx.grad.float(), *(p.grad for p in m.parameters())])
    for got, want in zip(*reversed(grads), strict=True):
        assert torch.isfinite(got).all()
        # bf16 rounds every stored value by up to 0.4 %; a weight's gradient sums 32,768 of them
        assert (got - want).norm() <= 0.15 * want.norm()


def test_torch_warning_about_a_missing_cuda_runtime_is_dropped(caplog):
    """Compiling for the CPU on a machine with a CUDA toolkit and no GPU: torch's "No CUDA
    runtime is found" line is dropped (course_lib.runtime.compile installs the filter); its
    other warnings still come through."""
    logger = logging.getLogger("torch.utils.cpp_extension")
    with caplog.at_level(logging.WARNING, logger=logger.name):
        logger.warning("No CUDA runtime is found, using CUDA_HOME='%s'", "/usr/local")
        logger.warning("Error checking compiler version for %s", "c++")
    assert [r.getMessage() for r in caplog.records] == ["Error checking compiler version for c++"]


@pytest.mark.skipif(not shutil.which("g++"), reason="torch.compile on a CPU needs a C++ compiler")
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float32])
def test_triplet_compiles_only_its_zpool_backward_and_keeps_every_bit(dtype):
    """compile_attention gives Triplet Attention its compiled Z-pool backward (one fused pass)
    and leaves the module eager; the input gradient equals the eager node's bit for bit, in its
    memory layout, and so do the parameters' gradients."""
    torch.manual_seed(0)
    eager = torch.nn.Sequential(create_attention("triplet", 48))
    model = copy.deepcopy(eager)
    compile_attention(model)
    assert model[0].compiled_backward and not eager[0].compiled_backward
    assert model[0]._compiled_call_impl is None, "the module itself stays eager"
    x = torch.randn(16, 48, 20, 24).to(dtype).contiguous(memory_format=torch.channels_last)
    upstream = torch.randn_like(x)
    grads = []
    for m in (eager, model):
        xx = x.clone().requires_grad_(True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype == torch.bfloat16):
            m(xx).backward(upstream)
        assert xx.grad.is_contiguous(memory_format=torch.channels_last)
        grads.append([xx.grad, *(p.grad for p in m.parameters())])
    for got, want in zip(*grads, strict=True):
        assert torch.equal(got, want)
