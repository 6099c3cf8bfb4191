"""``python -m course_lib sweep``: models x attention modules x seeds, then statistics.

    python -m course_lib sweep --attention none triplet simam --seeds 42 43 44 --profile quick
    python -m course_lib sweep --config sweeps/attention.toml --gpus 0 1 2 3

Every model, attention module, seed and setting is checked before any data is loaded
(:meth:`SweepSpec.check`). Finished runs are loaded (``train_or_load``), the rest are trained: in
this process, or with ``--gpus`` one ``python -m course_lib train`` subprocess per GPU at a time.
Each finished run writes its results row (chapter ``sweep``); the sweep then aggregates per
variant — mean, standard deviation, 95 % confidence interval, runs, failed and missing seeds —
and prints each variant against the baseline, seed-paired, with what the design can detect.

The aggregate goes to ``results/sweep/<profile>-<models>-<attentions>-<hash>.json``, named by the
sweep's whole configuration (the profile with its overrides, models, attention modules, seeds),
written atomically and only when at least one run finished: a sweep with other settings, or one
in which every run failed, never replaces another's file.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from queue import Queue

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from ..runtime.atomic import atomic_write_json
from ..runtime.paths import results_dir
from .stats import compare_to_baseline, summarize


@dataclass
class SweepSpec:
    models: list[str] = field(default_factory=lambda: ["alexnet"])
    attentions: list[str] = field(default_factory=lambda: ["none"])
    seeds: list[int] = field(default_factory=lambda: [42, 43, 44])
    profile: str | None = None
    overrides: dict = field(default_factory=dict)  # profile / TrainConfig fields

    @classmethod
    def from_toml(cls, path: str | Path) -> SweepSpec:
        """``models``, ``attentions``, ``seeds``, ``profile`` and an ``[overrides]`` table."""
        spec = tomllib.loads(Path(path).read_text())
        unknown = set(spec) - {"models", "attentions", "seeds", "profile", "overrides"}
        if unknown:
            raise ValueError(f"unknown keys in {path}: {sorted(unknown)}")
        return cls(**spec)

    def jobs(self) -> list[tuple[str, str, int]]:
        return list(itertools.product(self.models, self.attentions, self.seeds))

    def check(self):
        """The profile with the overrides applied; refuses (ValueError / KeyError, each one
        line that names what is valid) an unknown model, attention module, profile or setting,
        a model that cannot take one of the attention modules, and an empty or repeated list of
        seeds. Nothing is loaded or trained."""
        from ..models import check_models
        from ..profiles import get_profile

        profile = get_profile(self.profile).with_overrides(self.overrides)
        for label, values in (("models", self.models), ("attention modules", self.attentions)):
            if not values:
                raise ValueError(f"a sweep needs at least one of its {label}")
        if not self.seeds or not all(isinstance(s, int) for s in self.seeds):
            raise ValueError(f"seeds must be whole numbers such as 42 43 44, got {self.seeds!r}")
        if len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds repeat: {self.seeds}; each seed is one run")
        check_models(self.models, self.attentions, profile.image_size)
        return profile

    def output_path(self, profile=None) -> Path:
        """Where the aggregate of this configuration is written (see the module docstring);
        ``profile``: the one :meth:`check` returned, else it is checked here."""
        from ..train.config import config_hash

        profile = profile or self.check()
        setting = config_hash(profile.as_dict(), self.models, self.attentions, self.seeds)
        name = f"{profile.name}-{'+'.join(self.models)}-{'+'.join(self.attentions)}-{setting}"
        return results_dir() / "sweep" / f"{name}.json"


def aggregate(outcomes: list[dict], baseline: str = "alexnet-none") -> list[dict]:
    """Per variant: mean, std, ci95, n, seeds, the failed and missing seeds, and the seed-paired
    difference to ``baseline`` (Holm-corrected over the variants).

    ``outcomes`` holds one dict per job: ``variant``, ``seed``, ``status`` ("ok", "failed" or
    "missing") and, when ok, ``accuracy``.
    """
    variants: dict[str, list[dict]] = {}
    for o in outcomes:
        variants.setdefault(o["variant"], []).append(o)
    by_seed = {v: {o["seed"]: o["accuracy"] for o in items if o["status"] == "ok"}
               for v, items in variants.items()}  # fmt: skip
    differences = {}
    if by_seed.get(baseline):
        compared = {v: accs for v, accs in by_seed.items() if accs}
        differences = {d.name: d for d in compare_to_baseline(compared, baseline)}
    rows = []
    for name, items in variants.items():
        row = {"variant": name, **dataclasses.asdict(summarize(list(by_seed[name].values())))}
        row["seeds"] = sorted(by_seed[name])
        row["failed"] = sorted(o["seed"] for o in items if o["status"] == "failed")
        row["missing"] = sorted(o["seed"] for o in items if o["status"] == "missing")
        if name in differences:
            row["vs_baseline"] = differences[name].sentence()
            d = differences[name]
            row["difference"] = {**dataclasses.asdict(d), "detectable": d.detectable,
                                 "power": d.power}  # fmt: skip
        rows.append(row)
    return rows


def format_table(rows: list[dict]) -> str:
    lines = [f"{'variant':24s} {'n':>3s} {'mean':>7s} {'std':>7s} {'95% CI':>7s}  notes"]
    for r in rows:
        notes = []
        if r["failed"]:
            notes.append(f"failed seeds {r['failed']}")
        if r["missing"]:
            notes.append(f"missing seeds {r['missing']}")
        lines.append(
            f"{r['variant']:24s} {r['n']:3d} {r['mean']:7.4f} {r['std']:7.4f} {r['ci95']:7.4f}  "
            + "; ".join(notes)
        )
    lines += [r["vs_baseline"] for r in rows if r.get("vs_baseline")]
    return "\n".join(lines)


def _train_in_process(spec: SweepSpec, model: str, attention: str, seed: int) -> dict:
    from ..data import load_course_data
    from ..profiles import get_profile
    from ..train import TrainConfig, train_or_load
    from .results import write_result

    profile = get_profile(spec.profile).with_overrides({**spec.overrides, "seed": seed})
    config = TrainConfig.from_profile(profile)
    data = load_course_data(profile)
    run = train_or_load(model, data, config, attention, profile=profile.name)
    write_result(run.metrics, "sweep", overwrite=False)  # a chapter's row keeps its provenance
    return run.metrics


def _train_in_subprocess(spec: SweepSpec, model: str, attention: str, seed: int, gpu: str):
    command = [sys.executable, "-m", "course_lib", "train", "--model", model]
    command += ["--attention", attention, "--seed", str(seed), "--write-result", "sweep"]
    if spec.profile:
        command += ["--profile", spec.profile]
    for key, value in spec.overrides.items():
        command += ["--set", f"{key}={value}"]
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": gpu}
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(done.stderr.strip().splitlines()[-1] if done.stderr else "failed")
    start = done.stdout.index("{")
    return json.loads(done.stdout[start : done.stdout.rindex("}") + 1])


def run_sweep(spec: SweepSpec, gpus: list[str] | None = None, baseline: str = "alexnet-none"):
    """Run (or load) every job, then aggregate; returns the aggregated rows."""
    from ..train.experiment import run_name

    profile = spec.check()  # a bad name or setting stops it here, before any data is loaded
    profile_name, path = profile.name, spec.output_path(profile)
    jobs = spec.jobs()

    def run_job(job, gpu=None) -> dict:
        model, attention, seed = job
        outcome = {"variant": run_name(model, attention), "seed": seed}
        try:
            if gpu is None:
                metrics = _train_in_process(spec, model, attention, seed)
            else:
                metrics = _train_in_subprocess(spec, model, attention, seed, gpu)
            outcome.update(status="ok", accuracy=metrics["accuracy"])
        except Exception as err:  # a failed run is reported, the sweep goes on
            outcome.update(status="failed", error=f"{type(err).__name__}: {err}")
        print(f"[sweep] {outcome['variant']} seed {seed}: {outcome['status']}", flush=True)
        return outcome

    if gpus:
        free: Queue = Queue()
        for gpu in gpus:
            free.put(gpu)

        def on_a_free_gpu(job):
            gpu = free.get()
            try:
                return run_job(job, gpu)
            finally:
                free.put(gpu)

        with ThreadPoolExecutor(max_workers=len(gpus)) as pool:
            outcomes = list(pool.map(on_a_free_gpu, jobs))
    else:
        outcomes = [run_job(job) for job in jobs]

    rows = aggregate(outcomes, baseline)
    print(format_table(rows))
    if not any(o["status"] == "ok" for o in outcomes):
        print(f"no run finished: {path} is not written", flush=True)
        return rows
    report = {"profile": profile_name, "spec": spec.__dict__, "variants": rows, "runs": outcomes}
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(report, path)
    print(f"wrote {path}")
    return rows
