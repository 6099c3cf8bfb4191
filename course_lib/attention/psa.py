"""Pyramid Squeeze Attention (PSA), the module of EPSANet.

Paper: Hu Zhang, Keke Zu, Jian Lu, Yuru Zou, Deyu Meng, "EPSANet: An Efficient Pyramid Squeeze
Attention Block on Convolutional Neural Network", arXiv:2105.14447 (2021; its first version said
"Pyramid Split Attention"), ACCV 2022. Official code: github.com/murufeng/EPSANet.

PSA replaces the 3x3 convolution of a ResNet bottleneck. Its four steps (Sec. 3.2 of the paper;
the comments name each step, as equation numbers differ between versions of the paper):

1. Split and Concat (SPC): four convolutions of the *whole* input, kernels 3, 5, 7, 9 and
   groups 1, 4, 8, 16, each producing ``planes / 4`` channels: F_i = Conv(k_i x k_i, G_i)(X).
2. SE weights per scale: Z_i = SEWeight(F_i), one SE module shared by all four
   branches.
3. Softmax across the scales: att_i = exp(Z_i) / sum_j exp(Z_j), per channel, so for
   every channel the four branch weights sum to 1.
4. Re-weight and concatenate: Y_i = F_i * att_i, Out = Cat([Y_1, ..., Y_4]).

The official code concatenates in *reverse* order, ``Cat([Y_4, Y_3, Y_2, Y_1])`` (its loop does
``out = cat((y_i, out))``), so the 9x9 branch comes first. The order matters only for loading
official weights into the next 1x1 conv; we follow the official order.
"""

from __future__ import annotations

import torch
from torch import nn

from ..runtime.modes import inspecting
from .registry import register_attention
from .se import SqueezeExcite

PSA_KERNELS = (3, 5, 7, 9)
PSA_GROUPS = (1, 4, 8, 16)


