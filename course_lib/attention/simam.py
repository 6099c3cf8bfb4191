"""SimAM: a parameter-free attention module.

Paper: Lingxiao Yang, Ru-Yuan Zhang, Lida Li, Xiaohua Xie, "SimAM: A Simple, Parameter-Free
Attention Module for Convolutional Neural Networks", ICML 2021 (PMLR 139:11863-11874; no arXiv
version). Official code: https://github.com/ZjjConan/SimAM

Every neuron ``t`` of a channel gets an energy (Eq. 2 of the paper) that is low when ``t`` is
linearly separable from the other ``M - 1`` neurons of its channel (``M = H * W``)::

    e_t(w, b) = 1/(M-1) sum_i (y_o - (w x_i + b))^2 + (y_t - (w t + b))^2 + lam w^2,
    with y_t = 1, y_o = -1.

Its minimum has a closed form (Eqs. 3-5, :func:`closed_form_solution`); the lower the energy,
the more distinctive the neuron, so SimAM scales every neuron by ``sigmoid(1 / e_t*)`` (Eq. 6).

A note on signs: the paper prints ``w_t = -2 (t - mu_t) / (...)`` (Eq. 3). For the energy of
Eq. 2 as printed, the minimiser is ``w_t = +2 (t - mu_t) / (...)``; the printed sign minimises the
energy with the labels swapped (y_t = -1, y_o = 1), since that energy is e_t(-w, -b). ``b_t``
(Eq. 4) and the minimal energy ``e_t*`` (Eq. 5), the only thing SimAM uses, are the same either
way. :func:`closed_form_solution` returns the minimiser of :func:`energy` as defined here, and
the tests check it against a numerical minimisation.
"""

from __future__ import annotations

import torch
from torch import nn

from .registry import register_attention

__all__ = ["SimAM", "closed_form_solution", "energy", "minimal_energy", "numerical_minimum"]


def energy(
    w: torch.Tensor | float,
    b: torch.Tensor | float,
    t: torch.Tensor | float,
    others: torch.Tensor,
    lam: float = 1e-4,
    y_t: float = 1.0,
    y_o: float = -1.0,
) -> torch.Tensor:
    """The energy of neuron ``t`` against the ``M - 1`` ``others`` of its channel (Eq. 2).

    ``e_t = 1/(M-1) sum_i (y_o - (w x_i + b))^2 + (y_t - (w t + b))^2 + lam w^2`` with binary
    labels ``y_t = 1`` (the target) and ``y_o = -1`` (the others), as in the paper.
    """
    others = others.flatten()
    return ((y_o - (w * others + b)) ** 2).mean() + (y_t - (w * t + b)) ** 2 + lam * w**2


def minimal_energy(
    t: torch.Tensor | float,
    mu: torch.Tensor | float,
    var: torch.Tensor | float,
    lam: float = 1e-4,
) -> torch.Tensor | float:
    """e_t* = 4 (var + lam) / ((t - mu)^2 + 2 var + 2 lam)  (Eq. 5).

    Exact minimum of :func:`energy` when ``mu`` and ``var`` are the mean and the (1/(M-1))
    variance of the others; SimAM plugs in statistics over all neurons of the channel instead.
    """
    return 4 * (var + lam) / ((t - mu) ** 2 + 2 * var + 2 * lam)


