"""Moved results, and a harness that runs a chapter's readings on them, claim by claim.

A chapter's check cells (:mod:`course_lib.claims`) state each qualitative word of its reading as
a claim over the committed numbers. A claim that no change of those numbers can make fail checks
nothing. ``tests/test_claims_can_fail.py`` runs every chapter's reading cells once on the
committed results, to see what they read, and then once per *mutation*: the same results with
some numbers moved. Every claim must fail under at least one of them.

The mutations, each a pure function on the rows or findings it changes:

- :func:`swap` — a compared variant's results traded with its baseline's, seed by seed;
- :func:`shift_difference` — a paired difference set to 0 or its sign flipped, by shifting the
  variant's values (the spread of the differences stays);
- :func:`scale_spread` — the spread of the paired differences scaled until the paired t-test's
  p lands on the other side of 0.05 (the mean difference stays);
- :func:`flatten` — a learning curve made flat at its last value;
- :func:`scale_seed_spread` — the seed-to-seed spread of every measured number scaled;
- :func:`shift_levels` — every accuracy moved by the same number of points;
- :func:`drop_seeds` — the rows of all but the first seeds missing;
- :func:`perturb` — every number of one measured field (gates, scales, timings, a findings
  entry) scaled, shifted or negated; for findings' tests, :func:`shift_difference_record` and
  :func:`scale_spread_record` as for rows.

The harness (:func:`run`, :func:`mutations_for`, :func:`report`) intercepts what a reading
reads: ``reference.committed`` (the quick rows), ``results.read_results`` (``results/paper``)
and ``findings.read_findings``; mutations apply to the rows returned there, wherever they are
stored. Claims are recorded one by one (a recording :class:`~course_lib.claims.Claims`), so one
failed claim does not hide the others of its block.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import functools
import io
import math
import statistics
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import torch

import course_lib.data as data_module
from course_lib import claims, models
from course_lib.data import ImageDataset
from course_lib.experiments import findings as findings_module
from course_lib.experiments import gate_baselines, interventions, measure, reference, results, stats
from course_lib.models import registry

from .test_readings import reading_cells

# --- the mutations ---------------------------------------------------------------------------

# a run's results, as opposed to its setting and provenance: what :func:`swap` trades
RESULT_KEYS = (
    "accuracy",
    "val_accuracy_per_epoch",
    "train_accuracy_per_epoch",
    "val_loss_per_epoch",
    "train_loss_per_epoch",
    "best_val_accuracy",
    "final_val_accuracy",
    "best_epoch",
    "best_accuracy",
)
ACCURACY_KEYS = frozenset(k for k in RESULT_KEYS if "accuracy" in k)
# what the comparisons' own mutations move; the generic perturbations leave them
COMPARED_KEYS = frozenset({"accuracy", "val_accuracy_per_epoch"})
# numbers that say how a run was set up, not what it found: never perturbed
SETTING_KEYS = frozenset(
    {"seed", "epochs", "schedule_epochs", "image_size", "train_images", "batch_size", "lr",
     "threads", "world_size", "test_images", "val_images", "augment", "dirty", "compiled"}
)  # fmt: skip

Rows = dict[str, dict[object, dict]]  # run name -> seed (or other key) -> row


def quantity(row: dict, epoch: int | None) -> float:
    """What ``Reference.differences`` compares: test accuracy, or validation accuracy after
    ``epoch`` (1-based)."""
    return row["accuracy"] if epoch is None else row["val_accuracy_per_epoch"][epoch - 1]


def set_quantity(row: dict, epoch: int | None, value: float) -> None:
    if epoch is None:
        row["accuracy"] = value
    else:
        row["val_accuracy_per_epoch"][epoch - 1] = value


def _paired(rows: Rows, variant: str, baseline: str) -> list[object]:
    return sorted(set(rows.get(variant, {})) & set(rows.get(baseline, {})))


def swap(rows: Rows, variant: str, baseline: str) -> None:
    """Trade the results (:data:`RESULT_KEYS`) of ``variant`` and ``baseline`` seed by seed."""
    for key in _paired(rows, variant, baseline):
        a, b = rows[variant][key], rows[baseline][key]
        for k in RESULT_KEYS:
            if k in a and k in b:
                a[k], b[k] = b[k], a[k]


def shift_difference(
    rows: Rows, variant: str, baseline: str, epoch: int | None, factor: float
) -> None:
    """Shift ``variant``'s values by one constant so that the mean paired difference becomes
    ``factor`` times what it was (0: no difference, -1: its sign flipped); the spread of the
    differences does not change."""
    keys = _paired(rows, variant, baseline)
    if not keys:
        return
    diffs = [quantity(rows[variant][k], epoch) - quantity(rows[baseline][k], epoch) for k in keys]
    shift = (factor - 1) * statistics.fmean(diffs)
    for k in keys:
        row = rows[variant][k]
        set_quantity(row, epoch, quantity(row, epoch) + shift)


def spread_factor(mean: float, sd: float, n: int, target_p: float) -> float | None:
    """The factor by which the deviations of ``n`` paired differences (mean ``mean``, standard
    deviation ``sd``) must be scaled for the two-sided paired t-test to give ``target_p``; None
    where no factor can (no spread, or no difference to test)."""
    from scipy import stats as sps

    if n < 2 or not sd > 0 or mean == 0 or not math.isfinite(mean):
        return None
    t = abs(mean) / (sd / math.sqrt(n))
    return t / float(sps.t.isf(target_p / 2, n - 1))


def scale_spread(
    rows: Rows, variant: str, baseline: str, epoch: int | None, target_p: float
) -> None:
    """Scale the spread of the paired differences around their mean so that the paired t-test
    gives ``target_p`` (the mean difference stays): 0.2 moves a significant difference out of
    significance, 1e-4 a difference within noise into it."""
    keys = _paired(rows, variant, baseline)
    diffs = [quantity(rows[variant][k], epoch) - quantity(rows[baseline][k], epoch) for k in keys]
    if len(diffs) < 2:
        return
    mean, sd = statistics.fmean(diffs), statistics.stdev(diffs)
    k = spread_factor(mean, sd, len(diffs), target_p)
    if k is None:
        return
    for key, d in zip(keys, diffs):
        base = quantity(rows[baseline][key], epoch)
        set_quantity(rows[variant][key], epoch, base + mean + k * (d - mean))


def flatten(rows: Rows, name: str, split: str = "val") -> None:
    """Make ``name``'s learning curve flat: every epoch at the value of its last."""
    for row in rows.get(name, {}).values():
        curve = row.get(f"{split}_accuracy_per_epoch")
        if curve:
            row[f"{split}_accuracy_per_epoch"] = [curve[-1]] * len(curve)


