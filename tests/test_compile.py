"""Compiling only the attention modules: same names, same numbers, same checkpoints."""

from __future__ import annotations

import copy
import shutil

import pytest
import torch

from course_lib.compile import compile_attention, compiled
from course_lib.models import build_model


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
    import course_lib.compile as compile_module

    monkeypatch.setattr(compile_module, "compiler_works", lambda: True)
    cpu, steps = torch.device("cpu"), compile_module.MIN_STEPS_TO_COMPILE

    def choice(attention, precision="bf16", device=cpu, steps=steps):
        model = build_model("alexnet", attention=attention, image_size=64)
        return compile_module.auto_compile(model, device, precision, steps)

    assert choice("cbam") == choice("simam") == "attention"
    assert choice("triplet") is None and choice(None) is None, "too little gain to repay"
    assert choice("cbam", precision="fp32") is None
    assert choice("cbam", steps=steps - 1) is None, "a short run does not repay a compilation"
    assert choice("cbam", device=torch.device("cuda")) is None
    monkeypatch.setattr(compile_module, "compiler_works", lambda: False)
    assert choice("cbam") is None, "without a working compiler the run trains eagerly"
