"""Train a registered model once per configuration; later calls load the finished run.

Each run lives in ``runs/<name>-<config hash>/``. The hash covers the model's arguments, the
training recipe and the data (source name, split sizes), so changing any of them starts a new
run, while re-executing a notebook with the same settings loads the finished one in a second.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import warnings
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from ..attention import attention_key
from ..data import ImageDataset
from ..experiments.measure import count_params, measure_throughput
from ..models import build_model
from ..runtime.atomic import atomic_write_json, make_folder, remove_stale_temporaries
from ..runtime.compile import auto_compile
from ..runtime.device import cpu_isa, device_name, pick_device, resolve_precision
from ..runtime.env import git_state
from ..runtime.paths import runs_dir
from .checkpoint import CheckpointError, load_weights, save_weights
from .config import TrainConfig, config_hash
from .distributed import barrier, is_main, world_size
from .evaluate import evaluate
from .fit import History, fit, selection_split
from .lock import run_lock


@dataclass
class Run:
    """A finished training run: the model (final weights), its history and its metrics."""

    model: nn.Module
    history: History
    metrics: dict
    run_dir: Path

    def recipe(self) -> dict:
        """The parts of the training recipe that the metrics do not carry (augmentation, label
        smoothing, weight decay), from the configuration saved in the run's folder: a results
        row says how it was trained, and a reading never pools rows trained differently."""
        saved = self.run_dir / "config.json"
        if not saved.exists():
            return {}
        train = json.loads(saved.read_text()).get("train", {})
        return {k: train[k] for k in ("augment", "label_smoothing", "weight_decay") if k in train}

    def load_best(self) -> nn.Module:
        """Put the weights of the epoch with the best validation accuracy into ``model``."""
        load_weights(self.model, self.run_dir / "best.pt")
        return self.model


def describe_source(data: ImageDataset) -> str:
    """A short, machine-independent name for where the images came from."""
    if data.source.startswith("torchvision"):
        return "CIFAR-10, torchvision (official files)"
    name = Path(data.source).name
    if name == "cifar10-jpeg.tar.gz":
        return "CIFAR-10, cifar10-jpeg.tar.gz (offline copy, JPEG q75)"
    return name


def _set_aside(run_dir: Path, reason: str) -> None:
    """A run folder that cannot be used as it is (an unreadable file, or weights that no longer
    fit the model because the library changed): move it aside, say why, and train again rather
    than fail or load the wrong thing."""
    stale = run_dir.with_name(f"{run_dir.name}.stale-{dt.datetime.now():%Y%m%d-%H%M%S}")
    run_dir.rename(stale)
    warnings.warn(
        f"{run_dir.name} is kept as {stale.name} and trained again: {reason}", stacklevel=3
    )


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise CheckpointError(
            f"cannot read {path}: the file is missing, empty or truncated ({err})"
        ) from err


@contextmanager
def _removed_on_failure(run_dir: Path) -> Iterator[None]:
    """A training that fails before its first epoch is saved leaves no run folder behind."""
    try:
        yield
    except BaseException:
        if is_main() and not any((run_dir / f).exists() for f in ("last.pt", "final.pt")):
            shutil.rmtree(run_dir, ignore_errors=True)
        raise


def _slim_finished_run(run_dir: Path, best_is_final: bool) -> None:
    """A finished run needs no resume state: drop ``last.pt`` (weights plus Adam's two moments,
    three times the size of the weights). When the best epoch is the last one, ``best.pt``
    becomes a hard link to ``final.pt`` so the weights are stored once (a copy is kept where
    the file system has no hard links)."""
    (run_dir / "last.pt").unlink(missing_ok=True)
    if best_is_final:
        tmp = run_dir / ".best.pt.link"
        try:
            tmp.unlink(missing_ok=True)
            os.link(run_dir / "final.pt", tmp)
            os.replace(tmp, run_dir / "best.pt")
        except OSError:
            tmp.unlink(missing_ok=True)


def run_name(model_name: str, attention: str | None) -> str:
    return f"{model_name}-{attention or 'none'}"


def train_or_load(
    model_name: str,
    data: ImageDataset,
    config: TrainConfig,
    attention: str | None = None,
    name: str | None = None,
    model_kwargs: dict | None = None,
    profile: str | None = None,
    device: str | torch.device | None = None,
    progress: bool = True,
    runs_root: str | Path | None = None,
    compile: bool | str | None = "auto",
    load_only: bool = False,
) -> Run | None:
    """Build ``model_name`` (with ``attention``), train it with ``config``, or load the run.

    An interrupted run resumes from its last finished epoch. A run folder is locked while it
    trains: a second identical training stops with :class:`RunLockedError`. With
    ``load_only`` a run that has not finished is not trained: the result is None.
    ``compile``: ``"auto"`` compiles the attention modules where that is measured to pay
    (:func:`course_lib.runtime.compile.auto_compile`), None or False never, ``"attention"`` or
    ``"model"`` always. Compiling does not change the run's name: it is the same computation.
    """
    device = pick_device(device)
    commit, dirty = git_state()  # asked (and cached) before training: the code this runs
    # the run records the precision it trains in: "auto" would name different runs alike
    config = config.replace(precision=resolve_precision(config.precision, device))
    attention = attention_key(attention)

    def fresh_model() -> nn.Module:
        torch.manual_seed(config.seed)  # the initial weights depend on the seed alone
        return build_model(
            model_name,
            attention=attention,
            image_size=config.image_size,
            num_classes=data.num_classes,
            **(model_kwargs or {}),
        )

    model = fresh_model()
    data_desc = {
        "source": describe_source(data),
        "train": len(data.train_labels),
        "val": len(data.val_labels) if data.has_val else 0,
        "test": len(data.test_labels),
        "classes": data.classes,
    }
    digest = config_hash(model.spec, config.as_dict(), data_desc)
    # the same setting with another seed: the runs the statistics pool
    setting = config_hash(model.spec, config.replace(seed=0).as_dict(), data_desc)
    run_dir = Path(runs_root or runs_dir()) / f"{name or run_name(model_name, attention)}-{digest}"
    final, metrics_file, last = run_dir / "final.pt", run_dir / "metrics.json", run_dir / "last.pt"
    finished = final.exists() and metrics_file.exists()
    # a finished run is loaded, an interrupted one resumed; either only if it fits this code
    found = final if finished else last
    if found.exists():
        try:
            load_weights(model, found)
            if finished:
                history = History.from_dict(_read_json(run_dir / "history.json"))
                return Run(model.to(device), history, _read_json(metrics_file), run_dir)
        except CheckpointError as err:
            _set_aside(run_dir, str(err))
            model = fresh_model()  # a failed load_state_dict may have copied some tensors
    if load_only:
        return None
    if dirty and is_main():
        warnings.warn(
            f"{run_dir.name} is trained from uncommitted changes to course_lib (commit {commit}"
            "+dirty): its result will say dirty: true; commit first to make it traceable",
            stacklevel=2,
        )

    make_folder(run_dir)
    with run_lock(run_dir) if is_main() else nullcontext(), _removed_on_failure(run_dir):
        remove_stale_temporaries(run_dir)  # left by a process killed while writing
        if is_main():
            atomic_write_json(
                {"model": model.spec, "train": config.as_dict(), "data": data_desc,
                 "profile": profile},
                run_dir / "config.json",
            )  # fmt: skip
        if compile == "auto":
            steps = config.epochs * (len(data.train_labels) // config.batch_size)
            compile = auto_compile(model, device, config.precision, steps)
        history = fit(
            model, data, config, run_dir=run_dir, device=device, progress=progress, compile=compile
        )
        if not is_main():  # rank 0 writes the run; the others are done
            barrier()
            return Run(model, history, {}, run_dir)
        save_weights(model, final)

        result = evaluate(
            model, data, config.image_size, config.eval_batch_size, device, config.precision
        )
        best = max(range(len(history.val_acc)), key=history.val_acc.__getitem__)
        val_split = selection_split(data)
        train_images = (len(data.train_labels) // config.batch_size) * config.batch_size
        metrics = {
            "name": name or run_name(model_name, attention),
            "model": model_name,
            "attention": attention or "none",
            "params": count_params(model),
            "accuracy": result["accuracy"],  # test split, final epoch
            "selection_split": val_split,
            "best_val_accuracy": history.val_acc[best],
            "best_epoch": history.epoch[best],
            "final_val_accuracy": history.val_acc[-1],
            "per_class_accuracy": result["per_class_accuracy"],
            "confusion_matrix": result["confusion_matrix"],
            "epochs": config.epochs,
            "image_size": config.image_size,
            "batch_size": config.batch_size,
            "lr": config.lr,
            "seed": config.seed,
            "train_images": len(data.train_labels),
            "val_images": len(data.val_labels) if data.has_val else 0,
            "test_images": len(data.test_labels),
            "train_time_s": sum(history.epoch_time),
            "wall_time_s": history.elapsed[-1],  # across resumes
            "train_images_per_s": train_images * len(history.epoch_time) / sum(history.epoch_time),
            "inference_images_per_s": measure_throughput(
                model,
                config.image_size,
                config.eval_batch_size // 4,
                device,
                precision=config.precision,
            ),
            "data_source": describe_source(data),
            "device": device_name(device),
            "profile": profile,
            "torch": torch.__version__,
            "date": dt.date.today().isoformat(),
            "run_dir": run_dir.name,
            "setting": setting,
            "git_commit": commit,
            "dirty": dirty,  # trained from uncommitted changes to course_lib
            "threads": torch.get_num_threads() if device.type == "cpu" else None,
            "cpu_isa": cpu_isa() if device.type == "cpu" else None,
            "schedule_epochs": config.schedule_length,
            "world_size": world_size(),
            "compiled": compile,
            "precision": config.precision,
        }
        atomic_write_json(metrics, metrics_file)
        _slim_finished_run(run_dir, best_is_final=best == len(history.val_acc) - 1)
    barrier()
    return Run(model, history, metrics, run_dir)
