"""The GPU job: everything a lent GPU should do in one call, inside a wall-clock budget.

On the GPU machine (see scripts/gpu/README.md)::

    bash scripts/gpu/run.sh --budget 540

On this machine, the same steps end to end on the CPU, sized like the smoke profile::

    python scripts/gpu/job.py --dry-run --out /tmp/gpu-dry-run

With ``--next`` the job trains what ``results/`` does not hold yet, in one priority list
(:func:`next_runs`): the ``gpu`` profile's chapters 01-04 runs, then ``paper`` AlexNet-TA at
224 px to 50 epochs, then the ``paper`` pairs up to three seeds. A lease never repeats a
committed run.

Steps, in order of value; each is timed, logged, and skipped when the time left cannot finish it,
and a failing step is logged and the job goes on:

1. the environment (GPU, driver, torch) and the data, loaded once (warms the decoded cache);
2. the CUDA tests (``pytest -m cuda``);
3. ``bench`` at 224 px (AlexNet and every attention module) and at 128 px (SimAM's setting;
   with ``--next`` every module the ``gpu`` profile trains), eager, compiled and CUDA-graph
   training steps side by side for AlexNet and AlexNet-TA, and a ``torch.profiler`` table of
   AlexNet and AlexNet-TA training steps;
4. packing: total training images/s of 1, 2 and 4 processes on the one GPU;
5. the runs: by default the ``paper`` runs (the source notebooks' recipe, 50 epochs): AlexNet and
   AlexNet-TA at 224 px, AlexNet and AlexNet-SimAM at 128 px (lr 5e-4, as source 001), seed 42
   first; with ``--next`` the missing runs of the priority list; as many as the budget allows,
   on as many concurrent processes as step 4 found best;
6. ``bench --compile`` at 224 px, with the time that is left.

Everything lands in ``--out``: ``job.log``, ``summary.md`` and ``gpu-job.tar.gz`` (results rows,
bench JSON, the runs' histories and metrics, profiler tables, per-run logs), refreshed after
every step so that a job stopped at its time limit still returns what it finished.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tarfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))  # course_lib from this checkout, installed or not

import torch  # noqa: E402

from course_lib.data import load_cifar10  # noqa: E402
from course_lib.experiments import bench  # noqa: E402
from course_lib.experiments.results import read_results  # noqa: E402
from course_lib.profiles import Profile, get_profile  # noqa: E402
from course_lib.runtime.atomic import atomic_write_json  # noqa: E402
from course_lib.runtime.device import device_name, resolve_precision  # noqa: E402

ATTENTIONS = ["se", "cbam", "triplet", "simam", "psa", "self_attention"]
STEPS = ["tests", "bench", "profile", "packing", "train", "compile-bench"]
SOURCE_LR = {224: 1e-3, 128: 5e-4}  # source 000 at 224 px, source 001 at 128 px
# the AlexNet variants of chapters 01-04, in chapter order; "batchnorm" is the control for the
# BatchNorm inside Triplet Attention's gates
GPU_CHAPTER_ATTENTIONS = ["none", "triplet", "batchnorm", "simam", "se", "cbam"]
STEP_MODE_ATTENTIONS = ["none", "triplet"]  # eager / compiled / graphs side by side


@dataclass(frozen=True)
class PaperRun:
    """One AlexNet training run: the source notebooks' settings (``paper``) or another profile's."""

    attention: str
    image_size: int
    lr: float
    seed: int
    profile: str = "paper"
    epochs: int = 50
    train_images: int | None = None  # what a committed row must have trained on; None: any

    @property
    def name(self) -> str:
        prefix = "" if self.profile == "paper" else f"{self.profile}-"
        return f"{prefix}alexnet-{self.attention}-{self.image_size}px-s{self.seed}"

    @property
    def chapter(self) -> str:  # the results row's label; keeps 224 and 128 px rows apart
        return f"gpu-{self.image_size}px" if self.profile == "paper" else "gpu-job"

    def done_by(self, row: dict) -> bool:
        """Whether the results row ``row`` is this run, finished (its profile, network,
        seed, size, epochs and learning rate; and its training images where this run names
        them)."""
        same = (
            row.get("profile") == self.profile
            and row.get("name") == f"alexnet-{self.attention}"
            and row.get("seed") == self.seed
            and row.get("image_size") == self.image_size
            and row.get("epochs") == self.epochs
            and row.get("lr") is not None
            and abs(row["lr"] - self.lr) <= 1e-12
            and "accuracy" in row
        )
        return same and self.train_images in (None, row.get("train_images"))


def paper_runs(seeds: list[int], large: int, small: int) -> list[PaperRun]:
    """Source 000's pair (224 px, lr 1e-3) and source 001's pair (128 px, lr 5e-4), seed by seed."""
    variants = [
        ("none", large, 1e-3),
        ("triplet", large, 1e-3),
        ("none", small, 5e-4),
        ("simam", small, 5e-4),
    ]
    return [PaperRun(a, size, lr, seed) for seed in seeds for a, size, lr in variants]


def gpu_profile_runs(profile: Profile) -> list[PaperRun]:
    """The ``gpu`` profile's chapters 01-04 runs, chapter by chapter (each variant's seeds
    together, so that a short lease completes whole comparisons first)."""
    train_images = profile.train_subset or 50_000 - (profile.val_size or 0)
    return [
        PaperRun(
            attention,
            profile.image_size,
            profile.lr,
            seed,
            profile.name,
            profile.epochs,
            train_images,
        )  # fmt: skip
        for attention in GPU_CHAPTER_ATTENTIONS
        for seed in profile.seeds
    ]


def priority_runs(profile: Profile, seeds: list[int], large: int, small: int) -> list[PaperRun]:
    """Everything a lease should train, most valuable first, duplicates dropped: the ``gpu``
    profile's chapters 01-04 runs (``profile``), ``paper`` AlexNet-TA at ``large`` px to 50
    epochs (the run the first lease could not finish), then the ``paper`` pairs seed by seed
    (the third seeds among them)."""
    paper = paper_runs(seeds, large, small)
    ta = next(r for r in paper if (r.attention, r.image_size) == ("triplet", large))
    runs = [*gpu_profile_runs(profile), ta, *paper]
    return list(dict.fromkeys(runs))


def next_runs(planned: list[PaperRun], rows: list[dict]) -> list[PaperRun]:
    """The runs of ``planned`` (in its order) that no results row in ``rows`` has finished.

    ``paper`` runs name no training-image count: the first lease's rows trained on all 50,000
    images, before the validation hold-out, and count as done (a lease never repeats them)."""
    rows = [r for r in rows if "error" not in r]
    return [run for run in planned if not any(run.done_by(row) for row in rows)]


class Job:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.started = time.monotonic()
        self.out = Path(args.out).resolve()
        self.work = Path(args.work).resolve()
        self.out.mkdir(parents=True, exist_ok=True)
        self.work.mkdir(parents=True, exist_ok=True)
        self.log_file = (self.out / "job.log").open("a")
        self.summary: list[str] = []
        self.device = torch.device(args.device)
        self.threads = os.cpu_count() or 1
        # results rows stay in the work folder; run folders (checkpoints of 58-175 MB rewritten
        # every epoch) in memory on the GPU machine, where only their JSON files are kept
        shm = Path("/dev/shm")
        self.runs = (shm if shm.is_dir() and not args.dry_run else self.work) / "course-runs"
        os.environ["COURSE_RESULTS_DIR"] = str(self.work / "results")
        os.environ["COURSE_RUNS_DIR"] = str(self.runs)
        os.environ["COURSE_PROGRESS"] = "off"

    # --- bookkeeping ---------------------------------------------------------------------------
    def left(self) -> float:
        return self.args.budget - (time.monotonic() - self.started)

    def log(self, text: str) -> None:
        stamp = f"[{time.monotonic() - self.started:6.1f}s]"
        for line in str(text).splitlines() or [""]:
            print(f"{stamp} {line}", flush=True)
            self.log_file.write(f"{stamp} {line}\n")
        self.log_file.flush()

    def note(self, line: str) -> None:
        """A line for summary.md (printed at the end, where the device tool's reply shows it)."""
        self.summary.append(line)
        self.log(line)

    def step(self, name: str, needs_s: float, fn) -> object:
        if self.left() < needs_s:
            self.note(f"- {name}: skipped ({self.left():.0f} s left, needs ~{needs_s:.0f} s)")
            return None
        self.log(f"=== {name} ({self.left():.0f} s left)")
        began = time.monotonic()
        try:
            value = fn()
        except Exception:
            self.log(traceback.format_exc())
            self.note(f"- {name}: FAILED after {time.monotonic() - began:.0f} s (see job.log)")
            value = None
        else:
            self.log(f"=== {name}: done in {time.monotonic() - began:.0f} s")
        self.pack()
        return value

    def pack(self) -> None:
        """Everything worth keeping into one archive under --out (rewritten after each step)."""
        (self.out / "summary.md").write_text("\n".join(self.summary) + "\n")
        tmp = self.out / ".gpu-job.tar.gz"
        with tarfile.open(tmp, "w:gz") as tar:
            for path, name in self.kept_files():
                tar.add(path, arcname=str(name))
        tmp.replace(self.out / "gpu-job.tar.gz")

    def kept_files(self):
        """The work folder's small text files, and the JSON files of the run folders (their
        checkpoints stay behind)."""
        for path in sorted(self.work.rglob("*")):
            if self.runs in path.parents or not path.is_file():
                continue
            if path.suffix in {".json", ".txt", ".log"} and path.stat().st_size < 2**20:
                yield path, path.relative_to(self.work)
        for path in sorted(self.runs.glob("*/*.json")):
            yield path, Path("runs") / path.relative_to(self.runs)

    # --- steps ---------------------------------------------------------------------------------
    def environment(self) -> None:
        info = {
            "device": device_name(self.device),
            "torch": torch.__version__,
            "cuda": torch.version.cuda,
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "dry_run": self.args.dry_run,
        }
        if self.device.type == "cuda":
            smi = subprocess.run(
                [
                    "nvidia-smi",
                    "--query-gpu=name,driver_version,memory.total,clocks.max.sm",
                    "--format=csv,noheader",
                ],
                capture_output=True,
                text=True,
            )
            info["nvidia_smi"] = smi.stdout.strip()
        atomic_write_json(info, self.work / "environment.json")
        self.note(f"# GPU job ({'dry run, CPU' if self.args.dry_run else info['device']})")
        self.note(f"- {json.dumps(info)}")
        began = time.monotonic()
        data = load_cifar10(self.args.data, download=False)
        self.note(
            f"- data: {data.source}, {len(data.train_labels)} train / "
            f"{len(data.test_labels)} test, loaded in {time.monotonic() - began:.1f} s"
        )

    def cuda_tests(self) -> None:
        env = {**os.environ, "COURSE_DATA": str(self.args.data)}
        if self.args.dry_run:
            env["COURSE_TEST_DEVICE"] = "cpu"
        report = self.work / "pytest-cuda.txt"
        command = [
            sys.executable,
            "-m",
            "pytest",
            "-m",
            "cuda",
            "tests/test_cuda.py",
            "-q",
            "-p",
            "no:cacheprovider",
            *self.args.pytest_args,
        ]
        done = subprocess.run(
            command,
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=max(30.0, self.left() - 30),
        )
        report.write_text(done.stdout + done.stderr)
        tail = (done.stdout.strip().splitlines() or ["(no output)"])[-1]
        self.note(f"- CUDA tests: {tail} (exit {done.returncode})")
        if done.returncode:
            self.log(done.stdout[-4000:] + done.stderr[-2000:])

    def bench(
        self, image_size: int, attentions: list[str], compile: bool = False, rounds: int = 0
    ) -> dict:
        suffix = "-compile" if compile else ""
        kind = "cpu-dry-run" if self.args.dry_run else self.device.type
        report = bench.run_bench(
            image_size=image_size,
            batch_size=self.args.batch_size,
            models=["alexnet"],
            attentions=attentions,
            device=str(self.device),
            iters=self.args.bench_iters,
            rounds=rounds or self.args.bench_rounds,
            compile=compile,
            output=self.work / f"bench-{kind}-{image_size}px{suffix}.json",
            precisions=[resolve_precision("auto", self.device)],  # what the runs train in
        )
        self.note(f"\n## bench {image_size} px{' (compiled)' if compile else ''}\n```")
        self.note(bench.format_report(report))
        self.note("```")
        return report

    def step_modes(self, image_size: int) -> list[dict]:
        """Eager, compiled and CUDA-graph training steps side by side (graphs on CUDA only)."""
        rows = [
            bench.step_mode_throughput(
                attention,
                image_size,
                self.args.batch_size,
                self.device,
                iters=self.args.bench_iters,
            )  # fmt: skip
            for attention in self.args.step_mode_attentions
        ]
        kind = "cpu-dry-run" if self.args.dry_run else self.device.type
        atomic_write_json(rows, self.work / f"step-modes-{kind}-{image_size}px.json")
        self.note(f"\n## training step: eager / compiled / CUDA graphs, {image_size} px\n```")
        self.note(bench.format_step_modes(rows))
        self.note("```")
        return rows

    def profiles(self, image_size: int) -> None:
        for attention in (None, "triplet"):
            table = bench.profile_train_step(
                attention, image_size, self.args.batch_size, self.device, steps=5
            )
            name = f"profile-alexnet-{attention or 'none'}-{image_size}px.txt"
            (self.work / name).write_text(table + "\n")
            self.log(f"{name}:\n" + "\n".join(table.splitlines()[:14]))

    def packing(self, image_size: int) -> dict[int, float]:
        totals = {}
        for processes in self.args.processes:
            totals[processes] = bench.packed_train_throughput(
                "triplet",
                image_size,
                self.args.batch_size,
                self.device,
                processes,
                iters=self.args.packing_iters,
            )
            gain = totals[processes] / totals[min(totals)]
            self.note(
                f"- packing, AlexNet-TA at {image_size} px: {processes} process(es) "
                f"{totals[processes]:.0f} img/s in total ({gain:.2f}x one)"
            )
        atomic_write_json(totals, self.work / f"packing-{image_size}px.json")
        return totals

    def train(self, runs: list[PaperRun], speeds: dict, totals: dict[int, float]) -> None:
        """Schedule the runs on k concurrent processes (k with the best total from the packing
        step), accepting each, in priority order, only if its estimated end is within budget."""
        gains = {n: total / totals[1] for n, total in totals.items()} if 1 in totals else {}
        k = max(gains, key=gains.get, default=1)
        if gains.get(k, 1.0) < 1.1:  # packing must pay clearly, or runs go one at a time
            k, gains = 1, {1: 1.0}
        if self.args.parallel:  # chosen on the command line (e.g. from an earlier job's packing)
            k, gains = self.args.parallel, {self.args.parallel: float(self.args.parallel)}
        slowdown = k / gains[k]  # each of k processes runs at gains[k]/k of a lone one
        self.threads = max(1, (os.cpu_count() or 1) // k)
        self.note(f"\n## runs ({k} at a time, each ~{slowdown:.2f}x slower than alone)")
        free_at = [0.0] * k  # seconds from now when each slot is free
        plan = []
        for run in runs:
            alone = self.estimate(run, speeds)
            if alone is None and not self.args.runs:
                self.note(f"- {run.name}: no speed measured; not run")
                continue
            if alone is None:  # asked for by name: run it, and stop it at the deadline
                self.note(f"- {run.name}: no speed measured; started without an estimate")
                alone = 0.0
            slot = min(range(k), key=free_at.__getitem__)
            end = free_at[slot] + alone * slowdown
            if end * 1.1 + 15 > self.left():
                self.note(
                    f"- {run.name}: not run (estimated {alone * slowdown:.0f} s; "
                    f"{self.left():.0f} s left)"
                )
                continue
            free_at[slot] = end
            plan.append((run, alone * slowdown))
        for run, estimate in plan:
            self.log(f"planned {run.name}: ~{estimate:.0f} s")
        pending, active = list(plan), []
        while pending or active:
            while pending and len(active) < k:
                run, estimate = pending.pop(0)
                active.append((run, self.launch(run), time.monotonic()))
            time.sleep(1.0)
            for item in list(active):
                run, proc, began = item
                if proc.poll() is None and self.left() > 5:
                    continue
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
                active.remove(item)
                self.finished(run, proc.returncode, time.monotonic() - began)
            self.pack()

    def estimate(self, run: PaperRun, speeds: dict) -> float | None:
        """Seconds for one run alone: training steps and evaluation at the benched speeds, plus
        start-up, per-epoch checkpoints and the final evaluation."""
        speed = speeds.get((run.attention, run.image_size))
        if not speed:
            return None
        train_ips, infer_ips = speed
        epoch = self.args.train_images / train_ips + self.args.test_images / infer_ips
        return self.epochs(run) * (epoch + self.args.epoch_overhead_s) + 20.0

    def epochs(self, run: PaperRun) -> int:
        """The run's epochs; in the dry run every run is one epoch."""
        return self.args.epochs if self.args.dry_run else run.epochs

    def launch(self, run: PaperRun) -> subprocess.Popen:
        a = self.args
        command = [sys.executable, "-m", "course_lib", "train", "--model", "alexnet"]
        profile = a.profile if a.dry_run else run.profile  # the dry run trains at smoke size
        command += ["--profile", profile, "--attention", run.attention, "--seed", str(run.seed)]
        command += ["--epochs", str(self.epochs(run)), "--image-size", str(run.image_size)]
        command += ["--lr", str(run.lr), "--data", str(a.data), "--device", str(self.device)]
        command += ["--write-result", run.chapter, *a.train_args]
        command += ["--compile"] if a.compile_runs else []
        (self.work / "logs").mkdir(exist_ok=True)
        log = (self.work / "logs" / f"{run.name}.log").open("w")
        self.log(f"start {run.name}: {' '.join(command[1:])}")
        env = {**os.environ, "OMP_NUM_THREADS": str(self.threads)}
        return subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)

    def finished(self, run: PaperRun, code: int, seconds: float) -> None:
        rows = list(
            (self.work / "results").rglob(
                f"alexnet-{run.attention}-s{run.seed}__{run.image_size}px-{self.epochs(run)}ep-*.json"
            )
        )
        if code == 0 and rows:
            row = json.loads(rows[0].read_text())
            self.note(
                f"- {run.name}: test accuracy {row['accuracy']:.4f} (best epoch "
                f"{row['best_epoch']}: {row['best_val_accuracy']:.4f}), "
                f"{row['train_images_per_s']:.0f} train img/s, {seconds:.0f} s"
            )
        else:
            tail = (self.work / "logs" / f"{run.name}.log").read_text()[-1500:]
            self.note(f"- {run.name}: FAILED or stopped (exit {code}) after {seconds:.0f} s")
            self.log(tail)

    def planned_runs(self) -> list[PaperRun]:
        """The fixed ``paper`` list, or with ``--next`` what ``--results`` does not hold yet."""
        a = self.args
        if not a.next:
            return paper_runs(a.seeds, a.large, a.small)
        planned = priority_runs(a.gpu_profile, a.seeds, a.large, a.small)
        missing = next_runs(planned, read_results(a.results))
        self.note(
            f"- --next: {len(planned) - len(missing)} of {len(planned)} runs of the priority "
            f"list already in {a.results}; {len(missing)} to go, in this order: "
            + ", ".join(r.name for r in missing)
        )
        return missing

    # --- the whole job ----------------------------------------------------------------------
    def run(self) -> int:
        a, reports, totals = self.args, {}, {}
        self.step("environment and data", 20, self.environment)
        if "tests" in a.steps:
            self.step("CUDA tests", 40, self.cuda_tests)
        if "bench" in a.steps:
            reports[a.large] = self.step(
                f"bench {a.large} px", 30, lambda: self.bench(a.large, ATTENTIONS)
            )
            small = GPU_CHAPTER_ATTENTIONS[1:] if a.next else ["simam"]
            reports[a.small] = self.step(
                f"bench {a.small} px", 15 * len(small), lambda: self.bench(a.small, small)
            )
            self.step(
                f"bench step modes {a.large} px", a.step_modes_s, lambda: self.step_modes(a.large)
            )
        if "profile" in a.steps:
            self.step(f"profiler tables at {a.large} px", 15, lambda: self.profiles(a.large))
        if "packing" in a.steps:
            totals = self.step("packing", 40, lambda: self.packing(a.large)) or {}
        speeds = {
            (r["attention"], size): (r["train_images_per_s"], r["inference_images_per_s"])
            for size, report in reports.items()
            if report
            for r in report["models"]
        }
        runs = a.runs or self.planned_runs()
        if "train" in a.steps:
            self.step("runs", 60, lambda: self.train(runs, speeds, totals))
        if "compile-bench" in a.steps:
            self.step(
                f"bench {a.large} px, compiled",
                180,
                lambda: self.bench(a.large, ["triplet"], compile=True, rounds=1),
            )
        self.note(f"\njob finished after {time.monotonic() - self.started:.0f} s")
        self.pack()
        print("\n".join(self.summary))
        return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--out",
        default=os.environ.get("OUT", str(REPO / ".device" / "out")),
        help="where job.log, summary.md and gpu-job.tar.gz go (default: $OUT)",
    )
    p.add_argument("--work", default=None, help="results and runs (default: .device/work)")
    p.add_argument("--budget", type=float, default=540.0, help="wall-clock seconds in all")
    p.add_argument("--data", default=None, help="the CIFAR-10 archive (default: searched)")
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="every step on the CPU at smoke size, to check the job before a lease",
    )
    p.add_argument("--steps", default=",".join(STEPS), help=f"some of: {','.join(STEPS)}")
    p.add_argument(
        "--runs",
        default=None,
        help="only these paper runs, e.g. triplet:224:42,none:224:44 (attention:px:seed)",
    )
    p.add_argument(
        "--parallel",
        type=int,
        default=None,
        help="runs at a time (default: the best of the packing step)",
    )
    p.add_argument("--compile-runs", action="store_true", help="train with torch.compile")
    p.add_argument(
        "--next",
        action="store_true",
        help="train the runs of the priority list that --results does not hold yet",
    )
    p.add_argument(
        "--results",
        default=str(REPO / "results"),
        help="the committed results --next reads (default: this checkout's results/)",
    )
    args = p.parse_args(argv)
    args.work = args.work or str(
        Path(args.out) / "work" if args.dry_run else REPO / ".device" / "work"
    )
    args.data = Path(args.data or find_archive()).resolve()
    args.batch_size, args.seeds, args.processes = 128, [42, 43, 44], [1, 2, 4]
    args.device, args.large, args.small, args.profile = "cuda", 224, 128, "paper"
    args.epochs, args.bench_iters, args.bench_rounds, args.packing_iters = 50, 20, 3, 30
    args.pytest_args, args.train_args = [], []
    args.epoch_overhead_s = 1.0  # per-epoch checkpoint (175 MB at 224 px) and bookkeeping
    args.gpu_profile = get_profile("gpu")
    args.step_mode_attentions, args.step_modes_s = STEP_MODE_ATTENTIONS, 150.0
    if args.dry_run:  # the same code paths, at a size a 2-core CPU finishes in about a minute
        args.device, args.large, args.small, args.profile = "cpu", 72, 64, "smoke"
        args.batch_size, args.seeds, args.processes = 16, [42], [1, 2]
        args.epochs, args.bench_iters, args.bench_rounds, args.packing_iters = 1, 1, 1, 2
        # float16 on a CPU is emulated and slow: tests/test_precision.py covers it there
        args.pytest_args = ["-k", "(simam or batches or checkpoint) and not fp16"]
        # the gpu profile's runs at the dry run's small size and one epoch
        args.gpu_profile = get_profile("gpu", image_size=args.small, seeds=[42])
        args.step_mode_attentions, args.step_modes_s = ["none"], 20.0
        args.train_args = [
            "--set",
            "train_subset=128",
            "--set",
            "test_subset=64",
            "--batch-size",
            "32",
        ]
        args.steps = args.steps.replace("compile-bench", "")
    unknown = set(filter(None, args.steps.split(","))) - set(STEPS)
    if unknown:
        p.error(f"unknown steps {sorted(unknown)}; valid: {STEPS}")
    args.steps = args.steps.split(",")
    args.runs = [parse_run(text) for text in args.runs.split(",")] if args.runs else None
    args.train_images, args.test_images = 50_000, 10_000
    if args.dry_run:
        args.train_images, args.test_images = 128, 64
    return args


def parse_run(text: str) -> PaperRun:
    """``attention:px:seed``, e.g. ``triplet:224:42``; the learning rate is the source
    notebooks' for px."""
    attention, size, seed = text.split(":")
    return PaperRun(attention, int(size), SOURCE_LR.get(int(size), 1e-3), int(seed))


def find_archive() -> Path:
    """The CIFAR-10 archive sent along (.device/data/) or the course's offline copy."""
    for candidate in (
        REPO / ".device" / "data" / "cifar10-jpeg.tar.gz",
        REPO.parent / "shared" / "data" / "cifar10-jpeg.tar.gz",
    ):
        if candidate.exists():
            return candidate
    raise SystemExit("no CIFAR-10 archive: copy cifar10-jpeg.tar.gz to .device/data/ (--data)")


if __name__ == "__main__":
    sys.exit(Job(parse_args()).run())
