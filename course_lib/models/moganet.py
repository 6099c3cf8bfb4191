"""MogaNet: a pure ConvNet built from multi-order gated aggregation.

Paper: Siyuan Li, Zedong Wang, Zicheng Liu, Cheng Tan, Haitao Lin, Di Wu, Zhiyuan Chen, Jiangbin
Zheng, Stan Z. Li, "MogaNet: Multi-order Gated Aggregation Network", ICLR 2024,
arXiv:2211.03295. Official code: github.com/Westlake-AI/MogaNet (``models/moganet.py``).

A MetaFormer-style network of four stages. Each Moga block is::

    x = x + drop_path(gamma_1 * MultiOrderGatedAggregation(BN(x)))   # spatial mixing (SMixer)
    x = x + drop_path(gamma_2 * ChannelAggregationFFN(BN(x)))         # channel mixing (CMixer)

with layer scales gamma initialised to 1e-5. A two-conv stem (stride 4 in all) and a strided
3x3 conv + BN between stages; each stage ends with a BatchNorm; global average pool; linear head.

Checked against the official implementation: MogaNet-XT has 2,956,066 parameters at 1000
classes and MogaNet-T 5,197,332 (listed as 2.97M and 5.20M). Every conv has a bias.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops import StochasticDepth

from .registry import register_model, reject_attention


def _arch(embed_dims: list[int], depths: list[int]) -> dict[str, list[int]]:
    return {"embed_dims": embed_dims, "depths": depths, "ffn_ratios": [8, 8, 4, 4]}


# embed dims, depths and FFN ratios per stage: the official arch zoo (= source 002's)
MOGANET_ARCHS: dict[str, dict[str, list[int]]] = {
    "xtiny": _arch([32, 64, 96, 192], [3, 3, 10, 2]),
    "tiny": _arch([32, 64, 128, 256], [3, 3, 12, 2]),
    "small": _arch([64, 128, 320, 512], [2, 3, 12, 2]),
    "base": _arch([64, 160, 320, 512], [4, 6, 22, 3]),
    "large": _arch([64, 160, 320, 640], [4, 6, 44, 4]),
    "xlarge": _arch([96, 192, 480, 960], [6, 6, 44, 4]),
}
MOGANET_ALIASES = {"xt": "xtiny", "x-tiny": "xtiny", "t": "tiny", "s": "small", "b": "base",
                   "l": "large", "xl": "xlarge", "x-large": "xlarge"}  # fmt: skip


class ElementScale(nn.Module):
    """A learnable per-channel scale, ``x * s`` with s of shape (1, C, 1, 1) = ``init_value``."""

    def __init__(self, channels: int, init_value: float = 0.0):
        super().__init__()
        self.scale = nn.Parameter(torch.full((1, channels, 1, 1), float(init_value)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale


class ChannelAggregationFFN(nn.Module):
    """The channel-aggregation FFN (CMixer, "multi-order channel reallocation" in the paper)::

        Y = GELU(DW3x3(Conv1x1(X)))                  (1x1 up to ``hidden`` channels, 3x3 depthwise)
        CA(Y) = Y + sigma * (Y - GELU(Y W_r))         (channel aggregation; W_r: 1x1 conv to ONE
                                                       channel, sigma: per-channel, init 1e-5)
        Z = Conv1x1(CA(Y))                           (1x1 back down)

    The residual and the norm are in :class:`MogaBlock`. ``Y W_r`` collapses all channels into
    one map, and ``Y - GELU(Y W_r)`` pushes every channel away from that shared component.
    Source 002 computes ``self.decompose(x)`` and then overwrites it with ``self.act(x)``, so its
    ``decompose`` conv is never used and its FFN computes ``x + sigma * (x - GELU(x))``, a bug.
    """

    def __init__(
        self,
        channels: int,
        hidden: int,
        kernel_size: int = 3,
        drop: float = 0.0,
        decompose: bool = True,
    ):
        super().__init__()
        self.use_decompose = decompose  # False: the ablation without channel aggregation
        self.fc1 = nn.Conv2d(channels, hidden, kernel_size=1)
        self.dwconv = nn.Conv2d(
            hidden, hidden, kernel_size, padding=kernel_size // 2, groups=hidden
        )
        self.act = nn.GELU()
        if decompose:
            self.decompose = nn.Conv2d(hidden, 1, kernel_size=1)  # W_r: C -> 1
            self.decompose_act = nn.GELU()
            self.sigma = ElementScale(hidden, init_value=1e-5)
        self.fc2 = nn.Conv2d(hidden, channels, kernel_size=1)
        self.drop = nn.Dropout(drop)

    def feature_decompose(self, x: torch.Tensor) -> torch.Tensor:
        """CA(Y) = Y + sigma * (Y - GELU(Y W_r))."""
        return x + self.sigma(x - self.decompose_act(self.decompose(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.drop(self.act(self.dwconv(self.fc1(x))))  # Y
        if self.use_decompose:
            x = self.feature_decompose(x)  # CA(Y)
        return self.drop(self.fc2(x))  # Z (before the block's residual)


class MultiOrderDWConv(nn.Module):
    """The multi-order depthwise value branch of :class:`MultiOrderGatedAggregation`.

    A 5x5 depthwise conv (dilation d0) on all channels; then the channels are split by
    ``channel_split`` (1:3:4 of 8): the first part passes on, the second gets a 5x5 depthwise
    conv with dilation d1, the third a 7x7 with dilation d2; concatenate; 1x1 conv. With the
    default dilations 1, 2, 3 the receptive fields are 5, 5 + 8 = 13 and 5 + 18 = 23 pixels:
    low, middle and high-order context.
    """

    def __init__(
        self,
        channels: int,
        dilations: tuple[int, int, int] = (1, 2, 3),
        channel_split: tuple[int, int, int] = (1, 3, 4),
    ):
        super().__init__()
        total = sum(channel_split)
        if channels % total:
            raise ValueError(f"MogaNet needs channels divisible by {total}, got {channels}")
        self.channels_1 = int(channel_split[1] / total * channels)
        self.channels_2 = int(channel_split[2] / total * channels)
        self.channels_0 = channels - self.channels_1 - self.channels_2
        # padding (1 + (k - 1) d) // 2 keeps the size for kernel k and dilation d
        self.dw_conv0 = nn.Conv2d(
            channels, channels, 5, padding=(1 + 4 * dilations[0]) // 2,
            dilation=dilations[0], groups=channels,
        )  # fmt: skip
        self.dw_conv1 = nn.Conv2d(
            self.channels_1, self.channels_1, 5, padding=(1 + 4 * dilations[1]) // 2,
            dilation=dilations[1], groups=self.channels_1,
        )  # fmt: skip
        self.dw_conv2 = nn.Conv2d(
            self.channels_2, self.channels_2, 7, padding=(1 + 6 * dilations[2]) // 2,
            dilation=dilations[2], groups=self.channels_2,
        )  # fmt: skip
        self.pw_conv = nn.Conv2d(channels, channels, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x0 = self.dw_conv0(x)
        c0, c1 = self.channels_0, self.channels_1
        x1 = self.dw_conv1(x0[:, c0 : c0 + c1])
        x2 = self.dw_conv2(x0[:, c0 + c1 :])
        return self.pw_conv(torch.cat([x0[:, :c0], x1, x2], dim=1))


class MultiOrderGatedAggregation(nn.Module):
    """The spatial aggregation block (SMixer, "multi-order gated aggregation")::

        Y = Conv1x1(X)
        Y = SiLU(Y + sigma * (Y - GAP(Y)))       (feature decomposition, sigma init 1e-5)
        Z = Conv1x1(SiLU(Conv1x1(Y)) * SiLU(MultiOrderDWConv(Y)))     (gate * value)
        out = Z + X

    ``Y - GAP(Y)`` subtracts the component shared by all positions (the interaction of all
    patches, the highest order; the 1x1 conv alone sees only a patch itself, order 0), pushing
    the block towards the middle-order interactions that the paper finds networks neglect.

    For the ablations (chapter 06): ``decompose=False`` drops the decomposition
    (Y = SiLU(Conv1x1(X))); ``gating=False`` adds the two branches instead of multiplying them,
    ``SiLU(g) + SiLU(v)``: the same convolutions, parameters and (to within one elementwise op)
    FLOPs, but no multiplicative interaction between context and gate.
    """

    def __init__(
        self,
        channels: int,
        dilations: tuple[int, int, int] = (1, 2, 3),
        channel_split: tuple[int, int, int] = (1, 3, 4),
        decompose: bool = True,
        gating: bool = True,
    ):
        super().__init__()
        self.use_decompose = decompose
        self.use_gating = gating
        self.proj_1 = nn.Conv2d(channels, channels, kernel_size=1)
        if decompose:
            self.sigma = ElementScale(channels, init_value=1e-5)
        self.act_value = nn.SiLU()
        self.gate = nn.Conv2d(channels, channels, kernel_size=1)
        self.value = MultiOrderDWConv(channels, dilations, channel_split)
        self.act_gate = nn.SiLU()
        self.proj_2 = nn.Conv2d(channels, channels, kernel_size=1)

    def feature_decompose(self, x: torch.Tensor) -> torch.Tensor:
        """SiLU(Y + sigma * (Y - GAP(Y))) with Y = proj_1(X)."""
        x = self.proj_1(x)
        if self.use_decompose:
            x = x + self.sigma(x - F.adaptive_avg_pool2d(x, 1))
        return self.act_value(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x
        x = self.feature_decompose(x)
        g, v = self.gate(x), self.value(x)
        # the official code applies act_gate (SiLU, the same function) to both branches
        if self.use_gating:
            x = self.proj_2(self.act_gate(g) * self.act_gate(v))
        else:
            x = self.proj_2(self.act_gate(g) + self.act_gate(v))
        return x + shortcut


class MogaBlock(nn.Module):
    """BN -> spatial aggregation -> layer scale, BN -> channel FFN -> layer scale; two residuals."""

    def __init__(
        self,
        channels: int,
        ffn_ratio: float = 4.0,
        drop: float = 0.0,
        drop_path: float = 0.0,
        layer_scale_init: float = 1e-5,
        dilations: tuple[int, int, int] = (1, 2, 3),
        channel_split: tuple[int, int, int] = (1, 3, 4),
        decompose: bool = True,
        gating: bool = True,
        channel_aggregation: bool | None = None,
    ):
        super().__init__()
        if channel_aggregation is None:  # as before the two ablations were separated
            channel_aggregation = decompose
        self.norm1 = nn.BatchNorm2d(channels)
        self.attn = MultiOrderGatedAggregation(
            channels, dilations, channel_split, decompose=decompose, gating=gating
        )
        self.norm2 = nn.BatchNorm2d(channels)
        self.mlp = ChannelAggregationFFN(
            channels, int(channels * ffn_ratio), drop=drop, decompose=channel_aggregation
        )
        self.layer_scale_1 = nn.Parameter(torch.full((1, channels, 1, 1), layer_scale_init))
        self.layer_scale_2 = nn.Parameter(torch.full((1, channels, 1, 1), layer_scale_init))
        # stochastic depth: drop the whole residual branch for a random subset of samples
        self.drop_path = StochasticDepth(drop_path, "row") if drop_path > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path(self.layer_scale_1 * self.attn(self.norm1(x)))
        return x + self.drop_path(self.layer_scale_2 * self.mlp(self.norm2(x)))


class StackConvPatchEmbed(nn.Sequential):
    """The stem: 3x3/2 conv to C/2 -> BN -> GELU -> 3x3/2 conv to C -> BN (4x downsampling).

    ``stem_stride`` 2 makes the first conv stride 1 (for 32 px CIFAR images: stages at 16, 8, 4
    and 2 px instead of 8, 4, 2 and 1); 1 makes both stride 1.
    """

    def __init__(self, in_channels: int, channels: int, kernel_size: int = 3, stem_stride: int = 4):
        if stem_stride not in (1, 2, 4):
            raise ValueError(
                f"MogaNet's stem_stride is 1, 2 or 4 (the official 4), got {stem_stride}"
            )
        first, second = {1: (1, 1), 2: (1, 2), 4: (2, 2)}[stem_stride]
        pad = kernel_size // 2
        super().__init__(
            nn.Conv2d(in_channels, channels // 2, kernel_size, stride=first, padding=pad),
            nn.BatchNorm2d(channels // 2),
            nn.GELU(),
            nn.Conv2d(channels // 2, channels, kernel_size, stride=second, padding=pad),
            nn.BatchNorm2d(channels),
        )


class ConvPatchEmbed(nn.Sequential):
    """The downsampling between stages: 3x3/2 conv -> BN."""

    def __init__(self, in_channels: int, channels: int, kernel_size: int = 3, stride: int = 2):
        super().__init__(
            nn.Conv2d(in_channels, channels, kernel_size, stride=stride, padding=kernel_size // 2),
            nn.BatchNorm2d(channels),
        )


class MogaNet(nn.Module):
    """MogaNet for classification.

    Args:
        arch: a name from :data:`MOGANET_ARCHS` (or an alias: xt, t, s, b, l, xl), or a dict with
            ``embed_dims``, ``depths`` and ``ffn_ratios``.
        num_classes: output classes.
        in_channels: image channels.
        drop_rate: dropout inside the FFNs.
        drop_path_rate: stochastic depth, rising linearly from 0 to this over all blocks.
        layer_scale_init: initial layer scale (1e-5).
        dilations, channel_split: of the multi-order depthwise convs.
        stem_stride: the stem's downsampling, 4 (official) or 2 (for 32 px images).
        decompose, gating: False for the ablations of :class:`MultiOrderGatedAggregation`.
            ``decompose=False`` alone also drops the FFN's channel aggregation (chapter 06's
            first ablation, as it was trained), unless ``channel_aggregation`` says otherwise.
        channel_aggregation: the FFN's channel aggregation (:class:`ChannelAggregationFFN`);
            None follows ``decompose``. ``decompose=False, channel_aggregation=True`` removes
            the spatial block's decomposition alone, ``channel_aggregation=False`` the FFN's
            channel aggregation alone: one part at a time.

    The features of stage i are ``model.stages[i]``, each ending with its BatchNorm
    (``model.stages[-1][-1]`` is the last one, a good GradCAM target).
    """

    def __init__(
        self,
        arch: str | dict = "tiny",
        num_classes: int = 1000,
        in_channels: int = 3,
        drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        layer_scale_init: float = 1e-5,
        dilations: tuple[int, int, int] = (1, 2, 3),
        channel_split: tuple[int, int, int] = (1, 3, 4),
        stem_stride: int = 4,
        decompose: bool = True,
        gating: bool = True,
        channel_aggregation: bool | None = None,
    ):
        super().__init__()
        if isinstance(arch, str):
            key = MOGANET_ALIASES.get(arch.lower(), arch.lower())
            if key not in MOGANET_ARCHS:
                raise ValueError(
                    f"unknown MogaNet arch {arch!r}; choose from {sorted(MOGANET_ARCHS)} "
                    f"or {sorted(MOGANET_ALIASES)}"
                )
            settings = MOGANET_ARCHS[key]
        else:
            settings = arch
        self.embed_dims = list(settings["embed_dims"])
        self.depths = list(settings["depths"])
        self.ffn_ratios = list(settings["ffn_ratios"])
        # stochastic depth decay rule: linear in the block index
        total = sum(self.depths)
        rates = [drop_path_rate * i / max(1, total - 1) for i in range(total)]
        stages, block_index, previous = [], 0, in_channels
        for i, (dim, depth, ratio) in enumerate(
            zip(self.embed_dims, self.depths, self.ffn_ratios, strict=True)
        ):
            if i == 0:
                embed = StackConvPatchEmbed(previous, dim, stem_stride=stem_stride)
            else:
                embed = ConvPatchEmbed(previous, dim)
            blocks = [
                MogaBlock(
                    dim,
                    ffn_ratio=ratio,
                    drop=drop_rate,
                    drop_path=rates[block_index + j],
                    layer_scale_init=layer_scale_init,
                    dilations=dilations,
                    channel_split=channel_split,
                    decompose=decompose,
                    gating=gating,
                    channel_aggregation=channel_aggregation,
                )
                for j in range(depth)
            ]
            block_index += depth
            stages.append(nn.Sequential(embed, *blocks, nn.BatchNorm2d(dim)))  # norm{i+1}
            previous = dim
        self.stages = nn.Sequential(*stages)
        self.head = nn.Linear(self.embed_dims[-1], num_classes)
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(m: nn.Module) -> None:
        """The official timm-style init (truncated normal head, fan-out normal convs)."""
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=0.02)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Conv2d):
            fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels // m.groups
            nn.init.normal_(m.weight, 0.0, math.sqrt(2.0 / fan_out))
            if m.bias is not None:
                nn.init.zeros_(m.bias)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.stages(x).mean(dim=(2, 3))  # global average pool

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.forward_features(x))


def _build(arch: str | dict, num_classes: int, attention: str | None, **kwargs) -> MogaNet:
    reject_attention("MogaNet", attention)
    return MogaNet(arch, num_classes=num_classes, **kwargs)


def _factory(arch: str):
    def build(
        num_classes: int = 1000,
        attention: str | None = None,
        image_size: int | None = None,  # accepted for build_model, ignored: MogaNet pools
        **kwargs,
    ) -> MogaNet:
        return _build(arch, num_classes, attention, **kwargs)

    build.__name__ = f"moganet_{arch}"
    build.__doc__ = f"MogaNet-{arch} from the official arch zoo ({MOGANET_ARCHS[arch]})."
    return build


# every arch under its full name (moganet_xtiny, ...) and its short one (moganet_xt, ...)
for _short, _arch in MOGANET_ALIASES.items():
    if "-" not in _short:
        register_model(f"moganet_{_short}")(register_model(f"moganet_{_arch}")(_factory(_arch)))


@register_model("moganet")
def moganet(
    num_classes: int = 1000,
    attention: str | None = None,
    image_size: int | None = None,  # accepted for build_model, ignored: MogaNet pools
    arch: str | dict = "xtiny",
    **kwargs,
) -> MogaNet:
    """MogaNet of any ``arch``: a zoo name or a dict of ``embed_dims``, ``depths`` and
    ``ffn_ratios`` (chapter 06's ablations use a shallower MogaNet-XT)."""
    return _build(arch, num_classes, attention, **kwargs)
