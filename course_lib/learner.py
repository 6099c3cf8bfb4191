"""A learner's run, checked against the course's: bit-identical, inside the course's range, or
outside it, and what can differ.

In learner mode a chapter trains only its main seed (42) and reads the other seeds' rows from the
committed results (``results/<profile>/``): the course's runs. Its statistics and verdicts come
from those rows; the learner's own run is a **reproduction check**. :func:`check_your_run` says
which of three things holds, in one line that starts with "Your run":

* **bit-identical** to the committed run of the same seed (same test accuracy and the same
  validation accuracy after every epoch): the same code, CPU kind, threads and precision;
* **inside** the course's range (between the lowest and the highest test accuracy of its seeds);
* **outside** it, with what differs from the committed run: the CPU's instruction set (oneDNN
  picks other kernels on an AMX, an AVX512-BF16 or an AVX2 CPU), the thread count, the torch
  version, the precision (``auto`` is bf16 on a CPU with native bf16, fp32 on others, fp16 on a
  GPU without bf16).

:func:`course_rows` reads the committed rows and refuses, in one line that names the file and
the command that trains it again, a row that is missing, unreadable or of another recipe.
:func:`plot_your_run` draws the learner's run over the course's: the validation curve over the
band of the course's seeds, and the test accuracy among their dots.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .experiments.reference import matches
from .experiments.results import read_results
from .profiles import Profile
from .runtime.paths import results_dir

ALL_SEEDS_ENV = "COURSE_ALL_SEEDS"
# the profiles whose runs the course commits (results/<profile>/): learner mode needs them
COMMITTED_PROFILES = ("quick",)


def default_all_seeds() -> bool:
    """Whether a chapter retrains every seed by default: ``COURSE_ALL_SEEDS=1`` (what
    ``run-notebooks --all-seeds`` sets), or a CUDA GPU, where all seeds take minutes."""
    value = os.environ.get(ALL_SEEDS_ENV, "").strip().lower()
    if value:
        if value not in ("0", "1", "true", "false", "yes", "no"):
            raise ValueError(f"{ALL_SEEDS_ENV}={value!r}: use 1 (all seeds) or 0 (learner mode)")
        return value in ("1", "true", "yes")
    import torch

    return torch.cuda.is_available()


def learner_mode(profile: Profile | str | None, all_seeds: bool) -> bool:
    """Learner mode: train only the main seed and read the other seeds from the committed rows.
    Only where the course commits runs of the profile (``quick``; a profile or its name); other
    profiles (``smoke``, the exploratory ``gpu`` and ``paper``) train every seed they list."""
    name = profile.name if isinstance(profile, Profile) else profile
    return not all_seeds and name in COMMITTED_PROFILES


class CourseRowError(LookupError):
    """A committed row the chapter needs is missing, unreadable or of another recipe."""


def train_command(profile: Profile, name: str, seed: int) -> str:
    """The command that trains the run ``name`` (``model-attention``) of ``seed`` again."""
    model, _, attention = name.partition("-")
    return (
        f"python -m course_lib train --profile {profile.name} --model {model} "
        f"--attention {attention or 'none'} --seed {seed}"
    )


def course_rows(
    profile: Profile,
    name: str,
    seeds: Sequence[int] | None = None,
    folder: str | Path | None = None,
) -> dict[int, dict]:
    """The committed rows of run ``name`` at ``profile``'s recipe, one per seed (default: the
    profile's seeds), from ``results/<profile>/``. A seed without a row, an unreadable row file
    of this run, or two rows of one seed are refused with one line naming the file and the
    command that regenerates it; rows of other recipes are not this run's and are ignored."""
    seeds = list(seeds or profile.seeds)
    root = Path(folder or results_dir()) / profile.name
    found: dict[int, dict] = {}
    for row in read_results(root):
        if "error" in row:
            if Path(row["file"]).name.startswith(f"{name}-s"):
                seed = _seed_of(row["file"])
                raise CourseRowError(
                    f"{root / row['file']}: {row['error']}; restore it with `git checkout -- "
                    f"{_repo_path(root / row['file'])}` or train it again with "
                    f"`{train_command(profile, name, seed)} --write-result <chapter>`"
                )
            continue
        if row.get("name") != name or row.get("seed") not in seeds or not matches(row, profile):
            continue
        if row["seed"] in found:
            raise CourseRowError(
                f"{root / row['file']}: a second committed row of {name} seed {row['seed']} at "
                f"this recipe (the other: {found[row['seed']]['file']}); keep one"
            )
        found[row["seed"]] = row
    missing = [s for s in seeds if s not in found]
    if missing:
        s = missing[0]
        raise CourseRowError(
            f"{root}/{name}-s{s}__{profile.image_size}px-{profile.epochs}ep-*.json: no committed "
            f"row of {name} seed {s} at the {profile.name} recipe ({len(missing)} seed(s) "
            f"missing: {missing}); train it with `{train_command(profile, name, s)} "
            "--write-result <chapter>`"
        )
    return dict(sorted(found.items()))


def _seed_of(file: str) -> int:
    try:
        return int(Path(file).name.split("-s")[-1].split("__")[0])
    except ValueError:
        return 0