def closed_form_solution(
    t: torch.Tensor | float, others: torch.Tensor, lam: float = 1e-4
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The minimiser ``(w_t, b_t)`` of :func:`energy` and its minimum ``e_t*`` (Eqs. 3-5).

    With ``mu_t`` and ``sigma_t^2`` the mean and variance (divided by M - 1) of the OTHER
    neurons:

    * ``w_t = 2 (t - mu_t) / ((t - mu_t)^2 + 2 sigma_t^2 + 2 lam)`` (Eq. 3, sign as derived from
      Eq. 2; see the module docstring);
    * ``b_t = -(t + mu_t) w_t / 2`` (Eq. 4);
    * ``e_t* = 4 (sigma_t^2 + lam) / ((t - mu_t)^2 + 2 sigma_t^2 + 2 lam)`` (Eq. 5).

    Derivation: dE/db = 0 gives ``b = -w (t + mu) / 2``; then, with ``d = t - mu``,
    ``E(w) = 2 (1 - w d / 2)^2 + w^2 (sigma^2 + lam)``, minimised at ``w = 2 d / D`` with
    ``D = d^2 + 2 sigma^2 + 2 lam``, where ``E = 4 (sigma^2 + lam) / D``.
    """
    others = others.flatten()
    t = torch.as_tensor(t, dtype=others.dtype)
    mu = others.mean()
    var = ((others - mu) ** 2).mean()
    w = 2 * (t - mu) / ((t - mu) ** 2 + 2 * var + 2 * lam)
    b = -(t + mu) * w / 2
    return w, b, minimal_energy(t, mu, var, lam)


def exact_inverse_energy(x: torch.Tensor, lam: float = 1e-4) -> torch.Tensor:
    """1 / e_t* with the mean and variance of the OTHER neurons of each channel (Eq. 5 as
    derived), for every neuron of a (B, C, H, W) map; SimAM approximates it with one mean and
    variance per channel (:meth:`SimAM.inverse_energy`). Leave-one-out statistics in closed form:
    mu_t = (S - t) / (M - 1), sigma_t^2 = (Q - t^2) / (M - 1) - mu_t^2, with S and Q the sum and
    the sum of squares over the channel's M neurons."""
    m = x.shape[-2] * x.shape[-1]
    if m < 2:
        raise ValueError("a channel needs at least two neurons to have 'others'")
    total = x.sum(dim=(-2, -1), keepdim=True)
    squares = (x * x).sum(dim=(-2, -1), keepdim=True)
    mu = (total - x) / (m - 1)
    var = ((squares - x * x) / (m - 1) - mu * mu).clamp_min(0)
    return 1 / minimal_energy(x, mu, var, lam)


def numerical_minimum(
    t: torch.Tensor | float, others: torch.Tensor, lam: float = 1e-4, start=(0.1, -0.1)
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Minimise :func:`energy` over ``(w, b)`` with L-BFGS, in float64: the check on the closed
    form. Returns ``(w, b, e)`` at the optimum found."""
    others = others.flatten().double()
    t = torch.as_tensor(t, dtype=torch.float64)
    w = torch.tensor(start[0], dtype=torch.float64, requires_grad=True)
    b = torch.tensor(start[1], dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([w, b], lr=1, max_iter=200, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = energy(w, b, t, others, lam)
        loss.backward()
        return loss

    optimizer.step(closure)
    return w.detach(), b.detach(), energy(w, b, t, others, lam).detach()


@register_attention("simam")
class SimAM(nn.Module):
    """SimAM (Yang et al., ICML 2021): ``x * sigmoid(1 / E)``, no parameters.

    For every channel, with ``n = H * W - 1``, ``mu`` the mean over the channel's H * W neurons
    and ``s^2 = sum (x - mu)^2 / n``, the minimal energy of Eq. 5 is
    ``e_t* = 4 (s^2 + lam) / ((t - mu)^2 + 2 s^2 + 2 lam)``, so

        1 / e_t* = ((t - mu)^2 + 2 s^2 + 2 lam) / (4 (s^2 + lam))
                 = (t - mu)^2 / (4 (s^2 + lam)) + (2 (s^2 + lam)) / (4 (s^2 + lam))
                 = (t - mu)^2 / (4 (s^2 + lam)) + 1/2,

    which is what :meth:`inverse_energy` computes (as the official code does), without ever
    dividing by the energy. The output is ``x * sigmoid(1 / E)`` (Eq. 6).

    The paper approximates the per-neuron statistics of the other neurons by the statistics over
    all neurons of the channel (one mean and variance per channel, not one per neuron); the
    official code divides the variance by ``n = H * W - 1``.

    Args:
        channels: ignored (SimAM has no parameters); accepted so that every attention module is
            built as ``Module(channels, ...)``.
        lam: the regulariser lambda of Eq. 2 (official default 1e-4; the seed used 1e-5).
    """

    def __init__(self, channels: int | None = None, lam: float = 1e-4):
        super().__init__()
        self.lam = lam

    def inverse_energy(self, x: torch.Tensor) -> torch.Tensor:
        """1 / e_t* for every neuron: ``d / (4 (d.sum / n + lam)) + 0.5``, ``d = (x - mu)^2``."""
        h, w = x.shape[-2:]
        n = h * w - 1
        if n == 0:
            raise ValueError(
                f"SimAM needs feature maps of at least 2 pixels; got {h}x{w} "
                "(n = H*W-1 = 0 would divide by zero); use larger inputs or drop SimAM at that "
                "layer"
            )
        d = (x - x.mean(dim=(-2, -1), keepdim=True)) ** 2  # (t - mu)^2
        v = d.sum(dim=(-2, -1), keepdim=True) / n  # s^2, the variance over n = H*W - 1
        return d / (4 * (v + self.lam)) + 0.5  # 1 / e_t*  (Eq. 5 inverted)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(self.inverse_energy(x))  # Eq. 6

    def extra_repr(self) -> str:
        return f"lam={self.lam}"
