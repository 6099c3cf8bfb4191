"""The training part of a run configuration: what decides a run's result and names its folder."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass

from ..profiles import Profile, check_recipe


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a training run's result; its hash names the run's folder.

    Made from a :class:`~course_lib.profiles.Profile` (the one run configuration a chapter, the
    CLI and a sweep change) with :meth:`from_profile`. Defaults are the source notebooks'
    recipe: Adam (lr 1e-3, weight decay 1e-5), a cosine schedule stepped every batch, label
    smoothing 0.1, batch 128, seed 42.
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
    precision: str = "auto"  # bf16 where native, fp16 on other CUDA GPUs, else fp32
    schedule_epochs: int | None = None  # the cosine schedule's length; None: epochs

    def __post_init__(self) -> None:
        check_recipe(self)
        if self.schedule_epochs == self.epochs:  # one schedule, one name: the same run
            object.__setattr__(self, "schedule_epochs", None)

    @classmethod
    def from_profile(cls, profile: Profile, **overrides) -> TrainConfig:
        """The training settings of ``profile``, with ``overrides`` (e.g. ``seed``) applied
        through the profile's validation."""
        profile = profile.with_overrides(overrides)
        return cls(**{f.name: getattr(profile, f.name) for f in dataclasses.fields(cls)})

    def replace(self, **changes) -> TrainConfig:
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    def as_dict(self) -> dict:
        """The fields, less the ones added after runs were named and left at their default
        (so a run trained before a field existed keeps its name)."""
        fields = dataclasses.asdict(self)
        for name in _ADDED_LATER:
            if fields[name] is None:
                del fields[name]
        return fields

    @property
    def schedule_length(self) -> int:
        """The number of epochs the learning-rate schedule spans."""
        return self.schedule_epochs or self.epochs


_ADDED_LATER = ("schedule_epochs",)


def config_hash(*parts: dict) -> str:
    """A short stable hash of JSON-able dicts: the name of a run's folder."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha1(text.encode()).hexdigest()[:10]
