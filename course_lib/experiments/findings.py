"""What a chapter measures that is not a training run — chapter 08's map-quality scores, its
sanity checks, LIME's agreement — written once per setting, so that the chapter's readings quote
the committed numbers without computing them again (as the runs' rows serve chapters 01-07).

One JSON file per chapter, profile setting and notebook parameters, under
``results/findings/<profile>/``: ``08_gradcam__<hash>.json``. A run with other settings or
parameters writes its own file and never replaces another.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from pathlib import Path

from ..profiles import Profile
from ..runtime.atomic import atomic_write_json
from ..runtime.env import git_state
from ..train.config import config_hash
from .reference import MissingReference, matches

FINDINGS = "findings"


def _setting(profile: Profile) -> dict:
    """The fields of a profile that a results row records and ``reference.matches`` reads."""
    return {
        "profile": profile.name,
        "image_size": profile.image_size,
        "epochs": profile.epochs,
        "schedule_epochs": profile.schedule_epochs or profile.epochs,
        "train_images": profile.train_subset,
        "batch_size": profile.batch_size,
        "lr": profile.lr,
        "augment": profile.augment,
        "seed": profile.seed,
    }


def _folder(profile_name: str, folder: str | Path | None) -> Path:
    if folder is None:
        from ..runtime.paths import results_dir

        folder = results_dir()
    return Path(folder) / FINDINGS / profile_name


def write_findings(
    chapter: str,
    profile: Profile,
    parameters: Mapping[str, object],
    findings: Mapping[str, object],
    device: str,
    data_source: str,
    folder: str | Path | None = None,
) -> Path:
    """Write ``findings`` (JSON-able numbers) of ``chapter`` measured at ``profile``'s setting
    with the notebook's ``parameters``; the file is named by all of them."""
    setting = _setting(profile)
    key = config_hash(setting, dict(parameters))
    commit, dirty = git_state()
    record = {
        "chapter": chapter,
        **setting,
        "parameters": dict(parameters),
        "device": device,
        "data_source": data_source,
        "date": dt.date.today().isoformat(),
        "git_commit": commit,
        "dirty": dirty,
        "findings": dict(findings),
    }
    path = _folder(profile.name, folder) / f"{chapter}__{key}.json"
    atomic_write_json(record, path)
    return path


def read_findings(
    chapter: str,
    profile: Profile,
    parameters: Mapping[str, object] | None = None,
    folder: str | Path | None = None,
) -> dict:
    """The committed findings of ``chapter`` at ``profile``'s setting (and with ``parameters``,
    where several files match); refuses, saying what to run, when there is none or when the
    choice is ambiguous."""
    candidates = []
    for path in sorted(_folder(profile.name, folder).glob(f"{chapter}__*.json")):
        record = json.loads(path.read_text())
        if record.get("seed") != profile.seed or not matches(record, profile):
            continue
        if parameters is not None and record.get("parameters") != dict(parameters):
            continue
        candidates.append((path, record))
    if not candidates:
        raise MissingReference(
            f"no committed findings of {chapter} at the {profile.name} setting "
            f"({profile.image_size} px, {profile.epochs} epochs) in results/{FINDINGS}/"
            f"{profile.name}/: run the chapter with `python -m course_lib run-notebooks "
            f"--profile {profile.name} --only {chapter[:2]}`"
        )
    if len(candidates) > 1:
        raise MissingReference(
            f"{len(candidates)} committed findings of {chapter} at the {profile.name} setting, "
            "with other notebook parameters: "
            + ", ".join(p.name for p, _ in candidates)
            + "; pass the parameters to choose one"
        )
    return candidates[0][1]


__all__ = ["FINDINGS", "read_findings", "write_findings"]