def _spread(values: list, factor: float) -> list:
    """Parallel values (one per seed) with their numbers moved ``factor`` times as far from
    their mean over the seeds; parts that are not alike in every seed stay."""
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        finite = [v for v in values if math.isfinite(v)]
        if len(finite) < 2:
            return values
        mean = statistics.fmean(finite)
        return [mean + factor * (v - mean) if math.isfinite(v) else v for v in values]
    if all(isinstance(v, dict) for v in values):
        keys = set(values[0]).intersection(*values[1:])
        moved = {k: _spread([v[k] for v in values], factor) for k in keys}
        return [{k: moved[k][i] if k in moved else x for k, x in v.items()}
                for i, v in enumerate(values)]  # fmt: skip
    if all(isinstance(v, list) for v in values) and len({len(v) for v in values}) == 1:
        columns = [_spread(list(column), factor) for column in zip(*values)]
        return [[column[i] for column in columns] for i in range(len(values))]
    return values


def scale_seed_spread(rows: Rows, factor: float) -> None:
    """Move every measured number of every network ``factor`` times as far from its mean over
    the seeds (test accuracies, curves, gates, timings alike; the means stay)."""
    for by_key in rows.values():
        group = list(by_key.values())
        if len(group) < 2:
            continue
        for key in set(group[0]).intersection(*group[1:]) - SETTING_KEYS:
            if has_numbers(group[0][key]):
                for row, value in zip(group, _spread([row[key] for row in group], factor)):
                    row[key] = value


