"""Gate statistics read the multipliers the attention modules actually apply."""

from __future__ import annotations

import pytest
import torch

from course_lib.explain.gates import format_gate_table, gate_statistics
from course_lib.models import build_model

GATES = [
    ("se", "channel"),
    ("cbam", "product"),
    ("triplet", "mean of branches"),
    ("simam", "neuron"),
]


@pytest.mark.parametrize("attention, gate", GATES)
def test_the_reported_gate_is_what_the_module_multiplies_by(attention, gate):
    torch.manual_seed(0)
    model = build_model("alexnet", attention=attention, image_size=64).eval()
    images = torch.randn(4, 3, 64, 64)
    stats = {(s.module, s.gate): s for s in gate_statistics(model, images)}
    seen = {}
    module = model.features.attn2
    module.register_forward_hook(lambda m, args, out: seen.update(x=args[0], out=out))
    with torch.no_grad():
        model(images)
    ratio = seen["out"] / seen["x"]
    ratio = ratio[seen["x"].abs() > 1e-3]  # where the input is not (almost) zero
    assert stats[("features.attn2", gate)].mean == pytest.approx(float(ratio.mean()), abs=2e-3)


def test_untrained_se_and_cbam_halve_and_quarter_the_activations():
    """At initialisation SE's sigmoid sits near 0.5, and CBAM's two gates multiply to about a
    quarter: the measurement chapter 04 reads."""
    torch.manual_seed(0)
    images = torch.randn(8, 3, 64, 64)
    se = gate_statistics(build_model("alexnet", attention="se", image_size=64), images)
    cbam = gate_statistics(build_model("alexnet", attention="cbam", image_size=64), images)
    assert all(0.45 < s.mean < 0.55 for s in se)
    assert all(0.2 < s.mean < 0.32 for s in cbam if s.gate == "product")
    assert "product" in format_gate_table(cbam)


def test_a_model_without_gates_is_refused():
    with pytest.raises(ValueError, match="no attention module with gates"):
        gate_statistics(build_model("alexnet", image_size=64), torch.randn(1, 3, 64, 64))


def test_se_from_identity_starts_near_the_identity_with_the_same_parameters():
    from course_lib.attention import create_attention

    torch.manual_seed(0)
    plain = create_attention("se", 64)
    torch.manual_seed(0)
    rescaled = create_attention("se_from_identity", 64)
    assert sum(p.numel() for p in plain.parameters()) == sum(
        p.numel() for p in rescaled.parameters()
    )
    x = torch.randn(4, 64, 7, 7)
    torch.testing.assert_close(rescaled.gate(x), 2 * plain.gate(x))
    images = torch.randn(4, 3, 64, 64)
    torch.manual_seed(0)
    model = build_model("alexnet", attention="se_from_identity", image_size=64)
    assert all(0.9 < s.mean < 1.1 for s in gate_statistics(model, images))


def test_activation_scale_sees_the_gates_shrink_the_signal():
    """Same seed, same convolutions: SE's untrained gates (near 0.5) shrink what conv5 passes on
    to a fraction of plain AlexNet's (not all the way to 2^-5: the next convolution's bias is
    not gated), CBAM's (near 0.25) further; SE from identity keeps it near AlexNet's."""
    from course_lib.explain.signal import activation_scale

    images = torch.randn(8, 3, 64, 64)
    scales = {}
    for attention in (None, "se", "cbam", "se_from_identity"):
        torch.manual_seed(0)
        model = build_model("alexnet", attention=attention, image_size=64)
        if attention:  # the convolutions and classifier of plain AlexNet, the gates on top
            torch.manual_seed(0)
            plain = build_model("alexnet", image_size=64)
            model.load_state_dict(plain.state_dict(), strict=False)
        scales[attention] = activation_scale(model, images)
    assert list(scales[None]) == [f"features.relu{i}" for i in range(1, 6)] + ["logits"]
    ratio = {a: s["features.relu5"] / scales[None]["features.relu5"] for a, s in scales.items()}
    assert ratio["se"] < 0.4
    assert ratio["cbam"] < 0.6 * ratio["se"]
    assert 0.8 < ratio["se_from_identity"] < 1.25
    with pytest.raises(ValueError, match="named_modules"):
        activation_scale(build_model("alexnet", image_size=64), images, layers=["features.nope"])
