"""GradCAM and GradCAM++ written from the papers' equations, for teaching.

Both share one recipe (:class:`ScratchCAM`): hook the target layer's activations ``A`` (B, K,
h, w) and the gradient of the class score ``y^c`` with respect to them, turn the gradients into
one weight per channel, and keep the positive part of the weighted sum of activation maps. They
differ only in the channel weights (:meth:`ScratchCAM.channel_weights`):

* GradCAM (Selvaraju et al., ICCV 2017, Eq. 1-2):
  ``alpha_k = 1/Z sum_ij dy^c/dA^k_ij``  and  ``L = ReLU(sum_k alpha_k A^k)``.
* GradCAM++ (Chattopadhay et al., WACV 2018, Eq. 19 with the exponential score of their
  Sec. 3.2, as in their and pytorch_grad_cam's code): with g = dy^c/dA,
  ``a^k_ij = g^2 / (2 g^2 + sum_ab A^k_ab g^3)`` and ``w_k = sum_ij a^k_ij ReLU(g_ij)``.

The maps are then normalised to [0, 1] per image and resized to the input, as pytorch_grad_cam
does, so the two implementations can be compared number for number (tests and chapter 08).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .target_layers import target_layer


class ScratchCAM:
    """The shared part of class activation maps; subclasses define the channel weights."""

    def __init__(self, model: nn.Module, layer: nn.Module | None = None):
        self.model = model
        self.layer = layer or target_layer(model)

    def channel_weights(self, activations: torch.Tensor, grads: torch.Tensor) -> torch.Tensor:
        """(B, K) weights from activations and gradients of shape (B, K, h, w)."""
        raise NotImplementedError

    def raw_maps(self, inputs: torch.Tensor, classes: Sequence[int] | None = None) -> torch.Tensor:
        """ReLU(sum_k w_k A^k) at the layer's resolution, (B, h, w), not normalised."""
        activations, grads = self.activations_and_gradients(inputs, classes)
        weights = self.channel_weights(activations, grads)
        return F.relu((weights[:, :, None, None] * activations).sum(dim=1))

    def activations_and_gradients(
        self, inputs: torch.Tensor, classes: Sequence[int] | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The layer's activations A and the gradients dy^c/dA of each image's class score
        (the predicted class where ``classes`` is None), both (B, K, h, w) in float32."""
        store = {}

        def keep(module, args, output):
            store["A"] = output
            output.register_hook(lambda grad: store.__setitem__("dA", grad))

        handle = self.layer.register_forward_hook(keep)
        try:
            self.model.eval()
            self.model.zero_grad(set_to_none=True)
            logits = self.model(inputs)
            if classes is None:
                classes = logits.argmax(dim=1).tolist()
            index = torch.as_tensor(list(classes), device=logits.device)
            logits.gather(1, index[:, None]).sum().backward()  # each image's own class score
        finally:
            handle.remove()
        return store["A"].detach().float(), store["dA"].detach().float()

    def __call__(self, inputs: torch.Tensor, classes: Sequence[int] | None = None) -> np.ndarray:
        """Maps of shape (B, H, W) in [0, 1], resized to the input.

        As pytorch_grad_cam: min-max normalise, resize bilinearly, min-max normalise again.
        """
        maps = _min_max(self.raw_maps(inputs, classes))
        maps = F.interpolate(maps[:, None], size=inputs.shape[-2:], mode="bilinear",
                             align_corners=False)[:, 0]  # fmt: skip
        return _min_max(maps).cpu().numpy()


def _min_max(maps: torch.Tensor) -> torch.Tensor:
    maps = maps - maps.flatten(1).min(dim=1).values[:, None, None]
    return maps / (maps.flatten(1).max(dim=1).values[:, None, None] + 1e-7)


class ScratchGradCAM(ScratchCAM):
    """GradCAM: the gradient averaged over positions is the channel's weight."""

    def channel_weights(self, activations: torch.Tensor, grads: torch.Tensor) -> torch.Tensor:
        return grads.mean(dim=(2, 3))  # alpha_k = 1/Z sum_ij dy/dA_ij


class ScratchGradCAMPlusPlus(ScratchCAM):
    """GradCAM++: positive gradients, weighted per position by higher-order terms,
    ``alpha_ij = g_ij^2 / (2 g_ij^2 + sum_ab A_ab g_ij^3 + eps)``.

    ``eps`` keeps the division finite. pytorch_grad_cam adds a fixed 1e-6 (the default here, so
    that this class reproduces the library); but class-score gradients at a late layer are often
    of order 1e-4, so g^2 (~1e-8) is *smaller* than that eps, which then dominates the
    denominator: the weights become ~g^2 / eps, not the equation. ``eps="relative"`` scales it to
    each map's own denominators (1e-6 of their largest magnitude), so that the weights follow the
    equation at any gradient scale.
    """

    def __init__(self, model: nn.Module, layer: nn.Module | None = None, eps: float | str = 1e-6):
        super().__init__(model, layer)
        self.eps = eps

    def channel_weights(self, activations: torch.Tensor, grads: torch.Tensor) -> torch.Tensor:
        g2, g3 = grads**2, grads**3
        sum_a = activations.sum(dim=(2, 3), keepdim=True)
        denominator = 2 * g2 + sum_a * g3
        if self.eps == "relative":
            scale = denominator.abs().amax(dim=(1, 2, 3), keepdim=True)
            eps = 1e-6 * scale + torch.finfo(denominator.dtype).tiny
        else:
            eps = float(self.eps)
        alpha = g2 / (denominator + eps)
        alpha = torch.where(grads != 0, alpha, torch.zeros_like(alpha))
        return (alpha * F.relu(grads)).sum(dim=(2, 3))  # w_k = sum_ij a_ij ReLU(g_ij)
