"""The committed result a chapter's reading is written for, read back from ``results/``.

A chapter's paragraph after a result is written by a person for one result: the ``quick``
profile's runs committed in ``results/quick/``. Whatever profile the notebook runs in (``smoke``
under nbval, ``gpu`` on Colab), the paragraph quotes those committed rows, says so, and its
check cell (:mod:`course_lib.claims`) tests its words against them. A re-run of the chapter at
the same setting rewrites the rows it reads, so a re-run that contradicts the paragraph fails
the check; a run at another setting leaves them alone.

    ref = committed("quick", {"AlexNet": "alexnet-none", "AlexNet-TA": "alexnet-triplet"})
    d = ref.differences([("AlexNet-TA", "AlexNet")])["AlexNet-TA − AlexNet"]
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from ..profiles import EXPERIMENTS, PROFILES, Profile, experiment_settings, get_profile
from .results import read_archive, read_results, recorded
from .stats import Difference, Summary, compare_pairs, summarize


class MissingReference(LookupError):
    """The committed rows a reading quotes are not in ``results/``."""


def _schedule(row: dict) -> int:
    return row.get("schedule_epochs") or row["epochs"]


def matches(row: dict, profile: Profile) -> bool:
    """Whether a results row was trained at ``profile``'s setting (image size, epochs and
    schedule, training images, batch, learning rate, augmentation)."""
    return (
        row.get("profile") == profile.name
        and row.get("image_size") == profile.image_size
        and row.get("epochs") == profile.epochs
        and _schedule(row) == (profile.schedule_epochs or profile.epochs)
        and (profile.train_subset is None or row.get("train_images") == profile.train_subset)
        and row.get("batch_size") == profile.batch_size
        and math.isclose(row.get("lr", math.nan), profile.lr)
        and recorded(row, "augment") == profile.augment
    )


def current_recipes(profile: str | Profile) -> list[Profile]:
    """The settings ``profile`` trains today: its own (chapters 01-04, AlexNet-PSA) and each
    experiment's that it trains (:data:`course_lib.profiles.EXPERIMENTS`, chapters 05-07)."""
    p = profile if isinstance(profile, Profile) else get_profile(profile)
    recipes = [p]
    for experiment in EXPERIMENTS:
        q = experiment_settings(p, experiment)
        if q is not None and q not in recipes:
            recipes.append(q)
    return recipes


def is_current(row: dict) -> bool:
    """Whether a results row was trained at a recipe its profile still trains
    (:func:`current_recipes`); a row of a superseded recipe (or of no known profile) is not."""
    name = row.get("profile")
    return name in PROFILES and any(matches(row, p) for p in current_recipes(PROFILES[name]))


