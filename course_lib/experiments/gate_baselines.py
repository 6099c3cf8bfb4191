"""Trained against untrained gates, read the same way.

A gate's spread (its standard deviation over images, channels and positions) says how much it
varies. Compared naively, an untrained network read in eval mode normalises its gate logits
with BatchNorm's default running statistics (mean 0, variance 1): the logits of the deep gates
are tiny at initialisation, so the untrained gates look flat at 0.5, and "the gates switch on
during training" follows from the reading procedure, not from training. A fair comparison
reads both networks with the same procedure:

* ``default``: eval mode with the running statistics the network has (for the untrained
  network, BatchNorm's defaults; for the trained one, what training accumulated with the
  official momentum 0.01);
* ``recalibrated``: the attention modules' running statistics recomputed on the same training
  images (no augmentation; the same number from every class,
  :func:`~course_lib.data.calibration_images`) for both networks, then eval mode
  (:func:`.interventions.recalibrate_batchnorms`).

:func:`gate_readings` gives the four readings of one finished run (untrained or trained, default
or recalibrated) on the same fixed test images; :func:`untrained_readings` gives the two untrained
ones of a committed run whose checkpoint is elsewhere (the initial weights follow from the seed).
Rows are stored in ``results/gates-<profile>.json``, one per (variant, seed, setting, state, bn).
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
from pathlib import Path

import torch

from ..data import EvalTransform, ImageDataset, calibration_images
from ..explain.gates import gate_statistics
from ..models import build_model
from ..runtime.device import cpu_isa
from ..runtime.env import git_state
from ..runtime.paths import results_dir
from .interventions import recalibrate_batchnorms
from .results import merge_row_list, read_row_list

STATES = ("untrained", "trained")
PROCEDURES = ("default", "recalibrated")
ROW_KEY = ("variant", "seed", "setting", "state", "bn")


def untrained_network(metrics: dict, num_classes: int) -> torch.nn.Module:
    """The network a run of ``metrics`` (a run's metrics or its committed results row) started
    from: its initial weights depend on the seed alone, as in
    :func:`course_lib.train.train_or_load`, so they need no checkpoint. In eval mode."""
    torch.manual_seed(metrics["seed"])
    model = build_model(metrics["model"], attention=metrics.get("attention"),
                        image_size=metrics["image_size"], num_classes=num_classes)  # fmt: skip
    return model.eval()


def untrained_twin(run, num_classes: int) -> torch.nn.Module:
    """The network of ``run`` with the initial weights its training started from."""
    return untrained_network(run.metrics, num_classes)


@torch.no_grad()
def read_both_ways(
    net: torch.nn.Module, probe: torch.Tensor, calibration: torch.Tensor, transform: EvalTransform
) -> dict[str, list]:
    """``net``'s gate statistics on ``probe`` for each procedure of :data:`PROCEDURES`: as it
    is, and with its attention modules' running statistics recomputed on ``calibration``."""
    net = net.float().cpu().eval()
    recalibrated = copy.deepcopy(net)
    recalibrate_batchnorms(recalibrated, calibration, transform, device="cpu", precision="fp32")
    return {"default": gate_statistics(net, probe),
            "recalibrated": gate_statistics(recalibrated, probe)}  # fmt: skip


def _probe_and_calibration(image_size: int, data: ImageDataset, probe_images: int,
                           recalibration_images: int):  # fmt: skip
    from ..chapter import fixed_test_images

    transform = EvalTransform(image_size, data.mean, data.std)
    probe = transform(data.test_images[fixed_test_images(data, n=probe_images)])
    return transform, probe, calibration_images(data, recalibration_images)


def _rows(metrics: dict, state: str, readings: dict, probe_images: int,
          recalibration_images: int, run_dir: str | None) -> list[dict]:  # fmt: skip
    commit, dirty = git_state()
    return [{
        "variant": metrics["name"], "seed": metrics["seed"], "setting": metrics["setting"],
        "state": state, "bn": bn, "probe_images": probe_images,
        "recalibration_images": recalibration_images if bn == "recalibrated" else 0,
        "gates": [dataclasses.asdict(g) for g in stats],
        "run_dir": run_dir, "trained_commit": metrics.get("git_commit"),
        "trained_cpu_isa": metrics.get("cpu_isa"), "git_commit": commit, "dirty": dirty,
        "cpu_isa": cpu_isa(), "date": dt.date.today().isoformat(),
    } for bn, stats in readings.items()]  # fmt: skip


def gate_readings(
    run, data: ImageDataset, probe_images: int = 64, recalibration_images: int = 2000
) -> list[dict]:
    """The gate statistics of ``run``'s network untrained and trained, each read with the
    default and with recalibrated running statistics, on the chapters' ``probe_images`` fixed
    test images; one row per (state, procedure)."""
    m = run.metrics
    transform, probe, calibration = _probe_and_calibration(m["image_size"], data, probe_images,
                                                           recalibration_images)  # fmt: skip
    rows = []
    untrained = untrained_twin(run, data.num_classes)
    for state, net in (("untrained", untrained), ("trained", run.model)):
        readings = read_both_ways(net, probe, calibration, transform)
        rows += _rows(m, state, readings, probe_images, recalibration_images, run.run_dir.name)
    return rows


def untrained_readings(
    row: dict, data: ImageDataset, probe_images: int = 64, recalibration_images: int = 2000
) -> list[dict]:
    """The two untrained readings of a committed run (its results ``row``), whose trained
    network may be on another machine: the initial weights follow from the seed. Chapters read
    them beside the trained gates the row itself records (``gates``, read with the running
    statistics that training accumulated)."""
    transform, probe, calibration = _probe_and_calibration(row["image_size"], data, probe_images,
                                                           recalibration_images)  # fmt: skip
    net = untrained_network(row, data.num_classes)
    readings = read_both_ways(net, probe, calibration, transform)
    return _rows(row, "untrained", readings, probe_images, recalibration_images, None)


def gates_path(profile: str) -> Path:
    """``results/gates-<profile>.json``: a JSON list of rows."""
    return results_dir() / f"gates-{profile}.json"


def read_gate_rows(path: str | Path) -> list[dict]:
    """The rows of a gates file ([] when it does not exist); anything else is refused."""
    return read_row_list(path, (*ROW_KEY, "gates"), "gate rows")


def write_gate_rows(rows: list[dict], path: str | Path) -> Path:
    """Merge ``rows`` into ``path`` (a row replaces the one with the same key), atomically."""
    return merge_row_list(rows, path, ROW_KEY, read_gate_rows(path),
                          lambda r: tuple(str(r[k]) for k in ROW_KEY))  # fmt: skip


def mean_gate_spread(row: dict, gate: str = "mean of branches") -> list[float]:
    """The standard deviation of ``gate`` in each module of a row, in network order."""
    return [g["std"] for g in row["gates"] if g["gate"] == gate]


def spread_table(rows: list[dict], variant: str, gate: str = "mean of branches") -> dict:
    """``{(state, bn): {seed: [sd per module]}}`` for ``variant``'s rows."""
    table: dict = {}
    for r in rows:
        if r["variant"] == variant:
            table.setdefault((r["state"], r["bn"]), {})[r["seed"]] = mean_gate_spread(r, gate)
    return table