def _repo_path(path: Path) -> str:
    from .runtime.paths import repo_root

    try:
        return str(path.relative_to(repo_root()))
    except ValueError:
        return str(path)


@dataclass
class CourseHistory:
    """The per-epoch curves a committed row keeps (no step losses, no validation losses)."""

    epoch: list[int]
    train_acc: list[float]
    val_acc: list[float]


@dataclass
class CourseRun:
    """A committed results row standing in for one of the course's runs: its metrics and
    per-epoch accuracies, no model (nothing of it was trained here)."""

    metrics: dict
    history: CourseHistory = field(init=False)

    def __post_init__(self) -> None:
        val = list(self.metrics.get("val_accuracy_per_epoch") or [])
        train = list(self.metrics.get("train_accuracy_per_epoch") or [])
        self.history = CourseHistory(list(range(1, len(val) + 1)), train, val)


class SeedRuns(list):
    """The runs of one variant that this session trained or loaded (``runs[0]``: the main
    seed's, the one whose curves, predictions and maps a chapter shows). In learner mode
    ``course`` holds the course's committed rows of every seed (:class:`CourseRun`), from which
    the chapter's statistics come, and ``check`` the learner's run against them."""

    def __init__(self, runs=(), course: Sequence[CourseRun] | None = None,
                 check: YourRun | None = None) -> None:  # fmt: skip
        super().__init__(runs)
        self.course = None if course is None else list(course)
        self.check = check


def statistics_runs(runs: Sequence) -> list:
    """The runs a chapter's statistics use: the course's committed rows in learner mode, else
    the runs themselves."""
    course = getattr(runs, "course", None)
    return list(runs) if course is None else course


def learner_check(run, profile: Profile, folder: str | Path | None = None) -> SeedRuns:
    """The learner's run of the main seed with the course's committed rows of every seed of
    ``profile`` and the "Your run" check between them (:func:`check_your_run`)."""
    rows = course_rows(profile, run.metrics["name"], folder=folder)
    check = check_your_run(_with_curve(run), rows)
    return SeedRuns([run], [CourseRun(row) for row in rows.values()], check)


def _with_curve(run) -> dict:
    """A trained run's metrics with its validation accuracy per epoch, as a row keeps it."""
    return {**run.metrics, "val_accuracy_per_epoch": [float(v) for v in run.history.val_acc]}


def plot_your_runs(variants: Mapping[str, Sequence]):
    """:func:`plot_your_run` for every variant with a check, one row each, in one figure."""
    import matplotlib.pyplot as plt

    checked = {n: r for n, r in variants.items() if getattr(r, "check", None) is not None}
    if not checked:
        raise ValueError("no variant has a learner's check: train them in learner mode")
    fig, axes = plt.subplots(len(checked), 2, figsize=(10, 3.0 * len(checked)), dpi=100,
                             gridspec_kw={"width_ratios": [2, 1]}, squeeze=False)  # fmt: skip
    for (name, runs), (ax_c, ax_a) in zip(checked.items(), axes, strict=True):
        course = {r.metrics["seed"]: r.metrics for r in runs.course}
        _draw_your_run(ax_c, ax_a, _with_curve(runs[0]), course, name)
    fig.tight_layout()
    return fig


# what a run records that decides its numbers beyond the recipe, and how to name it
MACHINE_FIELDS = {
    "cpu_isa": "CPU kind",
    "threads": "threads",
    "torch": "torch",
    "precision": "precision",
    "device": "device",
}


@dataclass(frozen=True)
class YourRun:
    """The learner's run against the course's runs of the same recipe."""

    status: str  # "bit-identical", "inside" or "outside"
    accuracy: float
    seed: int
    committed_accuracy: float | None  # the course's run of the same seed, if it has one
    low: float  # the course's range of test accuracy over its seeds
    high: float
    n_course: int
    differences: dict[str, tuple]  # field -> (yours, the committed run's)

    def line(self) -> str:
        """One printed line starting with "Your run"."""
        head = f"Your run (seed {self.seed}): test accuracy {self.accuracy * 100:.2f} %"
        if self.status == "bit-identical":
            return (
                f"{head}, bit-identical to the course's committed seed-{self.seed} run (every "
                "epoch's validation accuracy and the test accuracy equal)."
            )
        where = (
            f"the course's range over {self.n_course} seeds "
            f"({self.low * 100:.2f}-{self.high * 100:.2f} %)"
        )
        same = ""
        if self.committed_accuracy is not None:
            reached = self.committed_accuracy * 100
            same = f"; the committed seed-{self.seed} run reached {reached:.2f} %"
        differs = (
            "; it differs from that run in "
            + ", ".join(
                f"{MACHINE_FIELDS[k]} ({_shown(v[0])} here, {_shown(v[1])} there)"
                for k, v in self.differences.items()
            )
            if self.differences
            else "; nothing recorded differs (the same CPU kind, threads, torch and precision), "
            "so look at the code: compare the run's git commit with the committed row's"
        )
        if self.status == "inside":
            return f"{head}, inside {where}: not bit-identical{same}{differs}.{self._cap_hint()}"
        return (
            f"{head}, outside {where}{same}{differs}. A CPU of another kind, other threads, "
            "another torch or precision change the numbers; a change beyond the course's spread "
            f"is worth a look.{self._cap_hint()}"
        )

    def _cap_hint(self) -> str:
        """How to run an AVX2 CPU's kernels on a bigger x86 CPU, where the committed run had
        AVX2 and this one more (the one cap the course has tried: see runtime.device.isa_caps)."""
        mine, theirs = self.differences.get("cpu_isa", (None, None))
        if theirs != "AVX2" or mine not in ("AMX", "AVX512-BF16", "AVX512"):
            return ""
        return (
            " To run the AVX2 kernels the committed run ran, start Python with "
            "ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 MKL_ENABLE_INSTRUCTIONS=AVX2 "
            "set and train in fp32 (on an AMD Zen 4 that reproduced the committed Zen 3 runs "
            "bit for bit)."
        )