def shift_levels(rows: Rows, points: float) -> None:
    """Add ``points`` to every accuracy of every network (test, validation, training, best
    epoch): every difference stays, every level moves."""
    for by_key in rows.values():
        for row in by_key.values():
            for key in ACCURACY_KEYS & set(row):
                row[key] = perturb(row[key], lambda x: x + points)


def drop_seeds(rows: Rows, keep: int) -> None:
    """Remove the rows of every network except those of its ``keep`` smallest seeds."""
    for name, by_key in rows.items():
        seeds = sorted({row["seed"] for row in by_key.values()})[:keep]
        rows[name] = {k: row for k, row in by_key.items() if row["seed"] in seeds}


PERTURBATIONS: dict[str, Callable[[float], float]] = {
    "×0.1": lambda x: x * 0.1,
    "×0.8": lambda x: x * 0.8,
    "×1.25": lambda x: x * 1.25,
    "×10": lambda x: x * 10,
    "negated": lambda x: -x,
    "+1": lambda x: x + 1,
    "−1": lambda x: x - 1,
}


def perturb(value, how: Callable[[float], float]):
    """``value`` with every number in it (nested in dicts and lists) replaced by ``how(x)``;
    strings, booleans and NaN stay."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return value if isinstance(value, float) and math.isnan(value) else how(value)
    if isinstance(value, dict):
        return {k: perturb(v, how) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(perturb(v, how) for v in value)
    return value


def has_numbers(value) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return True
    if isinstance(value, dict):
        return any(has_numbers(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(has_numbers(v) for v in value)
    return False


def is_difference(value) -> bool:
    """A :class:`course_lib.experiments.stats.Difference` written as a dict (chapter 08)."""
    return isinstance(value, dict) and {"diff", "low", "high", "p", "n_pairs"} <= set(value)


def shift_difference_record(d: dict, factor: float) -> None:
    """A stored difference moved to ``factor`` times its mean (interval shifted with it); with
    factor 0 its test finds nothing (p = 1)."""
    shift = (factor - 1) * d["diff"]
    d["diff"] += shift
    d["low"], d["high"] = d["low"] + shift, d["high"] + shift
    if factor == 0:
        d["p"] = d["p_holm"] = 1.0


def scale_spread_record(d: dict, target_p: float) -> None:
    """A stored paired difference whose spread is scaled until its test gives ``target_p``:
    the interval's half-width and sd scale with it, the Holm-corrected p by the same ratio."""
    from scipy import stats as sps

    n = d["n_pairs"]
    half = (d["high"] - d["low"]) / 2
    if n < 2 or not half > 0:
        return
    se = half / float(sps.t.ppf(0.975, n - 1))
    k = spread_factor(d["diff"], se * math.sqrt(n), n, target_p)
    if k is None:
        return
    centre = (d["high"] + d["low"]) / 2
    d["low"], d["high"] = centre - k * half, centre + k * half
    d["sd"] = d.get("sd", math.nan) * k
    p = float(2 * sps.t.sf(abs(d["diff"]) / (se * k), n - 1))
    holm = d.get("p_holm", math.nan)
    d["p_holm"] = min(1.0, holm * p / d["p"]) if d["p"] > 0 and math.isfinite(holm) else p
    d["p"] = p


# --- the harness -----------------------------------------------------------------------------


