"""Query dependence of attention maps: known cases."""

from __future__ import annotations

import pytest
import torch

from course_lib.explain.query_dependence import query_dependence


def test_identical_maps_have_no_query_dependence_and_disjoint_ones_the_most():
    same = torch.softmax(torch.randn(1, 1, 16), -1).expand(2, 16, 16)
    q = query_dependence(same)
    assert q.cosine_distance == pytest.approx(0, abs=1e-12)
    assert q.total_variation == pytest.approx(0, abs=1e-12)
    one_hot = torch.eye(16)[None]  # each query looks only at itself
    q = query_dependence(one_hot)
    assert q.cosine_distance == pytest.approx(1) and q.total_variation == pytest.approx(1)
    assert q.peak_over_uniform == pytest.approx(16)


def test_an_untrained_block_s_maps_are_far_from_query_specific():
    from course_lib.attention import SelfAttention

    torch.manual_seed(0)
    block = SelfAttention(32)
    maps = block.attention_map(torch.randn(2, 32, 8, 8))
    q = query_dependence(maps)
    assert q.total_variation < 0.5


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match=r"\(B, N, N\)"):
        query_dependence(torch.rand(2, 3, 4))


def test_self_attention_maps_of_every_block_in_eval_mode_and_the_mode_restored():
    from course_lib.explain import self_attention_maps
    from course_lib.models import build_model
    from course_lib.variants import RESNET, RESNET_SELF_ATTENTION

    net = build_model("cifar_resnet", attention="self_attention", num_classes=10,
                      **RESNET_SELF_ATTENTION).train()  # fmt: skip
    maps = self_attention_maps(net, torch.randn(3, 3, 32, 32))
    assert {n: tuple(m.shape) for n, m in maps.items()} == {
        "stages.1.attention": (3, 256, 256),  # the 16x16 map
        "stages.2.attention": (3, 64, 64),  # the 8x8 map
    }
    for m in maps.values():
        torch.testing.assert_close(m.sum(-1), torch.ones(m.shape[:2]))
    assert net.training
    with pytest.raises(ValueError, match="no self-attention block"):
        self_attention_maps(build_model("cifar_resnet", **RESNET), torch.randn(1, 3, 32, 32))


def test_attention_share_is_zero_at_initialisation_and_gamma_times_the_output_after():
    from course_lib.attention import SelfAttention
    from course_lib.explain import attention_share

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 16, 3, padding=1), SelfAttention(16))
    x = torch.randn(2, 3, 8, 8)
    assert attention_share(net, x) == {"1": 0.0}
    net[1].gamma.data.fill_(0.5)
    features = net[0](x)
    added = 0.5 * (net[1](features) - features) / 0.5  # γ o with γ = 0.5
    expected = float(added.pow(2).mean().sqrt() / features.pow(2).mean().sqrt())
    assert attention_share(net, x)["1"] == pytest.approx(expected, rel=1e-4)
    assert attention_share(net, x)["1"] > 0.01


def test_key_concentration_of_one_hot_maps_that_share_a_border_key():
    from course_lib.explain import key_concentration

    n = 16  # a 4x4 map
    maps = torch.zeros(2, n, n)
    maps[:, :, 0] = 1.0  # every query looks at the corner key (0, 0) ...
    maps[:, 5, 0], maps[:, 5, 5] = 0.0, 1.0  # ... but query 5, which looks at itself
    k = key_concentration(maps)
    assert k.max_weight == 1.0 and k.distinct_keys == 2.0
    assert k.modal_share == pytest.approx(15 / 16) and k.self_weight == pytest.approx(2 / 16)
    assert k.modal_on_border == 1.0 and k.border_fraction == pytest.approx(12 / 16)
    uniform = key_concentration(torch.full((1, n, n), 1 / n))
    assert uniform.max_weight == pytest.approx(1 / n)
    with pytest.raises(ValueError, match="not a square"):
        key_concentration(torch.full((1, 12, 12), 1 / 12))
