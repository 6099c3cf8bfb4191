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