def setting_of(profile) -> str:
    """One training setting of the rows a reading reads (its seeds aside)."""
    schedule = profile.schedule_epochs or profile.epochs
    return (
        f"{profile.name} {profile.image_size}px {profile.epochs}/{schedule}ep "
        f"{profile.train_subset}img lr {profile.lr:g} batch {profile.batch_size}"
    )


@dataclass(frozen=True)
class Mutation:
    """Results with some numbers moved: ``rows`` changes the rows of one setting (``where``: a
    :func:`setting_of` for the rows ``committed`` reads, ``results/<folder>`` for rows read with
    ``read_results``), ``findings`` a chapter's findings. Each applies to the rows of every
    read of its setting, with its numbers computed from those rows."""

    label: str
    where: str = ""
    rows: Callable[[Rows], None] | None = None
    findings: Callable[[dict], None] | None = None
    dataset: Callable[[ImageDataset], ImageDataset] | None = None  # a reading that reads images


@dataclass
class Observation:
    """What one run of a chapter's readings read and claimed."""

    claims: dict[tuple[str, str], bool] = field(default_factory=dict)  # (reading, claim) -> held
    errors: list[str] = field(default_factory=list)
    compared: set[tuple[str, str, str, int | None]] = field(default_factory=set)
    curves: set[tuple[str, str, str]] = field(default_factory=set)  # (where, name, split)
    fields: set[tuple[str, str, str]] = field(default_factory=set)  # (where, name, key): numbers
    seeds: dict[str, int] = field(default_factory=dict)  # where -> most seeds of one network
    findings: dict | None = None
    read_images: bool = False  # the readings loaded CIFAR-10 itself (chapter 00)


class _Tracked(dict):
    """A results row that notes which of its keys a reading reads."""

    def __init__(self, row: dict, note: Callable[[str, object], None]):
        super().__init__(row)
        self._note = note

    def __getitem__(self, key):
        value = super().__getitem__(key)
        self._note(key, value)
        return value

    def get(self, key, default=None):
        value = super().get(key, default)
        self._note(key, value)
        return value


class _Reference(reference.Reference):
    """A Reference that notes which pairs, epochs and curves a reading asks for."""

    def __init__(self, profile, rows, names: dict[str, str], seen: Observation | None):
        super().__init__(profile, rows)
        self._names, self._seen, self._where = names, seen, setting_of(profile)

    def differences(self, pairs, epoch=None, family=False):
        if self._seen is not None:
            for variant, baseline in pairs:
                names = (self._names[variant], self._names[baseline])
                self._seen.compared.add((self._where, *names, epoch))
        return super().differences(pairs, epoch, family)

    def curve(self, label, split="val"):
        if self._seen is not None:
            self._seen.curves.add((self._where, self._names[label], split))
        return super().curve(label, split)


class _Recording(claims.Claims):
    """Claims that record each claim and whether it held, and never raise."""

    def __init__(self, reading: str, seen: Observation):
        super().__init__(reading)
        self._seen = seen

    def that(self, holds, claim, found=""):
        key, n = (self.reading, claim), 2
        while key in self._seen.claims:  # the same words twice in one block: number them
            key, n = (self.reading, f"{claim} (#{n})"), n + 1
        self._seen.claims[key] = bool(holds)
        super().that(holds, claim, found)


@contextlib.contextmanager
def _recording_guard(seen: Observation, reading: str) -> Iterator[claims.Claims]:
    yield _Recording(reading, seen)


def _group(rows: list[dict]) -> Rows:
    """Rows read from a folder, by network, image size and learning rate (one setting each),
    then file."""
    grouped: Rows = {}
    for row in rows:
        name = f"{row['name']} ({row.get('image_size')} px, lr {row.get('lr')})"
        grouped.setdefault(name, {})[row.get("file", row["seed"])] = row
    return grouped


