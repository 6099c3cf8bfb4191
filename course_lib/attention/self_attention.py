"""SAGAN-style self-attention for convolutional feature maps.

Paper: Han Zhang, Ian Goodfellow, Dimitris Metaxas, Augustus Odena, "Self-Attention Generative
Adversarial Networks", ICML 2019, arXiv:1805.08318 (Sec. 3).

For a feature map x with N = H*W positions x_1..x_N, as computed here (and in source 004):

    q_i = W_q x_i,  k_j = W_k x_j      (1x1 convs to C/8 channels)
    s_ij = q_i^T k_j
    beta_ij = exp(s_ij) / sum_j exp(s_ij)     (Eq. 1: softmax over the key positions j)
    o_i = sum_j beta_ij v_j,  v_j = W_v x_j   (Eq. 2: W_v is a 1x1 conv C -> C)
    y_i = gamma * o_i + x_i                   (Eq. 3: gamma is a learned scalar, starting at 0)

The paper writes s_ij = f(x_i)^T g(x_j) and normalises over i for an output position j; as f
and g are both learned 1x1 convs, swapping their names gives the form above. Its value path is
two convs, v(h(x)); the usual PyTorch ports (and source 004) merge them into one 1x1 conv C -> C.

With gamma = 0 the block is the identity at initialisation and learns how much non-local
evidence to mix in. The attention matrix is N x N: 4096 x 4096 for a 64x64 map, but
50176 x 50176 (10 GB in float32, per image) for VGG16's 224x224 conv1_1 output, where source 004
puts one. So training steps use PyTorch's fused ``scaled_dot_product_attention``, which does not
store the matrix; in eval mode the map is formed and kept for plots (``keep_attention``).

Source 004 also shows this computation (without gamma and the residual) under the name
"TripletAttention": that name is wrong.
Triplet Attention (Misra et al., WACV 2021) is a different module, with no query/key/value, in
:mod:`course_lib.attention.triplet`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .registry import register_attention

# From about this many positions the fused kernel is faster than forming the map (CPU, batch 128:
# 1.4x faster at 256 positions, 3x slower at 49); it also never stores the (B, N, N) matrix.
FUSED_MIN_POSITIONS = 128


@register_attention("self_attention")
class SelfAttention(nn.Module):
    """SAGAN self-attention: ``gamma * attend(x) + x``, the identity at initialisation.

    Args:
        channels: input (= output) channels C.
        reduction: query/key width is ``max(1, C // reduction)`` (8 in SAGAN).
        keep_attention: in eval mode, keep the last attention map (B, N, N) in
            ``self.last_attention`` (detached) for plots. Otherwise (training steps, or
            ``False``) ``last_attention`` is None, and maps of ``FUSED_MIN_POSITIONS`` positions
            or more use the fused ``scaled_dot_product_attention``, which never forms the map.

    The module returns a tensor (not a tuple), so forward hooks such as GradCAM's work on it.
    """

    def __init__(self, channels: int, reduction: int = 8, keep_attention: bool = True):
        super().__init__()
        inner = max(1, channels // reduction)
        self.query = nn.Conv2d(channels, inner, kernel_size=1)  # f
        self.key = nn.Conv2d(channels, inner, kernel_size=1)  # g
        self.value = nn.Conv2d(channels, channels, kernel_size=1)  # h (and v) merged
        self.gamma = nn.Parameter(torch.zeros(1))  # Eq. 3: initialised to 0
        self.keep_attention = keep_attention
        self.last_attention: torch.Tensor | None = None

    @staticmethod
    def tokens(x: torch.Tensor) -> torch.Tensor:
        """x (B, C, H, W) as N = H*W position vectors (B, N, C), position n = h * W + w.

        A view without a copy when x is channels_last (its memory is already (B, H, W, C)).
        """
        b, c, h, w = x.shape
        return x.permute(0, 2, 3, 1).reshape(b, h * w, c)

    @staticmethod
    def project(conv: nn.Conv2d, tokens: torch.Tensor) -> torch.Tensor:
        """A 1x1 conv applied to every position vector: ``tokens @ W^T + b``, (B, N, C_out)."""
        return F.linear(tokens, conv.weight.flatten(1), conv.bias)

    def attention_map(self, x: torch.Tensor) -> torch.Tensor:
        """beta, shape (B, N, N): row i is the softmax over key positions j for query i."""
        t = self.tokens(x)
        q, k = self.project(self.query, t), self.project(self.key, t)  # (B, N, C/8)
        energy = torch.bmm(q, k.transpose(1, 2))  # s_ij = f(x_i)^T g(x_j), (B, N, N)
        return torch.softmax(energy, dim=-1)  # Eq. 1: normalise over key positions

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Computed on position vectors (B, N, C) rather than on (B, C, N): for a channels_last x
        # that is its memory order, so no copies are made and the output is channels_last too.
        b, c, h, w = x.shape
        t = self.tokens(x)
        v = self.project(self.value, t)  # (B, N, C)
        keep = self.keep_attention and not self.training
        if not keep and h * w >= FUSED_MIN_POSITIONS:
            out = self.fused_attend(t, v)
            self.last_attention = None
        else:
            attn = self.attention_map(x)
            out = torch.bmm(attn, v)  # Eq. 2: o_i = sum_j beta_ij v_j, (B, N, C)
            self.last_attention = attn.detach() if keep else None
        y = self.gamma * out + t  # Eq. 3: y = gamma o + x, (B, N, C)
        return y.view(b, h, w, c).permute(0, 3, 1, 2)  # back to (B, C, H, W), channels_last

    def fused_attend(self, t: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """o = softmax(q k^T) v (Eqs. 1-2) with ``scaled_dot_product_attention``, (B, N, C).

        Unscaled as in SAGAN (scale=1). q and k are zero-padded from C/8 to v's width C: the
        zeros add nothing to q_i . k_j, and with equal widths PyTorch can use its fused kernels,
        which never store the (B, N, N) matrix (1.4-1.7x faster than the explicit form on the
        CPU for AlexNet's 16x16 conv1 map at 64 px, and far less memory at 224 px).
        """
        q, k = self.project(self.query, t), self.project(self.key, t)  # (B, N, C/8)
        pad = (0, v.shape[-1] - q.shape[-1])
        return F.scaled_dot_product_attention(F.pad(q, pad), F.pad(k, pad), v, scale=1.0)
