"""Test-time interventions: does a trained network use the input-dependent part of its gates?

A difference in accuracy says *whether* an attention module helps; it does not say why. An
intervention changes one thing in a trained network and measures test accuracy again, at the
cost of inference only:

* ``as_trained``: nothing changed (equals the run's committed accuracy);
* ``gate_mean``: every attention module's multiplier is replaced by its mean over held-out
  validation images: the module no longer depends on the image but keeps its scale and shape;
* ``gate_shuffled``: each image gets the multiplier computed from another image *of the same
  class*: a gate of the right kind, for the wrong image. The test images are evaluated in class
  order and each takes the multiplier of the image before it in its batch (the first, the
  last's); with whole batches inside a class (the quick profile: 1,000 test images per class,
  batches of 500) every partner is of the same class. Until 2026-12-07 this took the stored
  order, which for the offline archive the course's runs load (one folder per class) is class
  order, so its rows are the same measurement; torchvision's download stores another order;
* ``gate_other_class``: the same, with the test images evaluated round-robin over the classes,
  so the image before each is of *another* class. Against ``gate_shuffled`` it separates what
  the gates know about their image from what they know about its class;
* ``attention_off``: multiplier 1, the module is the identity (PSA: every branch weight 1/4,
  its control; self-attention: gamma o = 0, the block is the identity);
* ``bn_recalibrated``: the BatchNorm running statistics inside the attention modules (Triplet
  Attention's gates, the BatchNorm control) recomputed with the final weights on training images
  prepared as the test images are (no augmentation), before evaluating. Two changes at once:
  statistics that lagged the last epochs (momentum 0.01) become fresh, and statistics of the
  augmented images training normalised become those of clean images (``bn_refreshed`` separates
  the two);
* ``bn_refreshed``: the same BatchNorms recomputed on the same training images *augmented as
  training augments them* (a fixed draw), in batches of the training batch size: the kind of
  images stays, only the estimate changes (computed with the final weights, over its own sample,
  instead of the running average over the last batches), so this measures what the statistics
  as training left them cost; ``bn_recalibrated − bn_refreshed`` is what statistics of clean
  instead of augmented images change.

Both recompute on :func:`~course_lib.data.calibration_images` (200 training images per class for
2,000): the class-sorted subsets' first images would be one or two classes.

Most modules here are ``y = x * M(x)`` for a multiplier ``M`` (:data:`MULTIPLIERS`): SE's channel
gate, CBAM's channel gate times its spatial gate, the mean of Triplet Attention's three branch
gates, SimAM's ``sigmoid(1 / E)``. ``gate_mean`` replaces ``M(x)`` by its mean, so for CBAM the
product's mean (which keeps the module's overall scale), for Triplet Attention the mean of each
branch gate (the mean is linear). A network whose accuracy falls under ``gate_mean`` uses the
input-dependent part of its gates; one whose accuracy holds does not, and its gain (if any)
comes from elsewhere, e.g. a learned constant rescaling. PSA's input-dependent part is its
softmax branch weights, self-attention's its attention map (:data:`GATES`): ``gate_mean`` gives
every image the mean weights, or the mean map of each query position.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from ..attention.batchnorm import BatchNormControl
from ..attention.cbam import CBAM
from ..attention.psa import PSAAttention, PSAModule, PSAShortcut
from ..attention.se import SqueezeExcite
from ..attention.self_attention import SelfAttention
from ..attention.simam import SimAM
from ..attention.triplet import TripletAttention
from ..attention.triplet_static import StaticTripletAttention
from ..data import BatchAugment, EvalTransform, ImageDataset, calibration_images
from ..runtime.device import autocast, cpu_isa, memory_format, pick_device
from ..runtime.env import git_state
from ..runtime.paths import results_dir
from ..train.evaluate import evaluate
from .results import merge_row_list, read_row_list
from .stats import Difference, paired_difference

INTERVENTIONS = (
    "as_trained",
    "gate_mean",
    "gate_shuffled",
    "gate_other_class",
    "attention_off",
    "bn_recalibrated",
    "bn_refreshed",
)
# the interventions that recompute BatchNorm statistics inside the attention modules
BN_INTERVENTIONS = ("bn_recalibrated", "bn_refreshed")
# the interventions that give each image the multiplier of the image before it in its batch
PARTNER_INTERVENTIONS = ("gate_shuffled", "gate_other_class")
EVAL_BATCH_SIZE = 500  # the batches test accuracy is evaluated in (training's evaluation too)


def partner_order(labels: torch.Tensor, same_class: bool) -> torch.Tensor:
    """The order to evaluate images with ``labels`` in, so that the image before each one is of
    the same class (class order, stable) or of another class (round-robin over the classes:
    the first image of every class, then the second, ...)."""
    by_class = torch.sort(labels, stable=True).indices
    if same_class:
        return by_class
    sorted_labels = labels[by_class]
    counts = torch.bincount(sorted_labels)
    starts = torch.cumsum(counts, 0) - counts
    rank = torch.arange(len(labels)) - starts[sorted_labels]  # place within its class
    return by_class[torch.sort(rank * len(counts) + sorted_labels, stable=True).indices]


def partner_share_same_class(labels: torch.Tensor, batch_size: int) -> float:
    """The share of images, evaluated in the order of ``labels`` in batches of ``batch_size``,
    whose partner (the image before it in its batch; the first image's: the last) has its
    class."""
    same = sum(int((batch == batch.roll(1)).sum()) for batch in labels.split(batch_size))
    return same / len(labels)


def in_partner_order(data: ImageDataset, same_class: bool) -> ImageDataset:
    """``data`` with its test split in :func:`partner_order` (accuracy does not depend on it)."""
    order = partner_order(data.test_labels, same_class)
    return dataclasses.replace(
        data, test_images=data.test_images[order], test_labels=data.test_labels[order]
    )


def _se(m: SqueezeExcite, x: torch.Tensor) -> torch.Tensor:
    return m.gate(x)  # (B, C, 1, 1)


def _cbam(m: CBAM, x: torch.Tensor) -> torch.Tensor:
    channel = m.channel.gate(x)
    return channel * m.spatial.gate(x * channel)  # (B, C, H, W)


def _triplet(m: TripletAttention | StaticTripletAttention, x: torch.Tensor) -> torch.Tensor:
    gates = list(m.gates(x).values())
    return sum(gates) / len(gates)  # broadcast to (B, C, H, W) ((1, C, H, W) if static)


def _simam(m: SimAM, x: torch.Tensor) -> torch.Tensor:
    return torch.sigmoid(m.inverse_energy(x))  # (B, C, H, W)


# y = x * M(x) for every module listed: how M is read from the module's input
MULTIPLIERS: dict[type, Callable[[nn.Module, torch.Tensor], torch.Tensor]] = {
    SqueezeExcite: _se,
    CBAM: _cbam,
    TripletAttention: _triplet,
    StaticTripletAttention: _triplet,
    SimAM: _simam,
}


def multiplier(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``M(x)`` of an attention module whose output is ``x * M(x)``."""
    for kind, read in MULTIPLIERS.items():
        if type(module) is kind:
            return read(module, x)
    raise TypeError(
        f"no multiplier known for {type(module).__name__}; modules with one: "
        + ", ".join(k.__name__ for k in MULTIPLIERS)
    )


@dataclass(frozen=True)
class Gate:
    """How an intervention reaches one kind of module: ``read(module, x)`` gives its
    input-dependent part (the gate, the branch weights, the attention map), ``apply(module, x,
    gate)`` its output with that part given, and ``off(gate)`` the part that switches the
    attention off."""

    read: Callable[[nn.Module, torch.Tensor], torch.Tensor]
    apply: Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]
    off: Callable[[torch.Tensor], torch.Tensor]


