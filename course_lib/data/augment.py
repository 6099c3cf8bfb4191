"""Augmentation of whole batches on the training device, each image with its own parameters.

The source notebooks' recipe, per image: random resized crop (scale 0.6-1, aspect 3/4-4/3) to the
target size, horizontal flip (p = 0.5), rotation within +-20 degrees, colour jitter 0.2 for
brightness, contrast and saturation; then normalisation. Instead of running torchvision's transforms
on one PIL image at a time, the crop, flip and rotation of a whole batch are folded into one affine
matrix per image and applied by a single ``grid_sample``; the colour jitter is three broadcast
products. On a GPU this costs almost nothing next to the model.

Two deliberate differences from the PIL pipeline (kept in :mod:`.pil_pipeline` for comparison):
the jitter is applied in a fixed order (brightness, contrast, saturation) rather than a random
one, and the corners that a rotation uncovers show the neighbouring image where it exists
rather than black.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F


def normalize(x: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """(x - mean) / std per channel, for float images in [0, 1]."""
    m = torch.tensor(mean, device=x.device, dtype=x.dtype).view(1, -1, 1, 1)
    s = torch.tensor(std, device=x.device, dtype=x.dtype).view(1, -1, 1, 1)
    return (x - m) / s


def denormalize(x: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """Back to [0, 1] for display; clamped, so that imshow never warns about clipping."""
    m = torch.tensor(mean, device=x.device, dtype=x.dtype).view(1, -1, 1, 1)
    s = torch.tensor(std, device=x.device, dtype=x.dtype).view(1, -1, 1, 1)
    return (x * s + m).clamp(0.0, 1.0)


def _grayscale(x: torch.Tensor) -> torch.Tensor:
    r, g, b = x.unbind(dim=1)
    return (0.299 * r + 0.587 * g + 0.114 * b).unsqueeze(1)  # ITU-R 601, as torchvision


def _uniform(n: int, low: float, high: float, generator, device) -> torch.Tensor:
    return torch.rand(n, generator=generator, device=device) * (high - low) + low


class EvalTransform:
    """Evaluation: resize to the target size and normalise (uint8 in, float out)."""

    def __init__(self, image_size: int, mean: Sequence[float], std: Sequence[float]):
        self.image_size, self.mean, self.std = image_size, tuple(mean), tuple(std)

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        x = images.float().div_(255.0)
        if x.shape[-1] != self.image_size or x.shape[-2] != self.image_size:
            x = F.interpolate(x, size=(self.image_size,) * 2, mode="bilinear", align_corners=False)
        return normalize(x, self.mean, self.std)


class BatchAugment:
    """The source notebooks' training augmentation, vectorised over a batch (uint8 in, float out).

    Args:
        image_size: output side in pixels.
        mean, std: normalisation statistics (from the training set).
        scale, ratio: area fraction and aspect-ratio range of the random resized crop.
        flip: probability of a horizontal flip.
        degrees: rotation range, +-degrees.
        brightness, contrast, saturation: colour-jitter strengths (factor in [1-v, 1+v]).
    """

    def __init__(
        self,
        image_size: int,
        mean: Sequence[float],
        std: Sequence[float],
        scale: tuple[float, float] = (0.6, 1.0),
        ratio: tuple[float, float] = (3 / 4, 4 / 3),
        flip: float = 0.5,
        degrees: float = 20.0,
        brightness: float = 0.2,
        contrast: float = 0.2,
        saturation: float = 0.2,
    ):
        self.image_size, self.mean, self.std = image_size, tuple(mean), tuple(std)
        self.scale, self.ratio, self.flip, self.degrees = scale, ratio, flip, degrees
        self.brightness, self.contrast, self.saturation = brightness, contrast, saturation

    def affine_matrices(self, n: int, generator=None, device=None) -> torch.Tensor:
        """One 2x3 matrix per image mapping output coordinates to input ones, in [-1, 1] units.

        With crop half-sizes (w, h), centre (cx, cy), flip sign f and angle a, an output point p
        samples the input at ``centre + diag(f w, h) R(-a) p``: rotate, flip, then crop.
        """
        area = _uniform(n, *self.scale, generator, device)
        log_ratio = _uniform(n, math.log(self.ratio[0]), math.log(self.ratio[1]), generator, device)
        aspect = log_ratio.exp()
        w = (area * aspect).sqrt().clamp(max=1.0)  # crop width / image width
        h = (area / aspect).sqrt().clamp(max=1.0)
        cx = _uniform(n, -1.0, 1.0, generator, device) * (1.0 - w)
        cy = _uniform(n, -1.0, 1.0, generator, device) * (1.0 - h)
        sign = torch.where(torch.rand(n, generator=generator, device=device) < self.flip, -1.0, 1.0)
        angle = _uniform(n, -self.degrees, self.degrees, generator, device) * (math.pi / 180.0)
        cos, sin = angle.cos(), angle.sin()
        # diag(sign*w, h) @ [[cos, sin], [-sin, cos]]  (R(-a), the inverse rotation)
        theta = torch.stack(
            [
                torch.stack([sign * w * cos, sign * w * sin, cx], dim=1),
                torch.stack([-h * sin, h * cos, cy], dim=1),
            ],
            dim=1,
        )
        return theta

    def sample_params(self, n: int, generator=None, device=None) -> dict[str, torch.Tensor]:
        """Every random draw for ``n`` images: jitter factors, then the affine matrices.

        Drawing them apart from applying them lets distributed training draw a whole global
        batch's parameters on every rank and apply only its own shard.
        """

        def factor(v: float) -> torch.Tensor:
            return _uniform(n, 1.0 - v, 1.0 + v, generator, device).view(n, 1, 1, 1)

        params = {"brightness": factor(self.brightness), "contrast": factor(self.contrast)}
        params["saturation"] = factor(self.saturation)
        params["theta"] = self.affine_matrices(n, generator, device)
        return params

    @staticmethod
    def select(params: dict[str, torch.Tensor], index) -> dict[str, torch.Tensor]:
        """The parameters of some of the images (a slice or an index tensor)."""
        return {k: v[index] for k, v in params.items()}

    def color_jitter(self, x: torch.Tensor, params: dict[str, torch.Tensor]) -> torch.Tensor:
        x = (x * params["brightness"]).clamp_(0.0, 1.0)
        mean_gray = _grayscale(x).mean(dim=(2, 3), keepdim=True)
        x = (mean_gray + params["contrast"] * (x - mean_gray)).clamp_(0.0, 1.0)
        gray = _grayscale(x)
        return (gray + params["saturation"] * (x - gray)).clamp_(0.0, 1.0)

    def apply(self, images: torch.Tensor, params: dict[str, torch.Tensor]) -> torch.Tensor:
        """Augment uint8 ``images`` with given parameters (one row per image)."""
        x = images.float().div_(255.0)
        x = self.color_jitter(x, params)  # at the source resolution: cheaper
        size = (x.shape[0], x.shape[1], self.image_size, self.image_size)
        grid = F.affine_grid(params["theta"], size, align_corners=False)
        x = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        return normalize(x, self.mean, self.std)

    def __call__(self, images: torch.Tensor, generator: torch.Generator | None = None):
        return self.apply(images, self.sample_params(images.shape[0], generator, images.device))