@dataclass
class Reference:
    """The committed rows of several networks at one setting, keyed by label and seed."""

    profile: Profile
    rows: dict[str, dict[int, dict]]

    def accuracy(self, label: str) -> dict[int, float]:
        """Test accuracy after the last epoch, per seed."""
        return {seed: row["accuracy"] for seed, row in self.rows[label].items()}

    def summary(self, label: str) -> Summary:
        return summarize(list(self.accuracy(label).values()))

    def seeds(self, label: str) -> list[int]:
        return sorted(self.rows[label])

    def ahead(self, variant: str, baseline: str) -> int:
        """In how many seed pairs ``variant``'s test accuracy is above ``baseline``'s (seeds
        that only one of them has are left out)."""
        a, b = self.accuracy(variant), self.accuracy(baseline)
        return sum(a[seed] > b[seed] for seed in a if seed in b)

    def median_train_time(self, label: str) -> float:
        """The median training time in seconds over the seeds: one slow run on a shared machine
        moves it less than it moves the mean."""
        return statistics.median(row["train_time_s"] for row in self.rows[label].values())

    def curve(self, label: str, split: str = "val") -> list[float]:
        """The mean accuracy after each epoch over the seeds, on the validation images
        (``split="val"``) or on the training batches as they were trained (``"train"``)."""
        curves = [row[f"{split}_accuracy_per_epoch"] for row in self.rows[label].values()]
        return [sum(c[e] for c in curves) / len(curves) for e in range(len(curves[0]))]

    def differences(
        self, pairs: Sequence[tuple[str, str]], epoch: int | None = None, family: bool = False
    ) -> dict[str, Difference]:
        """Seed-paired differences ``variant − baseline`` for each pair, Holm-corrected over
        the pairs given, keyed ``"variant − baseline"``. With ``epoch`` (1-based), the
        validation accuracy after that epoch instead of the test accuracy. With ``family``, each
        difference carries the verdict of the course's one family (results/hypotheses.toml,
        :func:`.hypotheses.with_family`) instead: Holm over the whole family; a per-epoch
        difference, or one the family does not list, is "exploratory"."""

        def values(label: str) -> dict[int, float]:
            if epoch is None:
                return self.accuracy(label)
            return {s: r["val_accuracy_per_epoch"][epoch - 1] for s, r in self.rows[label].items()}

        labels = {name for pair in pairs for name in pair}
        found = compare_pairs({label: values(label) for label in labels}, pairs)
        if family:
            from .hypotheses import judged_family, with_family

            judged = judged_family()
            name = {label: next(iter(self.rows[label].values()))["name"] for label in labels}
            for i, d in enumerate(found):
                seeds = set(self.rows[d.name]) & set(self.rows[d.baseline])
                if epoch is None:
                    found[i], _ = with_family(d, name[d.name], name[d.baseline], seeds, judged)
                else:  # not the family's metric: an interval, never a verdict
                    found[i] = replace(d, p_holm=math.nan, family_verdict="exploratory")
        return {f"{d.name} − {d.baseline}": d for d in found}

    def provenance(self) -> str:
        """Where the numbers come from, for the sentence that introduces a reading."""
        rows = [r for by_seed in self.rows.values() for r in by_seed.values()]
        seeds = sorted({r["seed"] for r in rows})
        commits = sorted({r.get("git_commit") or "unknown" for r in rows})
        threads = sorted({str(r.get("threads")) for r in rows})
        first = rows[0]
        p = self.profile
        schedule = p.schedule_epochs or p.epochs
        epochs = f"{p.epochs} epochs" + (
            f" of a {schedule}-epoch schedule" if schedule != p.epochs else ""
        )
        counts = {label: len(by_seed) for label, by_seed in self.rows.items()}
        per_network = (
            f"{len(seeds)} per network"
            if set(counts.values()) == {len(seeds)}
            else ", ".join(f"{label} {n}" for label, n in counts.items())
        )
        return (
            f"the committed `{p.name}` runs: {p.image_size} px, {epochs}, "
            f"{first['train_images']:,} training images, seeds {seeds[0]}-{seeds[-1]} "
            f"({per_network}), {first['device'].split(' (')[0]} with "
            f"{'/'.join(threads)} threads, {first.get('precision', 'fp32')}, commit "
            f"{', '.join(commits)}, {first['data_source']}"
        )


def committed(
    profile: str | Profile,
    networks: Mapping[str, str],
    folder: str | Path | None = None,
    with_curves: bool = True,
    archive: str | None = None,
) -> Reference:
    """The committed rows of each network (label → run name such as ``alexnet-triplet``) at
    ``profile``'s setting and seeds: a network that another chapter trained over more seeds at
    the same setting is read over this profile's seeds only, like the networks it is compared
    with. Refuses, saying what is missing, when a network has no row or when two rows of one
    seed disagree about the setting (ambiguous); with ``with_curves`` every row must hold its
    validation accuracy per epoch. ``archive`` reads a superseded recipe's folder of
    ``results/archive/`` instead (:func:`.results.read_archive`), for a reading that quotes it."""
    p = profile if isinstance(profile, Profile) else get_profile(profile)
    folder = Path(folder) if folder else None
    if archive is None:
        rows = read_results((folder or _results()) / p.name)
    else:
        rows = read_archive(archive, folder or _results())
    rows = [r for r in rows if "error" not in r]
    found: dict[str, dict[int, dict]] = {}
    for label, name in networks.items():
        by_seed: dict[int, dict] = {}
        for row in rows:
            if row.get("name") == name and row.get("seed") in p.seeds and matches(row, p):
                if row["seed"] in by_seed:
                    raise MissingReference(
                        f"two committed rows of {name} seed {row['seed']} at the {p.name} "
                        f"setting: {by_seed[row['seed']]['file']} and {row['file']}"
                    )
                by_seed[row["seed"]] = row
        if not by_seed:
            raise MissingReference(
                f"no committed {p.name} row of {name} in results/{p.name}/ at this setting "
                f"({p.image_size} px, {p.epochs} epochs): the reading quotes the committed runs; "
                f"train them with `python -m course_lib run-notebooks --profile {p.name}`"
            )
        if with_curves and any("val_accuracy_per_epoch" not in r for r in by_seed.values()):
            raise MissingReference(f"rows of {name} without their validation curve")
        found[label] = dict(sorted(by_seed.items()))
    return Reference(p, found)


def _results() -> Path:
    from ..runtime.paths import results_dir

    return results_dir()