def _shown(value) -> str:
    return "not recorded" if value is None else str(value)


def check_your_run(metrics: dict, course: dict[int, dict]) -> YourRun:
    """Compare a finished run's ``metrics`` with the course's committed rows of the same run
    name and recipe (``{seed: row}``, :func:`course_rows`)."""
    if not course:
        raise ValueError("no committed runs to compare with")
    seed, accuracy = metrics["seed"], metrics["accuracy"]
    values = [row["accuracy"] for row in course.values()]
    low, high = min(values), max(values)
    committed = course.get(seed)
    differences = {}
    if committed is not None:
        for field in MACHINE_FIELDS:
            if field == "device" and committed.get("cpu_isa") is None:
                continue  # older rows: the device string says no more than "x86_64"
            mine, theirs = metrics.get(field), committed.get(field)
            if mine != theirs:
                differences[field] = (mine, theirs)
    identical = committed is not None and (
        accuracy == committed["accuracy"]
        and metrics.get("val_accuracy_per_epoch") == committed.get("val_accuracy_per_epoch")
    )
    status = "bit-identical" if identical else "inside" if low <= accuracy <= high else "outside"
    return YourRun(
        status=status,
        accuracy=accuracy,
        seed=seed,
        committed_accuracy=None if committed is None else committed["accuracy"],
        low=low,
        high=high,
        n_course=len(course),
        differences={} if identical else differences,
    )


def plot_your_run(metrics: dict, course: dict[int, dict], label: str = ""):
    """Left: the validation accuracy after each epoch, the learner's run over the band (lowest
    to highest) and mean of the course's seeds; right: the test accuracy, the learner's run among
    the course's seeds' dots (that axis zoomed to them; the curve's axis starts at chance, 10 %)."""
    import matplotlib.pyplot as plt

    fig, (ax_c, ax_a) = plt.subplots(1, 2, figsize=(10, 3.4), dpi=100,
                                     gridspec_kw={"width_ratios": [2, 1]})  # fmt: skip
    _draw_your_run(ax_c, ax_a, metrics, course, label)
    fig.tight_layout()
    return fig


def _draw_your_run(ax_c, ax_a, metrics: dict, course: dict[int, dict], label: str) -> None:
    curves = [row["val_accuracy_per_epoch"] for row in course.values()]
    epochs = range(1, len(curves[0]) + 1)
    low = [min(c[e - 1] for c in curves) * 100 for e in epochs]
    high = [max(c[e - 1] for c in curves) * 100 for e in epochs]
    mean = [sum(c[e - 1] for c in curves) / len(curves) * 100 for e in epochs]
    ax_c.fill_between(epochs, low, high, color="0.8", label=f"course, {len(curves)} seeds (range)")
    ax_c.plot(epochs, mean, color="0.45", lw=1.2, label="course, mean")
    mine = metrics.get("val_accuracy_per_epoch") or []
    ax_c.plot(range(1, len(mine) + 1), [v * 100 for v in mine], "o-", color="C3",
              label=f"your run (seed {metrics['seed']})")  # fmt: skip
    ax_c.set(xlabel="epoch", ylabel="validation accuracy (%)", ylim=(10, None),
             title=f"{label}: your run over the course's".strip(": "))  # fmt: skip
    ax_c.legend(fontsize=8, loc="lower right")
    ax_c.grid(alpha=0.3)
    seeds = sorted(course)
    ax_a.scatter(range(len(seeds)), [course[s]["accuracy"] * 100 for s in seeds], color="0.45",
                 label="course")  # fmt: skip
    ax_a.axhline(metrics["accuracy"] * 100, color="C3", lw=1.5,
                 label=f"your run {metrics['accuracy'] * 100:.2f} %")  # fmt: skip
    values = [course[s]["accuracy"] * 100 for s in seeds] + [metrics["accuracy"] * 100]
    ax_a.set(xticks=range(len(seeds)), xticklabels=[str(s) for s in seeds], xlabel="seed",
             ylabel="test accuracy (%)", ylim=(min(values) - 3, max(values) + 3),
             title="test accuracy (axis zoomed)")  # fmt: skip
    ax_a.legend(fontsize=8)
    ax_a.grid(alpha=0.3, axis="y")
