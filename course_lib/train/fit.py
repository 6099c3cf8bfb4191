"""One training loop for every chapter: the source notebooks' recipe, resumable, honest about time.

Per epoch: shuffle with a generator seeded by (seed, epoch), augment each batch on the device,
forward under the device's mixed precision (bf16 autocast where native; float16 autocast with a
gradient scaler on CUDA GPUs without bf16; see :mod:`course_lib.runtime.device`),
label-smoothed cross-entropy, Adam, and a cosine learning rate stepped after every batch. The
history the source notebooks plot is kept: the training loss every ``log_every`` steps, and the
training and validation loss and accuracy every epoch (on the validation split held out of the
training set, or on the test split for a dataset without one).

A run folder holds ``last.pt`` (everything needed to resume, rewritten after every epoch),
``best.pt`` and ``final.pt`` (weights), ``history.json`` and ``metrics.json``. Every file is
written atomically, so an interruption loses at most the epoch in progress.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn
from tqdm.auto import tqdm

from ..data import BatchAugment, EvalTransform, ImageDataset
from ..runtime.atomic import atomic_write_json
from ..runtime.compile import compiled
from ..runtime.device import (
    autocast,
    enable_fast_kernels,
    grad_scaler,
    memory_format,
    pick_device,
    resolve_precision,
    synchronize,
)
from .batches import epoch_seed, train_batches
from .checkpoint import (
    load_weights,
    model_spec,
    read_checkpoint,
    save_weights,
)
from .config import TrainConfig
from .distributed import all_reduce_mean, all_reduce_sum, barrier, is_distributed, is_main, rank
from .distributed import world_size as get_world_size
from .evaluate import evaluate
from .progress import report_progress


def selection_split(data: ImageDataset) -> str:
    """The split the per-epoch curves and ``best.pt`` are measured on: "val" when held out."""
    return "val" if data.has_val else "test"


class NonFiniteLossError(FloatingPointError):
    """The training loss became NaN or infinite."""


@dataclass
class History:
    """What the source notebooks plot: step losses, and per-epoch losses and accuracies."""

    step: list[int] = field(default_factory=list)
    step_loss: list[float] = field(default_factory=list)
    epoch: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    epoch_time: list[float] = field(default_factory=list)
    elapsed: list[float] = field(default_factory=list)  # wall seconds at each epoch's end
    # every one-number parameter (such as SAGAN's gamma) at each epoch's end, by name
    scalars: dict[str, list[float]] = field(default_factory=dict)

    def add_epoch(
        self,
        epoch: int,
        train_loss: float,
        train_acc: float,
        val: dict,
        lr: float,
        epoch_time: float,
        elapsed: float,
        scalars: dict | None = None,
    ) -> None:
        self.epoch.append(epoch)
        self.train_loss.append(train_loss)
        self.train_acc.append(train_acc)
        self.val_loss.append(val["loss"])
        self.val_acc.append(val["accuracy"])
        self.lr.append(lr)
        self.epoch_time.append(epoch_time)
        self.elapsed.append(elapsed)
        for name, value in (scalars or {}).items():
            self.scalars.setdefault(name, []).append(value)

    def as_dict(self) -> dict:
        d = {k: list(v) for k, v in self.__dict__.items() if k != "scalars"}
        return {**d, "scalars": {k: list(v) for k, v in self.scalars.items()}}

    @classmethod
    def from_dict(cls, d: dict) -> History:
        fields = {k: list(v) for k, v in d.items() if k in cls.__dataclass_fields__}
        fields["scalars"] = {k: list(v) for k, v in d.get("scalars", {}).items()}
        return cls(**fields)


def scalar_parameters(model: nn.Module) -> dict[str, float]:
    """The model's one-number parameters (SAGAN's gamma, ...) by name, and the mean absolute
    value of each per-channel scale, a parameter named ``*scale*`` of shape (1, C, 1, 1)
    (MogaNet's sigma and layer scales), named ``"<name> mean|.|"``: what training moves them to
    is part of the lesson (a gate that starts at 0 or 1e-5 and stays there never switched on),
    so :func:`fit` records them every epoch."""
    model = getattr(model, "module", model)  # DDP
    model = getattr(model, "_orig_mod", model)  # torch.compile
    found = {}
    for name, p in model.named_parameters():
        last = name.rsplit(".", 1)[-1]
        if p.numel() == 1 and last != "bias":  # not the bias of a one-channel conv
            found[name] = float(p.detach())
        elif "scale" in last and p.dim() == 4 and p.shape[0] == p.shape[2] == p.shape[3] == 1:
            found[f"{name} mean|.|"] = float(p.detach().abs().mean())
    return found


def _check_finite(losses: torch.Tensor, first_step: int, epoch: int, last: Path | None) -> None:
    finite = torch.isfinite(losses)
    if not bool(finite.all()):
        bad = int((~finite).nonzero()[0])
        saved = (
            f"the last finished epoch is saved in {last}"
            if last is not None and last.exists()
            else "no epoch had finished, so nothing was saved"
        )
        raise NonFiniteLossError(
            f"the training loss became {float(losses[bad])} at step {first_step + bad} "
            f"(epoch {epoch + 1}); lower the learning rate or check the inputs ({saved})"
        )


@dataclass
class _Step:
    """What one optimisation step needs."""

    model: nn.Module  # the model to call (DDP-wrapped or compiled)
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    loss_fn: nn.Module
    device: torch.device
    precision: str
    memory_format: torch.memory_format
    scaler: torch.amp.GradScaler | None = None  # fp16 only

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Forward (under autocast; BatchNorm keeps fp32 statistics), loss, backward, Adam and
        the per-batch cosine step; returns the detached loss and logits. In fp16 the loss is
        scaled before the backward pass and the gradients unscaled inside the optimiser step,
        which is skipped (and the scale halved) when they overflowed."""
        x = x.contiguous(memory_format=self.memory_format)
        with autocast(self.device, self.precision):
            logits = self.model(x)
        loss = self.loss_fn(logits.float(), y)
        self.optimizer.zero_grad(set_to_none=True)
        if self.scaler is None:
            loss.backward()
            self.optimizer.step()
        else:
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
        self.scheduler.step()
        return loss.detach(), logits.detach()


class _LossLog:
    """The training-loss curve: the mean of every ``log_every`` steps, read back from the device
    once per window (the only host sync of the loop) and checked for NaN."""

    def __init__(self, history: History, log_every: int, steps_per_epoch: int, epoch: int,
                 last: Path | None, bar) -> None:  # fmt: skip
        self.history, self.log_every, self.steps_per_epoch = history, log_every, steps_per_epoch
        self.epoch, self.last, self.bar, self.window = epoch, last, bar, []

    def add(self, loss: torch.Tensor, i: int) -> None:
        self.window.append(loss)
        step = self.epoch * self.steps_per_epoch + i + 1
        if len(self.window) == self.log_every or i == self.steps_per_epoch - 1:
            losses = all_reduce_mean(torch.stack(self.window).float()).cpu()
            _check_finite(losses, step - len(self.window) + 1, self.epoch, self.last)
            self.history.step.append(step)
            self.history.step_loss.append(float(losses.mean()))
            self.window = []
            self.bar.set_postfix(epoch=self.epoch + 1, loss=f"{self.history.step_loss[-1]:.3f}")
        self.bar.update(1)


def _resume(
    last: Path | None, model: nn.Module, optimizer, scheduler, scaler=None
) -> tuple[History, int, float]:
    """History, first epoch to train and best validation accuracy so far (from ``last.pt``);
    an fp16 run's gradient scale is restored with the optimiser's state."""
    if last is None or not last.exists():
        return History(), 0, -1.0
    state = read_checkpoint(last)
    load_weights(model, state)
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    if scaler is not None and state.get("scaler"):
        scaler.load_state_dict(state["scaler"])
    return History.from_dict(state["history"]), state["epoch"] + 1, state["best_acc"]


def _save_epoch(run_dir: Path, model: nn.Module, step: _Step, history: History, epoch: int,
                best_acc: float, improved: bool, config: TrainConfig) -> None:  # fmt: skip
    """``best.pt`` when the validation accuracy improved, ``last.pt`` (everything needed to
    resume, an fp16 run's gradient scale included) and ``history.json``, each written
    atomically."""
    if improved:
        save_weights(model, run_dir / "best.pt", epoch=epoch)
    scaler = {} if step.scaler is None else {"scaler": step.scaler.state_dict()}
    save_weights(
        model,
        run_dir / "last.pt",
        optimizer=step.optimizer.state_dict(),
        scheduler=step.scheduler.state_dict(),
        history=history.as_dict(),
        epoch=epoch,
        best_acc=best_acc,
        config=config.as_dict(),
        **scaler,
    )
    atomic_write_json(history.as_dict(), run_dir / "history.json")


def fit(
    model: nn.Module,
    data: ImageDataset,
    config: TrainConfig,
    run_dir: str | Path | None = None,
    device: str | torch.device | None = None,
    progress: bool = True,
    compile: bool | str = False,
) -> History:
    """Train ``model`` on ``data`` with ``config``; resume from ``run_dir/last.pt`` if present.

    ``compile="model"`` (or True) runs the training steps through ``torch.compile``;
    ``compile="attention"`` compiles only the attention modules, in place (see
    :mod:`course_lib.runtime.compile`). The weights and checkpoints are those of ``model``
    either way.

    Returns the history; the model ends with its final weights, and ``run_dir`` (if given)
    holds ``best.pt``, ``final.pt``, ``last.pt`` and ``history.json``.
    """
    device = pick_device(device)
    fmt = memory_format(device)
    enable_fast_kernels(device)
    precision = resolve_precision(config.precision, device)  # once, not every step
    run_dir = Path(run_dir) if run_dir is not None else None
    torch.manual_seed(config.seed)
    model.to(device, memory_format=fmt)

    n_train = len(data.train_labels)
    steps_per_epoch = n_train // config.batch_size  # drop_last: every batch has the same shape
    if steps_per_epoch == 0:
        raise ValueError(
            f"batch_size {config.batch_size} is larger than the training set ({n_train} images)"
        )
    # Data parallel: config.batch_size is the GLOBAL batch; rank r takes every world-th image of
    # it, and DDP averages the gradients, so a step equals the single-process step on the same
    # global batch (the learning rate is not rescaled: it is config.lr, whatever the world size).
    world, this_rank = get_world_size(), rank()
    if config.batch_size % world:
        raise ValueError(f"global batch {config.batch_size} is not divisible by {world} ranks")
    total_steps = steps_per_epoch * config.epochs
    schedule_steps = steps_per_epoch * config.schedule_length
    # fused Adam: one kernel for all parameters (16x faster than the default loop on a CPU)
    optimizer = torch.optim.Adam(
        model.parameters(), lr=config.lr, weight_decay=config.weight_decay, fused=True
    )
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=schedule_steps)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
    transform = (
        BatchAugment(config.image_size, data.mean, data.std)
        if config.augment
        else EvalTransform(config.image_size, data.mean, data.std)
    )
    step_model = model
    if is_distributed():
        step_model = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )
    step = _Step(compiled(step_model, compile), optimizer, scheduler, loss_fn, device, precision,
                 fmt, grad_scaler(device, precision))  # fmt: skip
    last = run_dir / "last.pt" if run_dir else None
    history, start_epoch, best_acc = _resume(last, model, optimizer, scheduler, step.scaler)
    # wall time counts on from where the resumed run stopped
    clock_start = time.perf_counter() - (history.elapsed[-1] if history.elapsed else 0.0)
    # the whole training set moves to the device once (150 MB of uint8 for CIFAR-10)
    train_x, train_y = data.train_images.to(device), data.train_labels.to(device)

    bar = tqdm(
        total=total_steps,
        initial=start_epoch * steps_per_epoch,
        desc=model_spec(model).get("name", "train"),
        disable=not progress or not is_main() or os.environ.get("COURSE_PROGRESS") == "off",
        mininterval=1.0,
        unit="step",
    )
    if is_main():  # where run-notebooks asks for it, the bar also writes the run's progress
        spec = model_spec(model)
        label = "-".join(str(spec[k] or "none") for k in ("name", "attention") if k in spec)
        bar = report_progress(bar, label, config.seed, config.epochs, steps_per_epoch)
    try:  # the bar is closed before any error is printed
        for epoch in range(start_epoch, config.epochs):
            torch.manual_seed(epoch_seed(config.seed, epoch))  # dropout: same after a resume
            model.train()
            started = time.perf_counter()
            loss_sum = torch.zeros((), device=device)
            correct = torch.zeros((), device=device, dtype=torch.long)
            log = _LossLog(history, config.log_every, steps_per_epoch, epoch, last, bar)
            batches = train_batches(
                train_x, train_y, transform, config.batch_size, config.seed, epoch, this_rank, world
            )
            for i, (x, y) in enumerate(batches):
                loss, logits = step(x, y)
                loss_sum += loss
                correct += (logits.argmax(dim=1) == y).sum()
                log.add(loss, i)
            synchronize(device)
            epoch_time = time.perf_counter() - started

            loss_sum, correct = all_reduce_mean(loss_sum), all_reduce_sum(correct)
            # every rank evaluates the (small) validation set, so all ranks agree on the best
            # epoch; a dataset without one is selected on its test split (and says so)
            val = evaluate(
                model, data, config.image_size, config.eval_batch_size, device, precision,
                split=selection_split(data),
            )  # fmt: skip
            history.add_epoch(
                epoch + 1,
                float(loss_sum) / steps_per_epoch,
                float(correct) / (steps_per_epoch * config.batch_size),
                val,
                scheduler.get_last_lr()[0],
                epoch_time,
                time.perf_counter() - clock_start,
                scalar_parameters(model),
            )
            bar.set_postfix(epoch=epoch + 1, val_acc=f"{val['accuracy']:.4f}")
            if not math.isfinite(history.train_loss[-1]):
                raise NonFiniteLossError(f"the training loss of epoch {epoch + 1} is not finite")

            improved, best_acc = val["accuracy"] > best_acc, max(best_acc, val["accuracy"])
            if run_dir is not None and is_main():
                _save_epoch(run_dir, model, step, history, epoch, best_acc, improved, config)
            barrier()  # no rank runs ahead of rank 0's checkpoint
    finally:
        bar.close()
    return history