@contextlib.contextmanager
def _intercepted(results_dir: Path, mutation: Mutation | None, seen: Observation):
    """Patch what readings read, so that ``mutation`` applies to it; without a mutation,
    ``seen`` records what was read."""
    observing = mutation is None
    original_committed = reference.committed
    original_read_findings = findings_module.read_findings

    def moved(where: str, rows: Rows) -> Rows:
        if mutation is not None and mutation.where == where and mutation.rows:
            rows = copy.deepcopy(rows)
            mutation.rows(rows)
        if not observing:
            return rows
        seen.seeds[where] = max([seen.seeds.get(where, 0), *map(len, rows.values())])

        def note(name, key, value):
            if has_numbers(value):
                seen.fields.add((where, name, key))

        return {
            name: {k: _Tracked(row, functools.partial(note, name)) for k, row in by_key.items()}
            for name, by_key in rows.items()
        }

    def committed(profile, networks, *args, **kwargs):
        ref = original_committed(profile, networks, *args, **kwargs)
        where = setting_of(ref.profile)
        rows = moved(where, {networks[label]: by_seed for label, by_seed in ref.rows.items()})
        by_label = {label: rows[name] for label, name in networks.items()}
        return _Reference(ref.profile, by_label, dict(networks), seen if observing else None)

    def read_results(folder=None, **options):
        found = _cached_read_results(folder, **options)
        if folder is None:
            return found
        path = Path(folder).resolve()
        root = results_dir.resolve()
        where = f"results/{path.relative_to(root) if path.is_relative_to(root) else path.name}"
        runs = [row for row in found if "name" in row and "seed" in row]
        rows = moved(where, _group(runs))
        others = [row for row in found if "name" not in row or "seed" not in row]
        return others + [row for by_seed in rows.values() for row in by_seed.values()]

    def read_list(original, where: str, label: Callable[[dict], str]):
        """A reader of a results file that holds a list of rows keyed by seed (interventions,
        gate readings): its rows, grouped by ``label``, are moved and tracked like run rows."""

        def read(path, *args, **kwargs):
            found = original(path, *args, **kwargs)
            grouped: Rows = {}
            for row in found:
                grouped.setdefault(label(row), {})[row["seed"]] = row
            rows = moved(where, grouped)
            return [row for by_seed in rows.values() for row in by_seed.values()]

        return read

    def read_findings(chapter, profile, *args, **kwargs):
        record = copy.deepcopy(original_read_findings(chapter, profile, *args, **kwargs))
        if observing:
            seen.findings = copy.deepcopy(record["findings"])
        if mutation is not None and mutation.findings:
            mutation.findings(record["findings"])
        return record

    def load_cifar10(*args, **kwargs) -> ImageDataset:
        seen.read_images = True
        found = _cached_cifar10()
        if mutation is not None and mutation.dataset:
            return mutation.dataset(found)
        return found

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(data_module, "load_cifar10", load_cifar10)
        mp.setenv("COURSE_RESULTS_DIR", str(results_dir))
        mp.setattr(reference, "committed", committed)
        mp.setattr(reference, "read_results", _cached_read_results)
        mp.setattr(results, "read_results", read_results)
        mp.setattr(findings_module, "read_findings", read_findings)
        mp.setattr(
            interventions,
            "read_intervention_rows",
            read_list(
                _READ_INTERVENTIONS,
                "results/interventions",
                lambda r: f"{r['variant']} {r['intervention']}",
            ),
        )
        mp.setattr(
            gate_baselines,
            "read_gate_rows",
            read_list(
                _READ_GATES, "results/gates", lambda r: f"{r['variant']} {r['state']}/{r['bn']}"
            ),
        )
        mp.setattr(claims, "guard", functools.partial(_recording_guard, seen))
        mp.setattr(stats, "detectable_difference", _cached_detectable)
        mp.setattr(stats, "power", _cached_power)
        mp.setattr(models, "build_model", _cached_build)
        mp.setattr(measure, "count_flops", _flops)
        yield


