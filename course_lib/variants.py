"""The networks chapters 05-07 train, in one place, so that a chapter and a batch job
(``python -m course_lib train-chapter 05``) train exactly the same runs and share their cache.

Each :class:`Variant` names a model, its attention, its arguments and the experiment settings it
trains under (:data:`course_lib.profiles.EXPERIMENTS`). Variants that appear in two chapters
(the CIFAR ResNet is chapter 05's plain network and chapter 06's baseline) are the same runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .data import ImageDataset, load_course_data
from .profiles import Profile, experiment_settings

# chapter 05: a CIFAR bottleneck ResNet, three stages of one block (16, 32, 64 planes)
RESNET = {"depths": (1, 1, 1), "planes": (16, 32, 64), "stem_channels": 16}
# chapter 06: MogaNet-XT unchanged (stem stride 4: stages at 8, 4, 2 and 1 px on 32 px images)
MOGANET_XT = {"arch": "xtiny", "stem_stride": 4}
# the shallow MogaNet: MogaNet-XT's widths with one block per stage (two in stage 3), so that
# three seeds of three variants fit a CPU budget; with the official stride-4 stem (as chapter
# 06's earlier setting trained it) its stages are 8, 4, 2 and 1 px on 32 px images
MOGANET_SHALLOW = {
    "arch": {"embed_dims": [32, 64, 96, 192], "depths": [1, 1, 2, 1], "ffn_ratios": [8, 8, 4, 4]},
    "stem_stride": 4,
}
# what chapter 06 trains and ablates: the shallow MogaNet with stem stride 2, stages at 16, 8, 4
# and 2 px (at 1 px, Y - GAP(Y) = 0 and the decomposition's sigma gets no gradient)
MOGANET_ABLATION = {**MOGANET_SHALLOW, "stem_stride": 2}
# chapter 07: SAGAN's self-attention in chapter 05's ResNet, after stages 1 and 2 (16x16 and 8x8
# maps at 32 px), and VGG16 with BatchNorm and the compact head, self-attention after conv2_2 and
# conv3_3 (16x16 and 8x8, see course_lib.models.vgg.VGG16_BN_ATTENTION_AFTER)
RESNET_SELF_ATTENTION = {**RESNET, "attention_after": (1, 2)}
VGG16_BN = {"batch_norm": True, "classifier": "compact"}


@dataclass(frozen=True)
class Variant:
    """One network a chapter trains over the profile's seeds."""

    label: str
    model: str
    attention: str | None = None
    model_kwargs: dict = field(default_factory=dict)
    experiment: str = "cifar32"
    name: str | None = None  # the runs' name, where model and attention do not tell variants apart


CHAPTER_VARIANTS: dict[str, list[Variant]] = {
    "05": [
        Variant("AlexNet-BN", "alexnet", "batchnorm", experiment="alexnet_psa"),
        Variant("AlexNet-PSA", "alexnet", "psa", experiment="alexnet_psa"),
        Variant("AlexNet-PSA + shortcut", "alexnet", "psa_shortcut", experiment="alexnet_psa"),
        Variant("ResNet", "cifar_resnet", None, RESNET),
        Variant("ResNet-PSA", "cifar_resnet", "psa", RESNET),
        # the control for PSA's attention: the same convolutions, branch weights fixed at 1/4
        Variant("ResNet-PSA, weights fixed at 1/4", "cifar_resnet", "psa_fixed", RESNET),
    ],
    "06": [
        Variant("ResNet", "cifar_resnet", None, RESNET),
        Variant(
            "MogaNet-XT", "moganet", None, MOGANET_XT, experiment="cifar32_large", name="moganet_xt"
        ),
        Variant("shallow MogaNet", "moganet", None, MOGANET_ABLATION, name="moganet_shallow"),
        Variant(
            "no decomposition",
            "moganet",
            None,
            {**MOGANET_ABLATION, "decompose": False},
            name="moganet_shallow-no_decompose",
        ),
        Variant(
            "no gating",
            "moganet",
            None,
            {**MOGANET_ABLATION, "gating": False},
            name="moganet_shallow-no_gating",
        ),
        # one part at a time: "no decomposition" above removes both the spatial block's
        # decomposition and the FFN's channel aggregation
        Variant(
            "no spatial decomposition only",
            "moganet",
            None,
            {**MOGANET_ABLATION, "decompose": False, "channel_aggregation": True},
            name="moganet_shallow-no_spatial_decompose",
        ),
        Variant(
            "no channel aggregation only",
            "moganet",
            None,
            {**MOGANET_ABLATION, "channel_aggregation": False},
            name="moganet_shallow-no_channel_aggregation",
        ),
    ],
    "07": [
        Variant("ResNet", "cifar_resnet", None, RESNET),
        Variant("ResNet + self-attention", "cifar_resnet", "self_attention", RESNET_SELF_ATTENTION),
        Variant("VGG16-BN", "vgg16", None, VGG16_BN, experiment="cifar32_large", name="vgg16_bn"),
        Variant(
            "VGG16-BN + self-attention",
            "vgg16",
            "self_attention",
            {**VGG16_BN, "attention_after": (12, 22)},
            experiment="cifar32_large",
            name="vgg16_bn-self_attention",
        ),
    ],
}


