"""Profiles: one switch that scales the whole course between CI, a laptop CPU and a GPU.

``smoke`` is for CI and nbval (a few hundred images, one epoch, seconds per notebook),
``quick`` is the course's recipe, on a CPU and on a GPU alike (128 px as in source 001, so that
AlexNet's conv3-5 maps are 7×7; a class-balanced 16,000 training images, the first 6 epochs of
the source notebooks' 50-epoch schedule, eight seeds: chosen by a pilot for power,
docs/lab_notebook.md), the one every committed result and verdict comes from. ``gpu`` (128 px,
all 45,000 training images, 8 epochs, three seeds) and ``paper`` (the source notebooks'
settings: 224 px, 50 epochs, batch 128, all training images; hours per chapter on a T4) are
opt-in and exploratory: no committed runs back their verdicts.
Every profile holds a class-balanced validation split out of the training set (``val_size``) to
choose epochs on. The profile is taken from the ``COURSE_PROFILE`` environment variable, else
``quick`` (on a GPU too: the same recipe as the committed runs, in bf16 or, on a GPU without
native bf16, float16 with a gradient scaler; not bit-identical to the CPU's runs, expected
within their spread).
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass

from .runtime.device import check_precision

PROFILE_ENV = "COURSE_PROFILE"


@dataclass(frozen=True)
class Profile:
    """One run configuration: the data, the image size and the training recipe that a chapter
    uses by default. :meth:`with_overrides` changes any field with validation (a notebook's
    papermill parameters, the CLI's ``--set KEY=VALUE``, a sweep's overrides); the training
    part of it is what ``TrainConfig.from_profile`` hashes into a run's name."""

    name: str
    image_size: int
    epochs: int
    batch_size: int
    train_subset: int | None  # training images (after the validation hold-out), class-balanced
    test_subset: int | None  # None: the whole split
    val_size: int | None = 5000  # held out of the training set for model selection
    lr: float = 1e-3
    weight_decay: float = 1e-5
    label_smoothing: float = 0.1
    seed: int = 42  # the run whose curves, predictions and CAMs a chapter shows
    seeds: tuple[int, ...] = (42,)  # every seed a chapter trains, for mean and spread
    augment: bool = True  # the source notebooks' random crop and flip
    precision: str = "auto"  # bf16 where native, fp16 on other CUDA GPUs, else fp32
    log_every: int = 10  # steps between two points of the training-loss curve
    eval_batch_size: int = 500
    # the cosine schedule's length in epochs; None: ``epochs``. A run with ``epochs=5`` and
    # ``schedule_epochs=50`` trains the first 5 epochs of the source notebooks' 50-epoch
    # schedule, with the learning rate still high, instead of a whole schedule squeezed into 5
    schedule_epochs: int | None = None

    def __post_init__(self) -> None:
        require_positive(self, "train_subset", "test_subset", "val_size", "schedule_epochs")
        check_recipe(self)

    def replace(self, **changes) -> Profile:
        """A copy with some fields changed (``None`` values are ignored)."""
        changes = {k: v for k, v in changes.items() if v is not None}
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise ValueError(f"unknown profile field(s) {sorted(unknown)}; valid: {self.fields()}")
        return dataclasses.replace(self, **changes)

    def with_overrides(self, overrides: Mapping[str, object]) -> Profile:
        """A copy with ``overrides`` applied, each converted to its field's type: an unknown key,
        a wrong type or a value out of range is refused with what is valid. ``None`` values are
        ignored."""
        return self.replace(**{k: check_setting(k, v) for k, v in overrides.items()})

    def fields(self) -> list[str]:
        return [f.name for f in dataclasses.fields(self)]

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def check_setting(key: str, value: object) -> object:
    """``value`` as the type of the profile field ``key`` (``None`` passes); an unknown key or a
    wrong type is refused with the valid keys or the expected type in the message."""
    known = typing.get_type_hints(Profile)
    known.pop("name")  # a profile's name is chosen with get_profile / --profile
    if key not in known:
        raise ValueError(f"unknown setting {key!r}; valid settings: {', '.join(sorted(known))}")
    if value is None:
        return None
    kind = known[key]
    if isinstance(kind, types.UnionType):  # int | None
        kind = next(k for k in typing.get_args(kind) if k is not type(None))
    try:
        if typing.get_origin(kind) is tuple:  # seeds
            if not isinstance(value, (list, tuple)):
                raise TypeError
            return tuple(_convert(v, typing.get_args(kind)[0]) for v in value)
        return _convert(value, kind)
    except TypeError:
        expected = {int: "an integer", float: "a number", bool: "True or False", str: "a word"}
        raise ValueError(
            f"{key} takes {expected.get(kind, 'a list of integers such as [42, 43]')}, "
            f"got {value!r}"
        ) from None


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


