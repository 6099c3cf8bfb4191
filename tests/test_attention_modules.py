"""Attention modules: shapes, parameter counts, equivalences and closed forms."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from course_lib.attention import (
    ATTENTION,
    CBAM,
    ChannelAttention,
    SimAM,
    SpatialAttention,
    SqueezeExcite,
    StaticTripletAttention,
    TripletAttention,
    ZPool,
    create_attention,
    list_attention,
)
from course_lib.attention._fast import (
    MeanGateProduct,
    ThreeAxisZPool,
    plain_forms,
    row_band_kernel,
    same_conv2d,
    spatial_gate,
    triplet_gates,
)
from course_lib.attention.simam import (
    closed_form_solution,
    energy,
    minimal_energy,
    numerical_minimum,
)
from course_lib.experiments.measure import count_flops
from course_lib.models import build_model

ALEXNET_224_PARAMS = 14_601_930  # AlexNet without attention, 10 classes, 224 px


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def n_running_stats(module: nn.Module) -> int:
    return sum(
        b.numel()
        for name, b in module.named_buffers()
        if name.endswith("running_mean") or name.endswith("running_var")
    )


# --- every registered name ------------------------------------------------------------------


@pytest.mark.parametrize("name", list_attention())
def test_registered_attention_preserves_shape(name):
    torch.manual_seed(0)
    needs_size = getattr(ATTENTION.get(name), "needs_map_size", False)
    module = create_attention(name, 48, **({"size": 15} if needs_size else {}))
    x = torch.randn(2, 48, 15, 15)
    assert module(x).shape == x.shape


@pytest.mark.parametrize("name", list_attention())
def test_registered_attention_fits_alexnet(name):
    torch.manual_seed(0)
    model = build_model("alexnet", attention=name, image_size=64)
    out = model(torch.randn(2, 3, 64, 64))
    assert out.shape == (2, 10)
    assert torch.isfinite(out).all()


def test_all_course_modules_registered():
    assert {"triplet", "simam", "se", "cbam", "none"} <= set(list_attention())


# --- Triplet Attention ----------------------------------------------------------------------


@pytest.mark.parametrize("channels", [8, 48, 192])
def test_triplet_parameter_count_is_width_independent(channels):
    module = TripletAttention(channels)
    assert n_params(module) == 300  # 3 gates x (98 conv weights + 2 BN affine)
    assert n_running_stats(module) == 6  # 3 x (running_mean + running_var), 1 element each
    assert sum(b.numel() for b in module.buffers()) == 9  # + 3 num_batches_tracked


def test_triplet_alexnet_parameter_counts():
    plain = build_model("alexnet", image_size=224)
    ta = build_model("alexnet", attention="triplet", image_size=224)
    assert n_params(plain) == ALEXNET_224_PARAMS
    assert n_params(ta) == ALEXNET_224_PARAMS + 1_500  # 5 modules x 300
    # The seed's "+1530": parameters plus BatchNorm running mean/var, 5 x (300 + 6).
    extra = n_params(ta) + n_running_stats(ta) - n_params(plain) - n_running_stats(plain)
    assert extra == 1_530 == 5 * (300 + 6)


def test_triplet_no_spatial():
    module = TripletAttention(48, no_spatial=True)
    assert n_params(module) == 200
    assert module.hw is None
    x = torch.randn(2, 48, 9, 11)
    out = module(x)
    assert out.shape == x.shape
    torch.testing.assert_close(out, module.forward_literal(x), atol=1e-5, rtol=1e-5)
    assert set(module.gates(x)) == {"cw", "hc"}


def test_triplet_gate_shapes_broadcast_in_x_layout():
    module = TripletAttention(6).eval()
    x = torch.randn(2, 6, 5, 7)  # B, C, H, W all different
    gates = module.gates(x)
    assert gates["cw"].shape == (2, 6, 1, 7)
    assert gates["hc"].shape == (2, 6, 5, 1)
    assert gates["hw"].shape == (2, 1, 5, 7)
    mean_gate = (gates["cw"] + gates["hc"] + gates["hw"]) / 3
    torch.testing.assert_close(module(x), x * mean_gate)
    # Each gate equals the literal branch's gate, rotated back into x's layout.
    g_cw = module.cw.gate(x.permute(0, 2, 1, 3)).permute(0, 2, 1, 3)
    g_hc = module.hc.gate(x.permute(0, 3, 2, 1)).permute(0, 3, 2, 1)
    torch.testing.assert_close(gates["cw"], g_cw)
    torch.testing.assert_close(gates["hc"], g_hc)
    torch.testing.assert_close(gates["hw"], module.hw.gate(x))


def _randomise_bn(module: nn.Module) -> None:
    """Non-trivial BN affine parameters and running statistics, so eval mode is a real test."""
    for m in module.modules():
        if isinstance(m, nn.BatchNorm2d):
            with torch.no_grad():
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 2.0)


@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
@pytest.mark.parametrize("train", [True, False])
def test_triplet_literal_and_fast_forms_agree(train, layout):
    torch.manual_seed(0)
    fast = TripletAttention(12)
    _randomise_bn(fast)
    literal = copy.deepcopy(fast)
    literal.fast = False
    fast.train(train)
    literal.train(train)

    x = torch.randn(3, 12, 9, 13).contiguous(memory_format=layout)
    x_fast = x.clone().requires_grad_(True)
    x_lit = x.clone().requires_grad_(True)
    out_fast = fast(x_fast)
    out_lit = literal(x_lit)
    torch.testing.assert_close(out_fast, out_lit, atol=1e-5, rtol=1e-5)

    weight = torch.randn_like(out_fast)  # a generic upstream gradient
    (out_fast * weight).sum().backward()
    (out_lit * weight).sum().backward()
    torch.testing.assert_close(x_fast.grad, x_lit.grad, atol=1e-5, rtol=1e-5)
    for (name, p_fast), (_, p_lit) in zip(
        fast.named_parameters(), literal.named_parameters(), strict=True
    ):
        assert p_fast.grad is not None, name
        torch.testing.assert_close(p_fast.grad, p_lit.grad, atol=1e-4, rtol=1e-4, msg=name)
    # In train mode both forms update the BN running statistics identically.
    for (name, b_fast), (_, b_lit) in zip(
        fast.named_buffers(), literal.named_buffers(), strict=True
    ):
        torch.testing.assert_close(b_fast, b_lit, msg=name)


def _triplet_output_and_grads(module: TripletAttention, x: torch.Tensor, weight: torch.Tensor):
    x = x.clone().requires_grad_(True)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=x.dtype == torch.bfloat16):
        out = module(x)
    (out.float() * weight).sum().backward()
    grads = [p.grad for p in module.parameters()]
    return out.float(), x.grad.float(), grads


def _bf16_without_tied_maxima(shape: tuple[int, ...]) -> torch.Tensor:
    """Random bf16 values whose maximum along H, W and C is unique everywhere. bf16's coarse
    steps make ties common, and on a tie the two forms pass the gradient to different (equally
    valid) entries."""
    while True:
        x = torch.randn(shape).to(torch.bfloat16)
        if all(((x == x.amax(d, keepdim=True)).sum(d) == 1).all() for d in (1, 2, 3)):
            return x


def test_triplet_fast_form_in_bf16_agrees_with_the_literal_one_to_bf16_rounding():
    """Under bf16 autocast (the CPU default where bf16 is native) the fast path pools in float32
    and the literal one in bf16. bf16 keeps 8 significant bits, so every stored value is rounded
    by up to 2**-9 = 0.2 % of itself, and the two forms round at different points (the pooled
    maps, the gate convolution's input, the product): agreement to a few bf16 steps (3 %) is
    all that can hold, and the float32 test above checks the algebra exactly."""
    torch.manual_seed(0)
    fast = TripletAttention(16).train()
    _randomise_bn(fast)
    literal = copy.deepcopy(fast)
    literal.fast = False
    x = _bf16_without_tied_maxima((4, 16, 12, 12)).contiguous(memory_format=torch.channels_last)
    weight = torch.randn(4, 16, 12, 12)
    out_f, grad_f, params_f = _triplet_output_and_grads(fast, x, weight)
    out_l, grad_l, params_l = _triplet_output_and_grads(literal, x, weight)
    assert grad_f.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(out_f, out_l, atol=3e-2, rtol=3e-2)
    torch.testing.assert_close(grad_f, grad_l, atol=3e-2, rtol=3e-2)
    for p_f, p_l in zip(params_f, params_l, strict=True):
        # a parameter's gradient sums thousands of bf16 products: compare relative to its size
        assert (p_f - p_l).norm() <= 3e-2 * p_l.norm()


def _pretend_compiling(monkeypatch):
    monkeypatch.setattr(torch.compiler, "is_compiling", lambda: True)


def _pretend_on_a_gpu(monkeypatch):
    from course_lib.attention import _fast

    monkeypatch.setattr(_fast, "on_accelerator", lambda t: True)


@pytest.mark.parametrize("pretend", [_pretend_compiling, _pretend_on_a_gpu])
def test_triplet_plain_forms_equal_the_eager_cpu_form(pretend, monkeypatch):
    """Inside ``torch.compile`` the fast path uses plain pools and a plain product (the compiler
    fuses them; it would not fuse through the hand-written autograd nodes); on a GPU the CPU
    tricks give way to plain pools, the gates' own convolutions and a plain product (fewer
    kernel launches there). Same numbers, outputs and gradients, checked on the CPU."""
    from course_lib.attention import _fast

    torch.manual_seed(0)
    module = TripletAttention(12).train()
    _randomise_bn(module)
    plain_module = copy.deepcopy(module)
    x = torch.randn(3, 12, 9, 13).contiguous(memory_format=torch.channels_last)
    weight = torch.randn(3, 12, 9, 13)
    eager = _triplet_output_and_grads(module, x, weight)
    pretend(monkeypatch)
    assert not _fast.cpu_forms(x)
    plain = _triplet_output_and_grads(plain_module, x, weight)
    torch.testing.assert_close(plain[0], eager[0], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(plain[1], eager[1], atol=1e-5, rtol=1e-5)
    for a, b in zip(plain[2], eager[2], strict=True):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
def test_three_axis_zpool_matches_zpool_and_its_gradient_is_exact(layout):
    torch.manual_seed(0)
    x = torch.randn(2, 5, 4, 6, dtype=torch.float64).contiguous(memory_format=layout)
    over_h, over_w, over_c = ThreeAxisZPool.apply(x)
    torch.testing.assert_close(over_h, ZPool()(x.permute(0, 2, 1, 3)))  # (B, 2, C, W)
    torch.testing.assert_close(over_w, ZPool()(x.permute(0, 3, 1, 2)))  # (B, 2, C, H)
    torch.testing.assert_close(over_c, ZPool()(x))  # (B, 2, H, W)
    # finite differences against the hand-written backward (no ties in random doubles)
    assert torch.autograd.gradcheck(ThreeAxisZPool.apply, (x.requires_grad_(),))
    grad = torch.autograd.grad(sum(m.sum() for m in ThreeAxisZPool.apply(x)), x)[0]
    assert grad.is_contiguous(memory_format=layout), "the gradient keeps x's memory layout"


@pytest.mark.parametrize(
    "shape", [(2, 2, 16, 48), (2, 2, 48, 16), (2, 2, 7, 7), (2, 2, 3, 20), (2, 2, 1, 12)]
)
@pytest.mark.parametrize("k", [3, 7])
def test_same_conv2d_equals_conv2d_with_its_gradients(shape, k):
    """Rows as channels gives F.conv2d's values and gradients, for wide, tall and tiny maps."""
    torch.manual_seed(0)
    x = torch.randn(shape, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(1, 2, k, k, dtype=torch.float64, requires_grad=True)
    ours = same_conv2d(x, weight)
    reference = F.conv2d(x, weight, padding=k // 2)
    torch.testing.assert_close(ours, reference)
    assert ours.is_contiguous()
    upstream = torch.randn_like(reference)
    grads = torch.autograd.grad(ours, (x, weight), upstream)
    grads_reference = torch.autograd.grad(reference, (x, weight), upstream)
    for g, g_ref in zip(grads, grads_reference):
        torch.testing.assert_close(g, g_ref)


def test_flops_count_the_plain_gate_convolution():
    """count_flops reports the paper's arithmetic, not the banded form's extra zeros."""
    ta = build_model("alexnet", attention="triplet", image_size=64)
    plain = build_model("alexnet", image_size=64)
    gate_flops = 0
    for side, channels in ((16, 48), (7, 128), (3, 192), (3, 192), (3, 128)):
        maps = 2 * channels * side + side * side  # output positions of the three gates
        gate_flops += 2 * 98 * maps  # 2 FLOPs per multiply-add, 2 x 7 x 7 per position
    assert count_flops(ta, 64) - count_flops(plain, 64) == gate_flops


def test_row_band_kernel_holds_the_kernel_rows_on_its_band():
    weight = torch.arange(2 * 3 * 3, dtype=torch.float32).view(1, 2, 3, 3)
    band = row_band_kernel(weight, rows=4)  # (4 output rows, 2 channels x 4 input rows, 3)
    assert band.shape == (4, 8, 3)
    torch.testing.assert_close(band[2, 0 * 4 + 1], weight[0, 0, 0])  # row above: kernel row 0
    torch.testing.assert_close(band[2, 1 * 4 + 3], weight[0, 1, 2])  # row below: kernel row 2
    assert band[0, 3].abs().sum() == 0, "rows farther apart than k // 2 do not interact"


def test_mean_gate_product_gradients_are_exact():
    """The hand-written backward (window sums) against finite differences, in both layouts."""
    torch.manual_seed(0)
    for layout in (torch.contiguous_format, torch.channels_last):
        x = torch.randn(2, 3, 4, 5, dtype=torch.float64).contiguous(memory_format=layout)
        gates = [torch.rand(2, 3, 1, 5), torch.rand(2, 3, 4, 1), torch.rand(2, 1, 4, 5)]
        inputs = (x, *(g.double() for g in gates))
        inputs = tuple(t.requires_grad_() for t in inputs)
        torch.testing.assert_close(
            MeanGateProduct.apply(*inputs), x * (inputs[1] + inputs[2] + inputs[3]) / 3
        )
        assert torch.autograd.gradcheck(MeanGateProduct.apply, inputs)
        assert torch.autograd.gradcheck(MeanGateProduct.apply, inputs[:3])  # no_spatial


@pytest.mark.parametrize("module", [TripletAttention, CBAM])
def test_gates_reject_an_even_kernel(module):
    with pytest.raises(ValueError, match="odd"):
        module(16, kernel_size=4)


# --- SimAM ----------------------------------------------------------------------------------


def test_simam_has_no_parameters_and_default_lambda():
    module = SimAM(48)
    assert n_params(module) == 0
    assert module.lam == 1e-4
    assert create_attention("simam", 48, lam=1e-5).lam == 1e-5


def test_simam_matches_direct_formula():
    torch.manual_seed(0)
    lam = 1e-4
    x = torch.randn(2, 5, 6, 7)
    n = 6 * 7 - 1
    mu = x.mean(dim=(2, 3), keepdim=True)
    var = ((x - mu) ** 2).sum(dim=(2, 3), keepdim=True) / n
    e_inv = (x - mu) ** 2 / (4 * (var + lam)) + 0.5
    torch.testing.assert_close(SimAM(lam=lam)(x), x * torch.sigmoid(e_inv))


def test_simam_rejects_1x1_maps():
    with pytest.raises(ValueError, match="1x1"):
        SimAM()(torch.randn(2, 4, 1, 1))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_simam_closed_form_is_the_energy_minimum(seed):
    gen = torch.Generator().manual_seed(seed)
    lam = 1e-4
    others = torch.randn(24, generator=gen, dtype=torch.float64) * 0.7 + 0.3
    t = torch.randn((), generator=gen, dtype=torch.float64) * 2

    w_cf, b_cf, e_cf = closed_form_solution(t, others, lam)
    assert torch.isclose(energy(w_cf, b_cf, t, others, lam), e_cf, rtol=1e-10)

    # Numerical minimisation of energy() from a generic start.
    w, b, e_num = numerical_minimum(t, others, lam)
    assert torch.isclose(e_num, e_cf, rtol=1e-4)
    assert torch.isclose(w.detach(), w_cf, rtol=1e-4)
    assert torch.isclose(b.detach(), b_cf, rtol=1e-4, atol=1e-8)
    # No (w, b) nearby does better than the closed form.
    for dw, db in [(1e-3, 0), (-1e-3, 0), (0, 1e-3), (0, -1e-3)]:
        assert energy(w_cf + dw, b_cf + db, t, others, lam) > e_cf

    # The paper prints w_t with a minus sign: that is the minimiser with swapped labels, same e*.
    e_swapped = energy(-w_cf, -b_cf, t, others, lam, y_t=-1.0, y_o=1.0)
    torch.testing.assert_close(e_swapped, e_cf)


def test_simam_forward_inverse_energy_is_eq5_with_channel_statistics():
    """What is compared: SimAM's ``1/e`` equals ``1 / minimal_energy(t, mu, var)`` when mu is the
    mean over ALL H*W neurons of the channel and var = sum (x - mu)^2 / (H*W - 1): the paper's
    approximation of the other neurons' statistics by the channel's. The exact per-neuron
    minimum (statistics of the other neurons, closed_form_solution) differs, but only a little
    and with the same ranking of neurons on a 16x16 map."""
    torch.manual_seed(0)
    lam = 1e-4
    x = torch.randn(1, 1, 16, 16, dtype=torch.float64)
    flat = x.flatten()
    n = flat.numel() - 1
    mu = flat.mean()
    var = ((flat - mu) ** 2).sum() / n
    inv_e = SimAM(lam=lam).inverse_energy(x).flatten()
    torch.testing.assert_close(inv_e, 1 / minimal_energy(flat, mu, var, lam))

    exact = torch.stack(
        [
            1 / closed_form_solution(flat[i], torch.cat([flat[:i], flat[i + 1 :]]), lam)[2]
            for i in range(flat.numel())
        ]
    )
    rel = ((exact - inv_e).abs() / exact).max()
    assert rel < 0.05
    assert torch.equal(exact.argsort(), inv_e.argsort())


# --- SE and CBAM ----------------------------------------------------------------------------


@pytest.mark.parametrize("channels", [48, 192])
def test_se_parameter_count(channels):
    h = max(channels // 16, 8)
    assert n_params(SqueezeExcite(channels)) == channels * h + h + h * channels + channels


def test_se_scales_by_a_factor_in_0_1():
    torch.manual_seed(0)
    x = torch.randn(2, 48, 7, 7)
    out = SqueezeExcite(48)(x)
    ratio = out / x
    assert ((ratio > 0) & (ratio < 1)).all()
    # One factor per (sample, channel).
    assert torch.allclose(ratio, ratio[:, :, :1, :1].expand_as(ratio), atol=1e-5)
    assert (out.abs() <= x.abs()).all()


@pytest.mark.parametrize("channels", [48, 192])
def test_cbam_parameter_count(channels):
    h = max(channels // 16, 8)
    channel_params = channels * h + h + h * channels + channels  # Linear layers with bias
    spatial_params = 2 * 7 * 7 + 2  # bias-free conv + BN affine
    assert n_params(ChannelAttention(channels)) == channel_params
    assert n_params(SpatialAttention()) == spatial_params
    assert n_params(CBAM(channels)) == channel_params + spatial_params
    assert n_running_stats(CBAM(channels)) == 2


def test_cbam_is_channel_then_spatial():
    torch.manual_seed(0)
    module = CBAM(16).eval()
    x = torch.randn(2, 16, 6, 6)
    expected = module.spatial(module.channel(x))
    torch.testing.assert_close(module(x), expected)
    assert module.channel.gate(x).shape == (2, 16, 1, 1)
    assert module.spatial.gate(x).shape == (2, 1, 6, 6)


# --- a few training steps -------------------------------------------------------------------


@pytest.mark.parametrize("name", ["triplet", "simam", "se", "cbam", "psa"])
def test_few_adam_steps_lower_the_loss(name):
    torch.manual_seed(0)
    model = build_model("alexnet", attention=name, image_size=64, dropout=0.0)
    images = torch.randn(16, 3, 64, 64)
    labels = torch.randint(0, 10, (16,))
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    losses = []
    for _ in range(8):
        opt.zero_grad()
        loss = loss_fn(model(images), labels)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    with torch.no_grad():
        final = loss_fn(model(images), labels).item()
    assert final < losses[0] - 0.02  # monotone descent of ~0.05-0.1 nats in practice


def test_simam_exact_inverse_energy_is_the_leave_one_out_closed_form():
    from course_lib.attention.simam import closed_form_solution, exact_inverse_energy

    x = torch.randn(2, 3, 4, 5, dtype=torch.float64)
    exact = exact_inverse_energy(x, 1e-4)
    for b, c, i, j in [(0, 0, 0, 0), (1, 2, 3, 4), (0, 1, 2, 1)]:
        flat = x[b, c].flatten()
        k = i * 5 + j
        others = torch.cat([flat[:k], flat[k + 1 :]])
        e = closed_form_solution(flat[k], others, 1e-4)[2]
        torch.testing.assert_close(exact[b, c, i, j], 1 / e)


@pytest.mark.parametrize("shape", [(2, 6, 5, 9), (2, 6, 9, 5), (2, 6, 7, 7)])
def test_fast_gates_equal_the_plain_ones(shape):
    """The private fast path gives the teaching classes' gates: TA's three (tall, wide and square
    maps, so the transposed path is taken) and CBAM's spatial gate."""
    torch.manual_seed(0)
    x = torch.randn(*shape)
    ta = TripletAttention(shape[1]).train()
    plain, fast = ta.gates(x), triplet_gates(ta, x)
    assert plain.keys() == fast.keys()
    for key in plain:
        torch.testing.assert_close(fast[key], plain[key], atol=1e-5, rtol=1e-5)
    spatial = SpatialAttention().eval()
    spatial.fast = False
    torch.testing.assert_close(spatial_gate(spatial, x), spatial.gate(x), atol=1e-5, rtol=1e-5)


def test_plain_forms_switches_every_fast_module_and_restores_it():
    model = nn.Sequential(TripletAttention(4), CBAM(16), TripletAttention(4, fast=False))
    before = [getattr(m, "fast", None) for m in model.modules()]
    with plain_forms(model):
        assert not any(getattr(m, "fast", False) for m in model.modules())
    assert [getattr(m, "fast", None) for m in model.modules()] == before


# --- the input-independent control ------------------------------------------------------------


def test_static_triplet_gates_ignore_the_image_and_keep_tas_gate_structure():
    torch.manual_seed(0)
    module = StaticTripletAttention(48, size=15).eval()
    x1, x2 = torch.randn(2, 48, 15, 15), torch.randn(2, 48, 15, 15)
    gate1 = module(x1) / x1  # the mean gate, recovered from the product
    gate2 = module(x2) / x2
    torch.testing.assert_close(gate1, gate2, rtol=1e-4, atol=1e-4)  # the same for any image
    torch.testing.assert_close(gate1[0], gate1[1], rtol=1e-4, atol=1e-4)
    shapes = {k: tuple(g.shape) for k, g in module.gates().items()}
    assert shapes == {"cw": (1, 48, 1, 15), "hc": (1, 48, 15, 1), "hw": (1, 1, 15, 15)}
    assert gate1.std() > 0.01  # not a constant: it varies over channels and positions
    # Triplet Attention's 300 gate parameters plus the three learned 2-channel maps
    assert n_params(module) == 300 + 2 * (48 * 15 + 15 * 48 + 15 * 15)
    assert n_running_stats(module) == 6


def test_static_triplet_refuses_a_missing_size_and_another_map():
    with pytest.raises(ValueError, match="needs the feature map's side"):
        StaticTripletAttention(48)
    with pytest.raises(ValueError, match="built for"):
        StaticTripletAttention(48, size=15)(torch.randn(1, 48, 14, 14))


def test_static_triplet_in_alexnet_gets_each_sites_side():
    model = build_model("alexnet", attention="triplet_static", image_size=128)
    sides = [m.size for m in model.modules() if isinstance(m, StaticTripletAttention)]
    assert sides == [32, 15, 7, 7, 7]  # conv1-conv5 at 128 px


def test_psa_with_fixed_weights_is_psas_convolutions_averaged_without_its_se():
    from course_lib.attention import FixedWeightPSA, PSAModule

    torch.manual_seed(0)
    psa = PSAModule(32, 32, groups=(1, 2, 4, 8))
    fixed = FixedWeightPSA(32, 32, groups=(1, 2, 4, 8))
    fixed.load_state_dict({k: v for k, v in psa.state_dict().items() if not k.startswith("se.")})
    assert n_params(psa) - n_params(fixed) == n_params(psa.se) > 0
    x = torch.randn(2, 32, 9, 9)
    branches = psa._branch_features(x)
    expected = torch.cat([branches[:, i] / 4 for i in reversed(range(4))], dim=1)
    torch.testing.assert_close(fixed(x), expected)
    assert not torch.allclose(psa(x), expected)  # PSA's own weights are not 1/4
    weights = fixed.branch_weights(x)
    assert weights.shape == (2, 4, 8, 1, 1) and torch.all(weights == 0.25)
    slot = create_attention("psa_fixed", 48)
    assert type(slot).__name__ == "FixedWeightPSAAttention" and slot.se is None
    assert torch.all(slot.branch_weights(torch.randn(1, 48, 5, 5)) == 0.25)


@pytest.mark.parametrize(
    ("ablation", "removed"),
    [
        ({"decompose": False}, "both"),  # chapter 06's first ablation, as it was trained
        ({"decompose": False, "channel_aggregation": True}, "spatial"),
        ({"channel_aggregation": False}, "ffn"),
    ],
)
def test_moganet_ablations_remove_one_part_at_a_time(ablation, removed):
    from course_lib.models.moganet import MogaBlock

    block = MogaBlock(32, **ablation)
    spatial, ffn = block.attn.use_decompose, block.mlp.use_decompose
    assert (spatial, ffn) == {"both": (False, False), "spatial": (False, True),
                              "ffn": (True, False)}[removed]  # fmt: skip
    assert hasattr(block.attn, "sigma") == spatial and hasattr(block.mlp, "decompose") == ffn
    full = MogaBlock(32)
    assert full.attn.use_decompose and full.mlp.use_decompose