def chapter_variant(spec: str, profile: Profile) -> tuple[Variant, Profile]:
    """The variant ``"CHAPTER:LABEL"`` (e.g. ``"07:ResNet"``) and ``profile`` with its
    experiment's settings, as :func:`train_chapter` trains it; a clear error for an unknown
    chapter or label, or an experiment this profile does not train."""
    chapter, sep, label = (part.strip() for part in spec.partition(":"))
    if not sep:
        raise ValueError(f"--variant {spec!r}: write CHAPTER:LABEL, e.g. '07:ResNet'")
    found = {v.label: v for v in variants(chapter)}
    if label not in found:
        raise ValueError(
            f"chapter {chapter} has no variant {label!r}; choose one of {sorted(found)}"
        )
    variant = found[label]
    setting = experiment_settings(profile, variant.experiment)
    if setting is None:
        raise ValueError(
            f"{variant.label!r} (experiment {variant.experiment}) is not trained in the "
            f"{profile.name!r} profile; choose another --profile"
        )
    return variant, setting


def variants(chapter: str) -> list[Variant]:
    """The variants chapter ``chapter`` ("05", "06", "07") trains."""
    if chapter not in CHAPTER_VARIANTS:
        raise ValueError(
            f"no variants listed for chapter {chapter!r}; use {sorted(CHAPTER_VARIANTS)}"
        )
    return CHAPTER_VARIANTS[chapter]


def check_chapter_request(chapters: list[str], only: list[str] | None = None) -> None:
    """Refuse an unknown chapter, or an ``only`` label that is a variant of none of
    ``chapters``, naming the valid ones (before any data is loaded)."""
    labels = list(dict.fromkeys(v.label for c in chapters for v in variants(c)))
    unknown = [o for o in only or [] if o not in labels]
    if unknown:
        raise ValueError(
            f"chapter(s) {', '.join(chapters)} have no variant {', '.join(map(repr, unknown))}; "
            "their variants: " + ", ".join(map(repr, labels))
        )


def train_chapter(
    chapter: str,
    profile: Profile,
    load_only: bool = False,
    progress: bool = True,
    only: list[str] | None = None,
    skip_locked: bool = False,
) -> dict[str, list]:
    """Train (or load) every variant of ``chapter`` over its experiment's seeds:
    ``{label: [Run, ...]}``, the main seed first. Variants whose experiment is not trained in
    this profile are left out. CIFAR-10 is loaded once per distinct data setting."""
    from .chapter import train_variant

    loaded: dict[tuple, ImageDataset] = {}

    def data(p: Profile) -> ImageDataset:
        key = (p.train_subset, p.test_subset, p.val_size, p.seed)
        if key not in loaded:
            loaded[key] = load_course_data(p)
        return loaded[key]

    runs = {}
    for v in variants(chapter):
        if only is not None and v.label not in only:
            continue
        p = experiment_settings(profile, v.experiment)
        if p is None:
            continue
        runs[v.label] = train_variant(
            data(p),
            p,
            attention=v.attention,
            model=v.model,
            model_kwargs=dict(v.model_kwargs),
            progress=progress,
            load_only=load_only,
            name=v.name,
            skip_locked=skip_locked,
        )
    return runs
