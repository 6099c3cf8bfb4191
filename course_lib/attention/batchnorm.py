"""A BatchNorm in the attention slot: the control for PSA's extra BatchNorm.

:class:`~course_lib.attention.psa.PSAAttention` is ``BN(PSA(x))``. Compared with a plain AlexNet,
AlexNet-PSA therefore differs in two ways: the PSA module and a BatchNorm after every conv.
``build_model("alexnet", attention="batchnorm")`` has the BatchNorm and no PSA, so that
"PSA against this control" measures what PSA itself adds (the control asked for by the
course's "Experiments that teach").
"""

from __future__ import annotations

from torch import nn

from .registry import register_attention


@register_attention("batchnorm")
class BatchNormControl(nn.BatchNorm2d):
    """``nn.BatchNorm2d(channels)``: no attention, only the normalisation PSA's slot adds."""

    def __init__(self, channels: int):
        super().__init__(channels)
