"""The training recipe as one dataclass, with the seeds' settings as defaults."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass

from ..profiles import Profile


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a training run's result.

    Defaults are the seeds' recipe: Adam (lr 1e-3, weight decay 1e-5), a cosine schedule
    stepped every batch, label smoothing 0.1, batch 128, seed 42.
    """

    epochs: int = 50
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 1e-5
    label_smoothing: float = 0.1
    seed: int = 42
    image_size: int = 224
    augment: bool = True
    log_every: int = 10  # steps between two points of the training-loss curve
    eval_batch_size: int = 500

    @classmethod
    def from_profile(cls, profile: Profile, **overrides) -> TrainConfig:
        fields = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in profile.as_dict().items() if k in fields}
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def replace(self, **changes) -> TrainConfig:
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def apply_overrides(
    profile: Profile, overrides: Mapping[str, object]
) -> tuple[Profile, TrainConfig]:
    """Apply KEY=VALUE overrides: a profile field (such as ``train_subset``, which decides the
    data) changes the profile, any other (such as ``log_every``) the TrainConfig built from it.
    ``None`` values are ignored."""
    fields = set(profile.fields())
    profile = profile.replace(**{k: v for k, v in overrides.items() if k in fields})
    config = TrainConfig.from_profile(
        profile, **{k: v for k, v in overrides.items() if k not in fields}
    )
    return profile, config


def config_hash(*parts: dict) -> str:
    """A short stable hash of JSON-able dicts: the name of a run's folder."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha1(text.encode()).hexdigest()[:10]