class SEWeight(SqueezeExcite):
    """The SE weights of one branch: GAP -> 1x1 conv C->C/r -> ReLU -> 1x1 conv -> sigmoid.

    :class:`SqueezeExcite`'s gate, returned rather than applied: the weights, shape
    (B, C, 1, 1), not the re-weighted features. Both 1x1 convs have a bias, as in the official
    ``SEWeightModule`` (and the parameter names match it). The squeezed width is
    ``max(1, C // r)`` so that narrow inputs (e.g. AlexNet's 12-channel PSA branches) still work;
    for EPSANet (C >= 16) this equals the official C // r.
    """

    def __init__(self, channels: int, reduction: int = 16):
        super().__init__(channels, reduction, min_channels=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.gate(x)  # w = sigmoid(W1 ReLU(W0 mean_HW(x)))


class PSAModule(nn.Module):
    """The PSA module: multi-scale features re-weighted by a softmax over scales.

    Args:
        in_channels: input channels (every branch sees all of them).
        planes: output channels; each of the four branches produces ``planes // 4``.
        kernels: the four branch kernel sizes (padding ``k // 2`` keeps the size).
        groups: the four branch group counts; each must divide ``in_channels`` and
            ``planes // 4``.
        stride: stride of all four branches (EPSANet downsamples here).
        reduction: the shared SE module's reduction ratio.
    """

    def __init__(
        self,
        in_channels: int,
        planes: int,
        kernels: tuple[int, ...] = PSA_KERNELS,
        groups: tuple[int, ...] = PSA_GROUPS,
        stride: int = 1,
        reduction: int = 16,
    ):
        super().__init__()
        if len(kernels) != 4 or len(groups) != 4:
            raise ValueError(f"PSA has four branches: got kernels={kernels}, groups={groups}")
        if planes % 4:
            raise ValueError(f"PSA needs planes divisible by 4 (four branches), got {planes}")
        self.split_channels = planes // 4
        for g in groups:
            if in_channels % g or self.split_channels % g:
                raise ValueError(
                    f"PSA group count {g} must divide in_channels={in_channels} and "
                    f"planes//4={self.split_channels}"
                )
        self.kernels = tuple(kernels)
        self.groups = tuple(groups)
        # SPC: F_i = Conv(k_i x k_i, G_i)(X), one conv per scale; no bias (EPSANet has a BN next).
        self.convs = nn.ModuleList(
            nn.Conv2d(
                in_channels,
                self.split_channels,
                kernel_size=k,
                stride=stride,
                padding=k // 2,
                groups=g,
                bias=False,
            )
            for k, g in zip(kernels, groups, strict=True)
        )
        self.se = SEWeight(self.split_channels, reduction)  # shared by the four branches

    def _branch_features(self, x: torch.Tensor) -> torch.Tensor:
        """F_i = Conv(k_i x k_i, G_i)(X), stacked: (B, 4, C/4, H, W)."""
        return torch.stack([conv(x) for conv in self.convs], dim=1)

    def _features_and_weights(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b = x.shape[0]
        feats = self._branch_features(x)  # (B, 4, C/4, H, W)
        # SE weights: Z_i = SEWeight(F_i), the same module on each branch -> (B, 4, C/4, 1, 1)
        se = torch.stack([self.se(feats[:, i]) for i in range(4)], dim=1)
        weights = torch.softmax(se.view(b, 4, self.split_channels, 1, 1), dim=1)  # att_i
        return feats, weights

    def branch_weights(self, x: torch.Tensor) -> torch.Tensor:
        """The softmax weights att_i, shape (B, 4, planes/4, 1, 1), branch i = kernels[i].

        For every sample and channel the four weights sum to 1.
        """
        return self._features_and_weights(x)[1]

    def se_hidden(self, x: torch.Tensor) -> torch.Tensor:
        """The shared SE module's hidden activations for each branch, (B, 4, hidden): after its
        ReLU, so 0 where a unit is off. With planes/4 channels and reduction 16 the SE has
        ``max(1, planes/64)`` hidden units; where they are all off for a branch, its scores Z_i
        are the sigmoid of the second convolution's bias, the same for every input."""
        squeezed = self._branch_features(x).mean(dim=(3, 4), keepdim=True)  # (B, 4, C/4, 1, 1)
        return torch.stack(
            [self.se.act(self.se.fc1(squeezed[:, i])).flatten(1) for i in range(4)], dim=1
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats, weights = self._features_and_weights(x)
        weighted = feats * weights  # re-weight: Y_i = F_i * att_i
        # Out = Cat(Y_i), in the official (reverse) order: [Y_4, Y_3, Y_2, Y_1].
        return torch.cat([weighted[:, i] for i in reversed(range(4))], dim=1)


def fit_groups(
    in_channels: int, planes: int, groups: tuple[int, ...] = PSA_GROUPS
) -> tuple[int, ...]:
    """For each official group count g, the largest official count <= g dividing both widths.

    AlexNet's widths 48, 128, 192, 192, 128 give planes//4 = 12, 32, 48, 48, 32: the official
    (1, 4, 8, 16) fit all but the 48-channel layer, where 8 and 16 do not divide 12 and become 4:
    (1, 4, 4, 4).
    """
    split = planes // 4
    fitted = []
    for g in groups:
        options = [c for c in PSA_GROUPS if c <= g and in_channels % c == 0 and split % c == 0]
        fitted.append(max(options) if options else 1)
    return tuple(fitted)


@register_attention("psa")
class PSAAttention(PSAModule):
    """PSA as a drop-in for an attention slot: ``channels`` in, ``channels`` out.

    In EPSANet, PSA *replaces* a convolution and is followed by a BatchNorm (the bottleneck's
    ``conv2 -> bn2 -> relu``). In AlexNet's ``attention`` slot it is used the same way,
    ``out = BN(PSA(x))`` before AlexNet's own ReLU: a shape-preserving multi-scale re-mixing of
    the conv's output, which adds parameters (its four branch convs) unlike SE-style gating.
    Without the BatchNorm the signal fades through five stacked PSA modules (each output is a
    softmax-weighted quarter of four convolutions) and AlexNet-PSA does not train at all: the
    loss stays at ln 10. Group counts are fitted to the width with :func:`fit_groups`.
    """

    def __init__(
        self,
        channels: int,
        kernels: tuple[int, ...] = PSA_KERNELS,
        groups: tuple[int, ...] = PSA_GROUPS,
        reduction: int = 16,
    ):
        if channels % 4:
            raise ValueError(f"PSA needs channels divisible by 4 (four branches), got {channels}")
        super().__init__(
            channels,
            channels,
            kernels=kernels,
            groups=fit_groups(channels, channels, tuple(groups)),
            stride=1,
            reduction=reduction,
        )
        self.bn = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(super().forward(x))


@register_attention("psa_shortcut")
class PSAShortcut(PSAAttention):
    """AlexNet-PSA's slot with a shortcut around it, ``out = x + BN(PSA(x))``: the variant of
    chapter 05 that tests whether PSA hurts AlexNet because AlexNet, unlike EPSANet's bottleneck,
    has no shortcut past it. Everything else (branches, groups, BatchNorm and its
    initialisation) is :class:`PSAAttention`'s, so the two differ only in the ``x +``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + super().forward(x)


def softmax_weight_bounds(branches: int = 4) -> tuple[float, float]:
    """The range a PSA weight can take: the softmax of sigmoid outputs Z_i in (0, 1).

    att_i = exp(Z_i) / sum_j exp(Z_j) is smallest with Z_i -> 0 and every other Z_j -> 1, and
    largest the other way round: 1 / (1 + (n-1) e) and e / (e + n - 1), about 0.109 and 0.475
    for four branches. No channel can put all its weight on one scale.
    """
    e = torch.e
    return 1.0 / (1.0 + (branches - 1) * e), e / (e + branches - 1)


def _from_every_psa_module(
    model: nn.Module, inputs: torch.Tensor, batch_size: int, read
) -> dict[str, torch.Tensor]:
    """``read(module, its input)`` for every PSA module of ``model``, over ``inputs`` in eval
    mode (forward hooks), concatenated over the batches: ``{module name: tensor}``."""
    modules = {n: m for n, m in model.named_modules() if isinstance(m, PSAModule)}
    if not modules:
        raise ValueError("the model has no PSA module (build it with attention='psa')")
    found: dict[str, list[torch.Tensor]] = {n: [] for n in modules}
    hooks = [
        m.register_forward_hook(
            lambda mod, args, out, name=n: found[name].append(read(mod, args[0]).float().cpu())
        )
        for n, m in modules.items()
    ]
    device = next(model.parameters()).device
    with inspecting(model, hooks):
        for start in range(0, len(inputs), batch_size):
            model(inputs[start : start + batch_size].to(device))
    return {n: torch.cat(values) for n, values in found.items()}


@torch.no_grad()
def collect_se_activity(
    model: nn.Module, inputs: torch.Tensor, batch_size: int = 250
) -> dict[str, torch.Tensor]:
    """For every PSA module, the share of (image, hidden unit) pairs in which the shared SE
    module's hidden ReLU is on, per branch: ``{module name: (4,)}``. A branch at 0 has a dead
    SE: its scores do not depend on the image."""
    found = _from_every_psa_module(
        model, inputs, batch_size, lambda mod, x: PSAModule.se_hidden(mod, x) > 0
    )
    return {n: on.mean(dim=(0, 2)) for n, on in found.items()}


@torch.no_grad()
def collect_branch_weights(
    model: nn.Module, inputs: torch.Tensor, batch_size: int = 250
) -> dict[str, torch.Tensor]:
    """Every PSA module's branch weights att_i on real inputs: ``{module name: (N, 4, C/4)}``.

    The model is run in eval mode; each PSA module's input is caught with a forward hook and
    passed to :meth:`PSAModule.branch_weights`.
    """
    return _from_every_psa_module(
        model, inputs, batch_size, lambda mod, x: PSAModule.branch_weights(mod, x).flatten(2)
    )


class _FixedBranchWeights:
    """PSA's branch weights fixed at 1/4: the control for PSA's attention. The SE module is
    removed, every branch weighs 1/4 for every image and channel, and what remains are the four
    multi-scale convolutions, averaged (and what follows them: the BatchNorm in AlexNet's slot)."""

    def _drop_se(self) -> None:
        self.se = None

    def _features_and_weights(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        feats = self._branch_features(x)  # (B, 4, C/4, H, W)
        return feats, feats.new_full((x.shape[0], 4, self.split_channels, 1, 1), 0.25)

    def se_hidden(self, x: torch.Tensor) -> torch.Tensor:
        raise ValueError("PSA with fixed branch weights has no SE module")


class FixedWeightPSA(_FixedBranchWeights, PSAModule):
    """:class:`PSAModule` with every branch weight 1/4 (the CIFAR ResNet's ``psa_fixed`` mixer)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._drop_se()


@register_attention("psa_fixed")
class FixedWeightPSAAttention(_FixedBranchWeights, PSAAttention):
    """AlexNet-PSA's slot, ``BN(PSA(x))``, with every branch weight 1/4: PSA against it measures
    what the softmax branch weights add."""

    def __init__(self, channels: int, **kwargs):
        super().__init__(channels, **kwargs)
        self._drop_se()