def _psa_core(m: PSAModule, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    weighted = m._branch_features(x) * weights  # Y_i = F_i * att_i
    return torch.cat([weighted[:, i] for i in reversed(range(4))], dim=1)


def _self_attention(m: SelfAttention, x: torch.Tensor, attn: torch.Tensor) -> torch.Tensor:
    b, c, h, w = x.shape
    t = m.tokens(x)
    v = m.project(m.value, t)
    y = m.gamma * torch.bmm(attn.expand(b, -1, -1).to(v.dtype), v) + t  # Eq. 3
    return y.view(b, h, w, c).permute(0, 3, 1, 2)


_TIMES = Gate(multiplier, lambda m, x, g: x * g, torch.ones_like)
_PSA_OFF = lambda g: torch.full_like(g, 0.25)  # noqa: E731  (PSA's control: weights fixed)
GATES: dict[type, Gate] = {
    **{kind: _TIMES for kind in MULTIPLIERS},
    # PSA: the softmax branch weights att_i, (B, 4, C/4, 1, 1); off = every weight 1/4
    PSAModule: Gate(lambda m, x: m.branch_weights(x), _psa_core, _PSA_OFF),
    PSAAttention: Gate(
        lambda m, x: m.branch_weights(x), lambda m, x, g: m.bn(_psa_core(m, x, g)), _PSA_OFF
    ),
    PSAShortcut: Gate(
        lambda m, x: m.branch_weights(x), lambda m, x, g: x + m.bn(_psa_core(m, x, g)), _PSA_OFF
    ),
    # self-attention: the attention map beta, (B, N, N); off = no attended value (gamma o = 0)
    SelfAttention: Gate(lambda m, x: m.attention_map(x), _self_attention, torch.zeros_like),
}


def gated_sites(model: nn.Module) -> dict[str, nn.Module]:
    """The attention modules of ``model`` an intervention reaches (:data:`GATES`), by name."""
    return {name: m for name, m in model.named_modules() if type(m) in GATES}


def attention_batchnorms(model: nn.Module) -> list[nn.BatchNorm2d]:
    """The BatchNorms inside the attention modules (and the BatchNorm control itself)."""
    norms = []
    for m in model.modules():
        if isinstance(m, BatchNormControl):
            norms.append(m)
        elif type(m) in MULTIPLIERS or isinstance(m, PSAAttention):
            norms += [b for b in m.modules() if isinstance(b, nn.BatchNorm2d)]
    return norms


def applicable(model: nn.Module) -> list[str]:
    """The interventions that change something in ``model`` (``as_trained`` always)."""
    names = ["as_trained"]
    if gated_sites(model):
        names += ["gate_mean", "gate_shuffled", "gate_other_class", "attention_off"]
    if attention_batchnorms(model):
        names += list(BN_INTERVENTIONS)
    return names


@contextmanager
def replaced_multipliers(
    model: nn.Module, replace: Callable[[str, torch.Tensor, torch.Tensor], torch.Tensor]
) -> Iterator[None]:
    """While the block runs, every gated site computes its output with its gate (:data:`GATES`)
    replaced by ``replace(name, x, gate)``; for ``x * M(x)`` modules, ``x * replace(...)``."""

    def hook_for(name: str):
        def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> torch.Tensor:
            x, gate = inputs[0], GATES[type(module)]
            return gate.apply(module, x, replace(name, x, gate.read(module, x)))

        return hook

    handles = [m.register_forward_hook(hook_for(n)) for n, m in gated_sites(model).items()]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


Transform = Callable[[torch.Tensor], torch.Tensor]  # uint8 images in, normalised floats out


class SeededAugment:
    """Training's augmentation (:class:`~course_lib.data.BatchAugment`) with its draws from a
    CPU generator seeded once: the same images get the same augmentation on every device and in
    every call sequence, so an intervention that uses it is reproducible."""

    def __init__(self, augment: BatchAugment, seed: int = 0):
        self.augment, self.generator = augment, torch.Generator().manual_seed(seed)

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        params = self.augment.sample_params(len(images), self.generator)
        return self.augment.apply(images, {k: v.to(images.device) for k, v in params.items()})


def _forward_all(model: nn.Module, images: torch.Tensor, transform: Transform,
                 batch_size: int, device: torch.device, precision: str) -> None:  # fmt: skip
    """Run ``model`` over ``images`` in batches, as evaluation does; the outputs are dropped
    (what is wanted is collected by hooks or by BatchNorm statistics)."""
    fmt = memory_format(device)
    for start in range(0, len(images), batch_size):
        x = transform(images[start : start + batch_size].to(device))
        with autocast(device, precision):
            model(x.contiguous(memory_format=fmt))


@torch.no_grad()
def mean_multipliers(
    model: nn.Module,
    images: torch.Tensor,
    transform: EvalTransform,
    batch_size: int = 500,
    device: str | torch.device | None = None,
    precision: str = "auto",
) -> dict[str, torch.Tensor]:
    """Per gated site, ``M(x)`` averaged over ``images`` (float32, batch dimension kept as 1)."""
    device = pick_device(device)
    sums: dict[str, torch.Tensor] = {}

    def accumulate(name: str, x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        total = m.double().sum(0, keepdim=True) if m.shape[0] == len(x) else m.double() * len(x)
        sums[name] = sums.get(name, 0) + total
        return m

    model.eval()
    with replaced_multipliers(model, accumulate):
        _forward_all(model, images, transform, batch_size, device, precision)
    return {name: (s / len(images)).float() for name, s in sums.items()}


@torch.no_grad()
def recalibrate_batchnorms(
    model: nn.Module,
    images: torch.Tensor,
    transform: Transform,
    batch_size: int = 500,
    device: str | torch.device | None = None,
    precision: str = "auto",
) -> int:
    """Recompute the running statistics of :func:`attention_batchnorms` on ``images`` (a
    cumulative average over the batches, everything else in eval mode); returns how many."""
    device = pick_device(device)
    norms = attention_batchnorms(model)
    model.eval()
    saved = [(bn.momentum, bn.training) for bn in norms]
    for bn in norms:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative moving average: every batch counts alike
        bn.train()
    try:
        _forward_all(model, images, transform, batch_size, device, precision)
    finally:
        for bn, (momentum, training) in zip(norms, saved):
            bn.momentum = momentum
            bn.train(training)
    return len(norms)


def intervention_accuracies(
    model: nn.Module,
    data: ImageDataset,
    image_size: int,
    interventions: list[str] | None = None,
    batch_size: int = EVAL_BATCH_SIZE,
    device: str | torch.device | None = None,
    precision: str = "auto",
    recalibration_images: int = 2000,
    augmented: bool = True,
    training_batch_size: int = 128,
) -> dict[str, float]:
    """Test accuracy of ``model`` under each intervention that applies to it (default: all of
    :func:`applicable`). The means of ``gate_mean`` are taken over the validation split (the
    test split when there is none). ``bn_recalibrated`` uses ``recalibration_images`` training
    images, the same number from every class (:func:`~course_lib.data.calibration_images`),
    without augmentation, in evaluation batches;
    ``bn_refreshed`` the same images as training saw them (training's augmentation when the run
    was ``augmented``, with a fixed draw) in batches of ``training_batch_size``. Both work on a
    copy of the weights (``model`` itself is left as it was)."""
    import copy

    wanted = interventions or applicable(model)
    unknown = set(wanted) - set(INTERVENTIONS)
    if unknown:
        raise ValueError(f"unknown intervention(s) {sorted(unknown)}; known: {INTERVENTIONS}")
    not_here = set(wanted) - set(applicable(model))
    if not_here:
        raise ValueError(
            f"{sorted(not_here)} change(s) nothing in this model (no gated attention module or "
            f"no BatchNorm inside one); applicable: {applicable(model)}"
        )
    transform = EvalTransform(image_size, data.mean, data.std)
    device = pick_device(device)

    def accuracy(net: nn.Module) -> float:
        return evaluate(net, data, image_size, batch_size, device, precision)["accuracy"]

    results = {}
    for name in wanted:
        if name == "as_trained":
            results[name] = accuracy(model)
        elif name == "gate_mean":
            held_out = data.split("val" if data.has_val else "test")[0]
            means = mean_multipliers(model, held_out, transform, batch_size, device, precision)
            with replaced_multipliers(model, lambda n, x, m, means=means: means[n].to(m.dtype)):
                results[name] = accuracy(model)
        elif name in PARTNER_INTERVENTIONS:
            # the multiplier of the image before in the batch (a static one is the same for all)
            ordered = in_partner_order(data, same_class=name == "gate_shuffled")
            with replaced_multipliers(model, lambda n, x, m: m.roll(1, 0) if len(m) > 1 else m):
                results[name] = evaluate(model, ordered, image_size, batch_size, device, precision)[
                    "accuracy"
                ]
        elif name == "attention_off":
            offs = {n: GATES[type(m)].off for n, m in gated_sites(model).items()}
            with replaced_multipliers(model, lambda n, x, m, offs=offs: offs[n](m)):
                results[name] = accuracy(model)
        elif name in BN_INTERVENTIONS:
            twin = copy.deepcopy(model)
            images = calibration_images(data, recalibration_images)
            if name == "bn_recalibrated":
                recalibrate_batchnorms(twin, images, transform, batch_size, device, precision)
            else:
                seen = (SeededAugment(BatchAugment(image_size, data.mean, data.std))
                        if augmented else transform)  # fmt: skip
                recalibrate_batchnorms(twin, images, seen, training_batch_size, device, precision)
            results[name] = accuracy(twin)
    return results


# --- results/interventions-<profile>.json: one row per (variant, seed, setting, intervention) ---

ROW_KEY = ("variant", "seed", "setting", "intervention")


def interventions_path(profile: str) -> Path:
    """``results/interventions-<profile>.json``: a JSON list of rows."""
    return results_dir() / f"interventions-{profile}.json"


def intervention_rows(
    run,
    data: ImageDataset,
    interventions: list[str] | None = None,
    device: str | torch.device | None = None,
) -> list[dict]:
    """One row per intervention for a finished :class:`~course_lib.train.Run` (its final
    weights, evaluated as its training evaluated them). ``as_trained`` must reproduce the run's
    recorded test accuracy; a run that does not (other weights, other data) is refused."""
    metrics = run.metrics
    accuracies = intervention_accuracies(
        run.model,
        data,
        metrics["image_size"],
        interventions,
        device=device,
        precision=metrics.get("precision", "auto"),
        augmented=run.recipe().get("augment", True),
        training_batch_size=metrics.get("batch_size", 128),
    )
    if "as_trained" in accuracies and accuracies["as_trained"] != metrics["accuracy"]:
        raise ValueError(
            f"{run.run_dir.name}: as_trained gives {accuracies['as_trained']:.4f}, the run "
            f"recorded {metrics['accuracy']:.4f}: not the data or weights it was trained with"
        )
    commit, dirty = git_state()
    common = {
        "variant": metrics["name"],
        "seed": metrics["seed"],
        "setting": metrics["setting"],
        "run_dir": run.run_dir.name,
        "trained_commit": metrics.get("git_commit"),
        "trained_cpu_isa": metrics.get("cpu_isa"),
        "precision": metrics.get("precision"),
        "git_commit": commit,
        "dirty": dirty,
        "cpu_isa": cpu_isa(),
        "date": dt.date.today().isoformat(),
    }
    rows = [{**common, "intervention": k, "accuracy": v} for k, v in accuracies.items()]
    for row in rows:
        if row["intervention"] in PARTNER_INTERVENTIONS:  # the labels' order, not the images'
            order = partner_order(data.test_labels, row["intervention"] == "gate_shuffled")
            share = partner_share_same_class(data.test_labels[order], EVAL_BATCH_SIZE)
            row["partner_same_class"] = share
    return rows


def read_intervention_rows(path: str | Path) -> list[dict]:
    """The rows of an interventions file ([] when it does not exist); a file that is not a
    JSON list of rows with :data:`ROW_KEY` and ``accuracy`` is refused, naming it."""
    return read_row_list(path, (*ROW_KEY, "accuracy"), "intervention rows")


def write_intervention_rows(rows: list[dict], path: str | Path) -> Path:
    """Merge ``rows`` into the file at ``path``: a row replaces the one with the same
    (variant, seed, setting, intervention), others are kept; sorted, written atomically."""
    order = {name: i for i, name in enumerate(INTERVENTIONS)}
    return merge_row_list(
        rows, path, ROW_KEY, read_intervention_rows(path),
        lambda r: (r["variant"], r["setting"], r["seed"], order.get(r["intervention"], 99)),
    )  # fmt: skip


def _accuracies_by_seed(
    rows: list[dict], variant: str, seeds: list[int] | None = None
) -> dict[str, dict[int, float]]:
    """Per intervention, ``variant``'s test accuracy by seed (its rows must share one setting)."""
    settings = {r["setting"] for r in rows if r["variant"] == variant}
    if len(settings) > 1:
        raise ValueError(f"{variant}: intervention rows of {len(settings)} settings; pick one")
    by: dict[str, dict[int, float]] = {}
    for r in rows:
        if r["variant"] == variant and (seeds is None or r["seed"] in seeds):
            by.setdefault(r["intervention"], {})[r["seed"]] = r["accuracy"]
    return by


def _against(by: dict[str, dict[int, float]], variant: str, against: str) -> dict[int, float]:
    if against not in by:
        raise LookupError(f"no {against} row of {variant}: run `python -m course_lib "
                          "interventions` on its finished runs first")  # fmt: skip
    return by[against]


def per_seed_changes(
    rows: list[dict], variant: str, intervention: str, against: str = "as_trained"
) -> dict[int, float]:
    """Seed -> ``intervention − against`` (test accuracy, a fraction) for every seed of
    ``variant`` that has both rows: the dots behind :func:`intervention_changes`' means."""
    by = _accuracies_by_seed(rows, variant)
    base = _against(by, variant, against)
    return {s: a - base[s] for s, a in sorted(by.get(intervention, {}).items()) if s in base}


def intervention_changes(
    rows: list[dict], variant: str, seeds: list[int] | None = None, against: str = "as_trained"
) -> dict[str, Difference]:
    """Per intervention, the seed-paired change of test accuracy against ``against`` (the
    trained network by default; ``intervention − against``, a fraction) over ``variant``'s rows
    (one setting; default every seed that has both). Against another intervention it reads what
    one differs from the other, e.g. ``bn_recalibrated`` against ``bn_refreshed``. A reading, not
    a claim of the family: each at α = 0.05."""
    by = _accuracies_by_seed(rows, variant, seeds)
    base = _against(by, variant, against)
    return {
        name: paired_difference(values, base, name, against)
        for name, values in by.items()
        if name != against
    }


def format_changes(changes: dict[str, Difference]) -> str:
    """A text table: intervention, seeds, mean change, 95 % CI, detectable at α = 0.05."""
    lines = [f"{'intervention':16s} {'seeds':>5s} {'change (points)':>15s} {'95 % CI':>17s} "
             f"{'detects':>8s}"]  # fmt: skip
    constant = False
    for name, d in changes.items():
        ci = "" if d.n_pairs < 2 else f"[{d.low * 100:+6.2f}, {d.high * 100:+6.2f}]"
        det = "" if d.n_pairs < 2 else f"{d.detectable * 100:.1f}"
        if d.n_pairs >= 2 and math.isnan(d.detectable):  # the same change in every seed
            det, constant = "—", True
        lines.append(f"{name:16s} {d.n_pairs:5d} {d.diff * 100:+15.2f} {ci:>17s} {det:>8s}")
    if constant:
        lines.append("— the same change in every seed: no spread, so no detectable difference")
    return "\n".join(lines)


def show_changes(variant: str, title: str = "", profile: str = "quick") -> dict[str, Difference]:
    """The course's committed interventions on ``variant`` (``results/interventions-<profile>
    .json``): prints :func:`format_changes`' table, draws :func:`plot_changes`; returns the
    changes."""
    rows = read_intervention_rows(interventions_path(profile))
    changes = intervention_changes(rows, variant)
    print(format_changes(changes))
    plot_changes(changes, rows, variant, title=title)
    return changes


def plot_changes(changes: dict[str, Difference], rows: list[dict], variant: str, title: str = ""):
    """Each intervention's change of test accuracy against ``as_trained``: one dot per seed,
    the mean and its 95 % interval; 0 is the trained network."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 0.6 + 0.55 * len(changes)), dpi=100)
    base = {r["seed"]: r["accuracy"] for r in rows
            if r["variant"] == variant and r["intervention"] == "as_trained"}  # fmt: skip
    for i, (name, d) in enumerate(changes.items()):
        seeds = [r for r in rows if r["variant"] == variant and r["intervention"] == name
                 and r["seed"] in base]  # fmt: skip
        ax.scatter([(r["accuracy"] - base[r["seed"]]) * 100 for r in seeds], [i] * len(seeds),
                   color="0.55", s=14, zorder=2)  # fmt: skip
        if d.n_pairs >= 2:
            ax.errorbar(d.diff * 100, i, xerr=[[(d.diff - d.low) * 100], [(d.high - d.diff) * 100]],
                        fmt="o", color="C3", capsize=3, zorder=3)  # fmt: skip
    ax.axvline(0, color="k", lw=0.8)
    ax.set(yticks=range(len(changes)), yticklabels=list(changes),
           xlabel="change of test accuracy against the trained network (points)",
           title=title or f"{variant}: test-time interventions")  # fmt: skip
    ax.invert_yaxis()
    ax.grid(alpha=0.3, axis="x")
    fig.tight_layout()
    return fig