# --- caches: readings are pure Python over rows; what is slow and never moves is kept ---------

_READ_RESULTS = results.read_results  # the real functions, before any patch
_READ_INTERVENTIONS = interventions.read_intervention_rows
_READ_GATES = gate_baselines.read_gate_rows
_BUILD_MODEL = registry.build_model
_COUNT_FLOPS = measure.count_flops
_DETECTABLE = stats.detectable_difference
_LOAD_CIFAR10 = data_module.load_cifar10


@functools.cache
def _cached_cifar10() -> ImageDataset:
    return _LOAD_CIFAR10()


@functools.cache
def _read_folder(folder: str, options: tuple) -> tuple[dict, ...]:
    return tuple(_READ_RESULTS(folder or None, **dict(options)))


def _cached_read_results(folder=None, **options) -> list[dict]:
    """The rows of a folder, read from disk once per session (copies: callers may add keys)."""
    rows = _read_folder(str(folder) if folder else "", tuple(sorted(options.items())))
    return [dict(row) for row in rows]


_cached_power = functools.cache(stats.power)


@functools.cache
def _unit_detectable(n_pairs: int, alpha: float, target: float) -> float:
    return _DETECTABLE(1.0, n_pairs, alpha, target)


def _cached_detectable(
    sd: float, n_pairs: int, alpha: float = 0.05, target: float = stats.POWER
) -> float:
    """``stats.detectable_difference`` from a cache: the power depends on a difference only
    through difference / sd, so the detectable difference is sd times that at sd = 1 (equal up
    to the solver's tolerance, 1e-10). Readings that search how many pairs a design would need
    call it for hundreds of pair counts, and a mutation that spreads the pairs makes the search
    long."""
    if n_pairs < 2 or not sd > 0:
        return math.nan
    return sd * _unit_detectable(n_pairs, alpha, target)


@functools.cache
def _built(name: str, kwargs: tuple):
    return _BUILD_MODEL(name, **dict(kwargs))


def _cached_build(name: str, **kwargs):
    """Chapters 05 and 06 build full-size networks on the meta device to count parameters and
    multiply-adds: the same networks in every run, built once."""
    return _built(name, tuple(sorted(kwargs.items())))


@functools.cache
def _flops(model, *args):
    return _COUNT_FLOPS(model, *args)


# --- running a chapter -----------------------------------------------------------------------


@functools.cache
def _compiled(source: Path) -> tuple:
    return tuple(
        compile(code, f"{source.name} (reading cell)", "exec") for code in reading_cells(source)
    )


