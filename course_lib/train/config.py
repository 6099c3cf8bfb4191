"""The training recipe as one dataclass, with the seeds' settings as defaults."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass

from ..device import check_precision
from ..profiles import Profile, require_positive


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
    precision: str = "auto"  # bf16 autocast where the device has bf16 natively, else fp32

    def __post_init__(self) -> None:
        require_positive(self, "epochs", "batch_size", "image_size", "log_every", "eval_batch_size")
        if not self.lr > 0:
            raise ValueError(f"lr must be positive, got {self.lr}")
        check_precision(self.precision)

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


def override_types() -> dict[str, object]:
    """Every setting an override may change (profile and TrainConfig fields) with its type."""
    known = {**typing.get_type_hints(Profile), **typing.get_type_hints(TrainConfig)}
    known.pop("name")  # the profile's name is chosen with --profile
    return known


def check_override(key: str, value: object) -> object:
    """``value`` as the type of setting ``key``; an unknown key or a wrong type is refused with
    the valid keys or the expected type in the message."""
    known = override_types()
    if key not in known:
        raise ValueError(f"unknown setting {key!r}; valid settings: {', '.join(sorted(known))}")
    kind = known[key]
    if isinstance(kind, types.UnionType):  # int | None
        if value is None:
            return None
        kind = next(k for k in typing.get_args(kind) if k is not type(None))
    try:
        if typing.get_origin(kind) is tuple:  # seeds
            if not isinstance(value, (list, tuple)):
                raise TypeError
            return tuple(_convert(v, typing.get_args(kind)[0]) for v in value)
        return _convert(value, kind)
    except TypeError:
        expected = {int: "an integer", float: "a number", bool: "True or False"}.get(
            kind, "a list of integers such as [42, 43]"
        )
        raise ValueError(f"{key} takes {expected}, got {value!r}") from None


def _convert(value: object, kind: type) -> object:
    if kind is bool and isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if isinstance(value, bool) != (kind is bool):  # True is an int to Python, not to us
        raise TypeError
    if kind is float and isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, kind):
        return value
    raise TypeError


def apply_overrides(
    profile: Profile, overrides: Mapping[str, object]
) -> tuple[Profile, TrainConfig]:
    """Apply KEY=VALUE overrides: a profile field (such as ``train_subset``, which decides the
    data) changes the profile, any other (such as ``log_every``) the TrainConfig built from it.
    ``None`` values are ignored; unknown keys, wrong types and values below 1 are refused."""
    overrides = {k: check_override(k, v) for k, v in overrides.items() if v is not None}
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