def check_recipe(settings: object) -> None:
    """Refuse a training setting out of range (a Profile's or a TrainConfig's), saying which."""
    require_positive(settings, "image_size", "epochs", "batch_size", "log_every", "eval_batch_size")
    if not settings.lr > 0:
        raise ValueError(f"lr must be positive, got {settings.lr}")
    check_precision(settings.precision)


def require_positive(settings: object, *names: str) -> None:
    """Refuse a setting below 1 (``None`` means "not set" and passes), naming it and its value."""
    for name in names:
        value = getattr(settings, name)
        if value is not None and (not isinstance(value, int) or value < 1):
            raise ValueError(f"{name} must be a whole number of at least 1, got {value!r}")


# profiles whose verdicts no committed run backs: a chapter run in them says so
EXPLORATORY_PROFILES = ("gpu", "paper")

PROFILES: dict[str, Profile] = {
    "smoke": Profile(
        "smoke",
        image_size=64,
        epochs=1,
        batch_size=64,
        train_subset=512,
        test_subset=256,
        val_size=256,
    ),
    # chosen by the pilot (docs/lab_notebook.md, results/pilot/): the first 6 epochs of the
    # source notebooks' 50-epoch cosine schedule, the learning rate still high, where Triplet
    # Attention's lead appears (behind at epochs 1-2, ahead from epoch 4); 8 seed pairs, so that
    # a paired difference of ~2.3 points (sd of the pairs ~1.9) is detected with 80 % power.
    # ~28 s per epoch of plain AlexNet on 2 idle cores in bf16
    "quick": Profile(
        "quick",
        image_size=128,
        epochs=6,
        schedule_epochs=50,
        batch_size=128,
        train_subset=16_000,
        test_subset=None,
        seeds=(42, 43, 44, 45, 46, 47, 48, 49),
    ),
    # opt-in, exploratory (no committed runs back it): chapters 01-04 in at most ~15 estimated
    # minutes each on a Colab T4 (docs/gpu.md, scripts/gpu/estimate_gpu_costs.py), a quarter
    # under the 20-minute goal for the model's error; each run a whole cosine schedule
    "gpu": Profile(
        "gpu",
        image_size=128,
        epochs=8,
        batch_size=128,
        train_subset=None,
        test_subset=None,
        seeds=(42, 43, 44),
    ),
    "paper": Profile(
        "paper",
        image_size=224,
        epochs=50,
        batch_size=128,
        train_subset=None,
        test_subset=None,
        seeds=(42, 43, 44),
    ),
}


def default_profile_name() -> str:
    """``COURSE_PROFILE`` if set, else ``quick``, on a CUDA machine too: the recipe of every
    committed run (``gpu`` and ``paper`` are exploratory and only used when asked for)."""
    name = os.environ.get(PROFILE_ENV, "").strip().lower()
    if name:
        if name not in PROFILES:
            raise ValueError(
                f"{PROFILE_ENV}={name!r} is not a profile; use one of {sorted(PROFILES)}"
            )
        return name
    return "quick"


def get_profile(name: str | None = None, **overrides) -> Profile:
    """The profile called ``name`` (default: :func:`default_profile_name`), with overrides
    checked as :meth:`Profile.with_overrides` checks them."""
    name = (name or default_profile_name()).lower()
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; use one of {sorted(PROFILES)}")
    return PROFILES[name].with_overrides(overrides)