def run(source: Path, results_dir: Path, mutation: Mutation | None = None) -> Observation:
    """Run ``source``'s reading and check cells in order on the results in ``results_dir``,
    moved by ``mutation``; a cell that raises is noted and the next one runs."""
    seen = Observation()
    namespace: dict = {"__name__": "reading"}
    with (
        _intercepted(results_dir, mutation, seen),
        contextlib.redirect_stdout(io.StringIO()),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore")
        for code in _compiled(source):
            try:
                exec(code, namespace)
            except Exception as err:  # a moved result may break a reading: the next cell runs
                seen.errors.append(f"{type(err).__name__}: {err}")
    return seen


def _comparison_mutations(where: str, v: str, b: str, epochs: set) -> list[Mutation]:
    at = f"{v} against {b} ({where})"

    def each(do):  # every compared quantity of the pair: test accuracy and epochs
        return lambda rows: [do(rows, e) for e in sorted(epochs, key=str)]

    return [
        Mutation(f"swapped: {at}", where, lambda rows: swap(rows, v, b)),
        Mutation(f"difference 0: {at}", where,
                 each(lambda rows, e: shift_difference(rows, v, b, e, 0.0))),
        Mutation(f"difference negated: {at}", where,
                 each(lambda rows, e: shift_difference(rows, v, b, e, -1.0))),
        Mutation(f"difference doubled: {at}", where,
                 each(lambda rows, e: shift_difference(rows, v, b, e, 2.0))),
        Mutation(f"p raised to 0.2: {at}", where,
                 each(lambda rows, e: scale_spread(rows, v, b, e, 0.2))),
        Mutation(f"p lowered to 1e-4: {at}", where,
                 each(lambda rows, e: scale_spread(rows, v, b, e, 1e-4))),
    ]  # fmt: skip


def _setting_mutations(where: str, seeds: int) -> list[Mutation]:
    found = [
        Mutation(f"seed spread ×0.1 ({where})", where, lambda rows: scale_seed_spread(rows, 0.1)),
        Mutation(f"seed spread ×5 ({where})", where, lambda rows: scale_seed_spread(rows, 5.0)),
        Mutation(f"accuracies −0.2 ({where})", where, lambda rows: shift_levels(rows, -0.2)),
        Mutation(f"accuracies +0.2 ({where})", where, lambda rows: shift_levels(rows, 0.2)),
    ]
    for keep in (1, 3):
        if seeds > keep:
            found.append(
                Mutation(f"only {keep} seed(s) ({where})", where,
                         lambda rows, k=keep: drop_seeds(rows, k))
            )  # fmt: skip
    return found


def _field_mutations(where: str, name: str, key: str) -> list[Mutation]:
    def perturbed(how):
        def apply(rows: Rows) -> None:
            for row in rows.get(name, {}).values():
                if key in row:
                    row[key] = perturb(row[key], how)

        return apply

    return [
        Mutation(f"{key} {label}: {name} ({where})", where, perturbed(how))
        for label, how in PERTURBATIONS.items()
    ]


def _difference_paths(value, path=()) -> Iterator[tuple[str, ...]]:
    if is_difference(value):
        yield path
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _difference_paths(v, (*path, k))


def _at(tree: dict, path: tuple[str, ...]) -> dict:
    for k in path:
        tree = tree[k]
    return tree


def _findings_mutations(findings: dict) -> list[Mutation]:
    found = []
    for path in _difference_paths(findings):
        at = "/".join(path)
        found += [
            Mutation(f"findings {at}: difference 0",
                     findings=lambda F, p=path: shift_difference_record(_at(F, p), 0.0)),
            Mutation(f"findings {at}: difference negated",
                     findings=lambda F, p=path: shift_difference_record(_at(F, p), -1.0)),
            Mutation(f"findings {at}: difference doubled",
                     findings=lambda F, p=path: shift_difference_record(_at(F, p), 2.0)),
            Mutation(f"findings {at}: p raised to 0.2",
                     findings=lambda F, p=path: scale_spread_record(_at(F, p), 0.2)),
            Mutation(f"findings {at}: p lowered to 1e-4",
                     findings=lambda F, p=path: scale_spread_record(_at(F, p), 1e-4)),
        ]  # fmt: skip
    for key, value in findings.items():
        if has_numbers(value):
            found += [
                Mutation(f"findings {key} {label}",
                         findings=lambda F, k=key, how=how: F.__setitem__(k, perturb(F[k], how)))
                for label, how in PERTURBATIONS.items()
            ]  # fmt: skip
    return found


def mutations_for(seen: Observation) -> list[Mutation]:
    """Every mutation of the results that ``seen`` read: for each compared pair its comparison
    mutations, for each curve read its flattening, for each setting the seed and level
    mutations, for each measured field read (except what the comparisons move) its
    perturbations, and for findings their tests' and numbers' mutations."""
    found: list[Mutation] = []
    pairs: dict[tuple[str, str, str], set[int | None]] = {}
    for where, variant, baseline, epoch in seen.compared:
        pairs.setdefault((where, variant, baseline), set()).add(epoch)
    for (where, v, b), epochs in sorted(pairs.items(), key=str):
        found += _comparison_mutations(where, v, b, epochs)
    for where, name, split in sorted(seen.curves):
        found.append(
            Mutation(f"flat {split} curve: {name} ({where})", where,
                     lambda rows, n=name, s=split: flatten(rows, n, s))
        )  # fmt: skip
    for where, seeds in sorted(seen.seeds.items()):
        found += _setting_mutations(where, seeds)
    compared = {(where, name) for where, v, b in pairs for name in (v, b)}
    for where, name, key in sorted(seen.fields):
        if key in SETTING_KEYS or (key in COMPARED_KEYS and (where, name) in compared):
            continue
        found += _field_mutations(where, name, key)
    if seen.findings is not None:
        found += _findings_mutations(seen.findings)
    if seen.read_images:
        found += DATASET_MUTATIONS
    return found


def _images_changed(
    data: ImageDataset, change: Callable[[torch.Tensor], torch.Tensor]
) -> ImageDataset:
    images = {k: change(getattr(data, k)) for k in ("train_images", "test_images")}
    return dataclasses.replace(data, **images, mean=None, std=None)  # statistics recomputed


def _shifted_to_imagenet(data: ImageDataset, channels: tuple[int, ...] = (0, 1, 2)) -> ImageDataset:
    imagenet_mean = torch.tensor((0.485, 0.456, 0.406))
    shift = ((imagenet_mean - torch.tensor(data.mean)) * 255).round()
    shift[[c for c in range(3) if c not in channels]] = 0
    shift = shift.view(1, 3, 1, 1)
    return _images_changed(data, lambda x: (x.float() + shift).clamp(0, 255).to(torch.uint8))


def _one_class_doubled(data: ImageDataset) -> ImageDataset:
    labels = data.train_labels.clone()
    labels[labels == 1] = 0
    return dataclasses.replace(data, train_labels=labels)


# for readings of the images themselves (chapter 00): the copy of CIFAR-10 moved
DATASET_MUTATIONS = [
    Mutation("images: colour channels reversed (RGB -> BGR)",
             dataset=lambda d: _images_changed(d, lambda x: x.flip(1))),
    Mutation("images: inverted (255 - x)", dataset=lambda d: _images_changed(d, lambda x: 255 - x)),
    Mutation("images: each channel shifted to ImageNet's mean", dataset=_shifted_to_imagenet),
    Mutation("images: blue shifted to ImageNet's blue mean",
             dataset=lambda d: _shifted_to_imagenet(d, channels=(2,))),
    Mutation("labels: class 1 relabelled as class 0", dataset=_one_class_doubled),
]  # fmt: skip


@dataclass
class Report:
    """A chapter's claims that hold on the committed results, and the mutations that made each
    of them fail."""

    blocks: list[str]
    killed_by: dict[tuple[str, str], list[str]]
    mutations: int
    errors: list[str]

    @property
    def claims(self) -> list[tuple[str, str]]:
        return list(self.killed_by)

    @property
    def survivors(self) -> set[tuple[str, str]]:
        return {claim for claim, killers in self.killed_by.items() if not killers}


def report(source: Path, results_dir: Path) -> Report:
    """Run ``source``'s readings on the committed results in ``results_dir``, then once under
    every mutation of what they read."""
    base = run(source, results_dir)
    errors = list(base.errors)
    errors += [f"{claim} does not hold" for claim, held in base.claims.items() if not held]
    killed_by: dict[tuple[str, str], list[str]] = {c: [] for c, held in base.claims.items() if held}
    mutations = mutations_for(base)
    for mutation in mutations:
        claimed = run(source, results_dir, mutation).claims
        for claim, killers in killed_by.items():
            if claimed.get(claim) is False:
                killers.append(mutation.label)
    blocks = list(dict.fromkeys(reading for reading, _ in base.claims))
    return Report(blocks, killed_by, len(mutations), errors)
