"""What the gates of a network's attention modules do to its activations: per module and gate,
the mean and spread of the sigmoid outputs on a batch of images.

A gate near 1 passes a feature map through; a gate near 0.5 halves it; a gate that varies little
across channels or positions only rescales. Comparing a trained network's gates with those of
the same network at initialisation says whether the mechanism has switched on. For CBAM the two
gates multiply, so their product (what the feature map is finally multiplied by) is reported
too; for Triplet Attention the module multiplies by the mean of its three branch gates.

Each module type says how its gates are read from its input (:data:`GATE_READERS`); the input is
captured by a forward pre-hook, and the gates are recomputed from it with the module's own
``gate`` methods, whichever fast path its forward takes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from ..attention.cbam import CBAM
from ..attention.se import SqueezeExcite
from ..attention.simam import SimAM
from ..attention.triplet import TripletAttention
from ..runtime.modes import inspecting


def _se(m: SqueezeExcite, x: torch.Tensor) -> dict[str, torch.Tensor]:
    return {"channel": m.gate(x)}


def _cbam(m: CBAM, x: torch.Tensor) -> dict[str, torch.Tensor]:
    channel = m.channel.gate(x)
    spatial = m.spatial.gate(x * channel)
    return {"channel": channel, "spatial": spatial, "product": channel * spatial}


def _triplet(m: TripletAttention, x: torch.Tensor) -> dict[str, torch.Tensor]:
    gates = m.gates(x)
    mean = sum(g.expand_as(x) for g in gates.values()) / len(gates)
    return {**gates, "mean of branches": mean}


def _simam(m: SimAM, x: torch.Tensor) -> dict[str, torch.Tensor]:
    return {"neuron": torch.sigmoid(m.inverse_energy(x))}


GATE_READERS: dict[type, Callable[[nn.Module, torch.Tensor], dict[str, torch.Tensor]]] = {
    SqueezeExcite: _se,
    CBAM: _cbam,
    TripletAttention: _triplet,
    SimAM: _simam,
}


@dataclass(frozen=True)
class GateStats:
    """One gate of one attention module on a batch: its values' mean, standard deviation, 5th
    and 95th percentiles, and how many values it holds per image."""

    module: str  # the attention module's name in the network, e.g. "features.3"
    gate: str
    mean: float
    std: float
    p05: float
    p95: float
    values_per_image: int


def gate_statistics(model: nn.Module, images: torch.Tensor) -> list[GateStats]:
    """The gate statistics of every attention module of ``model`` (those :data:`GATE_READERS`
    knows) on ``images``, in the order of the network; the model is run in eval mode."""
    inputs: dict[str, torch.Tensor] = {}
    modules = {name: m for name, m in model.named_modules() if type(m) in GATE_READERS}
    if not modules:
        raise ValueError("the model has no attention module with gates to read")
    hooks = [
        m.register_forward_pre_hook(lambda _m, args, name=name: inputs.__setitem__(name, args[0]))
        for name, m in modules.items()
    ]
    with inspecting(model, hooks), torch.no_grad():
        model(images)
        stats = []
        for name, m in modules.items():
            x = inputs[name].float()
            for gate, values in GATE_READERS[type(m)](m.float(), x).items():
                flat = values.float().flatten()
                sample = flat[:: max(1, flat.numel() // 1_000_000)]  # quantile's limit
                q = torch.quantile(sample, torch.tensor([0.05, 0.95]))
                stats.append(
                    GateStats(name, gate, float(flat.mean()), float(flat.std()),
                              float(q[0]), float(q[1]), values[0].numel())
                )  # fmt: skip
    return stats


def format_gate_table(stats: list[GateStats]) -> str:
    """A plain table: module, gate, mean ± sd and the 5-95 % range."""
    lines = [f"{'module':14s} {'gate':18s} {'mean':>6s} {'sd':>6s} {'5 %':>6s} {'95 %':>6s}"]
    for s in stats:
        lines.append(
            f"{s.module:14s} {s.gate:18s} {s.mean:6.3f} {s.std:6.3f} {s.p05:6.3f} {s.p95:6.3f}"
        )
    return "\n".join(lines)