# Chapters 05-07 train other networks than AlexNet, at settings of their own in each profile.
# An experiment's entry changes profile fields (image size, epochs, data, and the recipe, e.g.
# ``augment``, ``label_smoothing``); what it does not name keeps the profile's value.
# ``None``: the experiment is not trained in that profile (the chapter says so).
EXPERIMENTS: dict[str, dict[str, dict | None]] = {
    # CIFAR-native networks at the images' own 32 px: chapter 05's ResNet with and without PSA,
    # chapter 06's shallow MogaNet and its ablations, chapter 07's ResNet with self-attention.
    # quick: chosen by the recipe pilot (docs/lab_notebook.md): the source notebooks' heavy
    # augmentation (crop 0.6-1, rotation, colour jitter) held the 32 px ResNet at 50 % after four
    # epochs of 45,000 images (56 % at Adam 3e-3); without it, 67 % after the same four epochs.
    # In a few epochs these networks underfit (training accuracy stays near validation
    # accuracy), so there is nothing for augmentation to prevent yet.
    # (quick's AlexNet schedule and its eight seeds are AlexNet's; these keep their own)
    "cifar32": {
        "smoke": dict(
            image_size=32, epochs=1, batch_size=64, train_subset=512, test_subset=256, val_size=256
        ),  # fmt: skip
        "quick": dict(
            image_size=32,
            epochs=3,
            schedule_epochs=3,
            train_subset=45_000,
            lr=3e-3,
            augment=False,
            seeds=(42, 43, 44),
        ),
        # estimated 11-20 min per chapter on a T4; MogaNet's many small kernels are host-bound
        "gpu": dict(image_size=32, epochs=10, train_subset=20_000),
        "paper": dict(image_size=32, epochs=30),
    },
    # the large 32 px networks, MogaNet-XT (18 blocks) and VGG16-BN: measured on 2 cores in bf16,
    # MogaNet-XT 222 training images/s (94 with the stem stride 2), VGG16-BN 257: three seeds of
    # a pair cost more than the whole CPU budget of chapters 05-07, so quick does not train them
    "cifar32_large": {
        "smoke": dict(
            image_size=32, epochs=1, batch_size=64, train_subset=512, test_subset=256, val_size=256
        ),  # fmt: skip
        "quick": None,
        "gpu": dict(image_size=32, epochs=10, train_subset=20_000),
        "paper": dict(image_size=32, epochs=30),
    },
    # AlexNet-PSA, its BatchNorm control (chapter 02's runs) and the shortcut variant (chapter
    # 05): quick's AlexNet recipe and all eight of its seeds. PSA's four large-kernel branches
    # make a step ~4x as slow as plain AlexNet's on a CPU, but three pairs disagreed so much
    # (PSA - control: -3.2 to -13.5 points) that they could detect only ~24-point differences
    "alexnet_psa": {
        "smoke": {},
        "quick": {},
        "gpu": {},
        "paper": {},
    },
    # source 003: ResNet-50 against EPSANet-50, 224 px, 10 epochs, batch 64, Adam 1e-3, plain
    # cross-entropy, no augmentation; affordable on a GPU only
    "seed003": {
        "smoke": None,
        "quick": None,
        "gpu": None,
        "paper": dict(
            image_size=224,
            epochs=10,
            batch_size=64,
            label_smoothing=0.0,
            augment=False,
            seeds=(42,),
        ),  # fmt: skip
    },
    # source 002: MogaNet-XT on CIFAR-10 upsampled to 224 px, 100 epochs, Adam 1e-3
    "seed002": {
        "smoke": None,
        "quick": None,
        "gpu": None,
        "paper": dict(image_size=224, epochs=100, seeds=(42,)),
    },
}


def experiment_settings(profile: Profile, experiment: str) -> Profile | None:
    """``profile`` with ``experiment``'s settings applied, or None where the experiment is not
    trained in this profile."""
    if experiment not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {experiment!r}; choose one of {sorted(EXPERIMENTS)}")
    settings = EXPERIMENTS[experiment].get(profile.name, {})
    return None if settings is None else profile.with_overrides(settings)
