"""The networks of chapters 05-07: the CIFAR ResNet with a 3x3 conv or PSA, AlexNet's BatchNorm
control, PSA's bounded weights, MogaNet's ablation switches, VGG16-BN with self-attention, the
per-profile experiment settings and the chapters' variant lists."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch import nn

from course_lib.attention import PSAModule, SelfAttention
from course_lib.attention.psa import collect_branch_weights, softmax_weight_bounds
from course_lib.experiments.measure import count_params
from course_lib.models import build_model
from course_lib.models.vgg import VGG16_BN_ATTENTION_AFTER, fetch_vgg16_imagenet
from course_lib.profiles import EXPERIMENTS, PROFILES, experiment_settings, get_profile
from course_lib.train import TrainConfig
from course_lib.variants import CHAPTER_VARIANTS, RESNET, variants


def test_cifar_resnet_with_psa_differs_only_in_the_mixers():
    conv = build_model("cifar_resnet", num_classes=10, **RESNET)
    psa = build_model("cifar_resnet", num_classes=10, attention="psa", **RESNET)
    x = torch.randn(2, 3, 32, 32)
    assert conv(x).shape == psa(x).shape == (2, 10)

    def outside_mixers(model):
        return {n: p.shape for n, p in model.named_parameters() if ".conv2." not in n
                and not n.endswith(".conv2.weight")}  # fmt: skip

    assert outside_mixers(conv) == outside_mixers(psa)
    mixers = [m.conv2 for stage in psa.stages for m in stage]
    assert len(mixers) == sum(RESNET["depths"]) and all(isinstance(m, PSAModule) for m in mixers)
    assert all(isinstance(m.conv2, nn.Conv2d) and m.conv2.kernel_size == (3, 3)
               for stage in conv.stages for m in stage)  # fmt: skip


def test_cifar_resnet_keeps_the_resolution_until_the_second_stage():
    net = build_model("cifar_resnet", num_classes=10, **RESNET)
    x = net.stem(torch.randn(1, 3, 32, 32))
    sizes = []
    for stage in net.stages:
        x = stage(x)
        sizes.append(x.shape[-1])
    assert sizes == [32, 16, 8]  # no ImageNet stem: the last stage still has an 8x8 map


def test_cifar_resnet_places_other_attention_between_stages():
    with pytest.raises(ValueError, match="give attention_after"):
        build_model("cifar_resnet", attention="se")
    with pytest.raises(ValueError, match="has stages 0-2"):
        build_model("cifar_resnet", attention="se", attention_after=(3,), **RESNET)
    with pytest.raises(ValueError, match="has none to place"):
        build_model("cifar_resnet", attention="psa", attention_after=(1,), **RESNET)
    plain = build_model("cifar_resnet", num_classes=10, **RESNET)
    sa = build_model("cifar_resnet", num_classes=10, attention="self_attention",
                     attention_after=(1, 2), **RESNET)  # fmt: skip
    blocks = [stage.attention for stage in sa.stages if hasattr(stage, "attention")]
    assert [b.query.in_channels for b in blocks] == [4 * p for p in RESNET["planes"][1:]]
    # gamma starts at 0: with the plain network's weights, the same function
    missing, unexpected = sa.load_state_dict(plain.state_dict(), strict=False)
    assert not unexpected and missing and all(".attention." in k for k in missing)
    plain.eval(), sa.eval()
    x = torch.randn(2, 3, 32, 32)
    torch.testing.assert_close(sa(x), plain(x))


def test_batchnorm_control_is_alexnet_psa_without_psa():
    plain = build_model("alexnet", image_size=128)
    control = build_model("alexnet", attention="batchnorm", image_size=128)
    psa = build_model("alexnet", attention="psa", image_size=128)
    widths = [m.out_channels for m in plain.features if isinstance(m, nn.Conv2d)]
    assert count_params(control) - count_params(plain) == 2 * sum(widths)  # BN weight + bias
    psa_bns = [m.bn for m in psa.features if isinstance(m, PSAModule)]
    control_bns = [m for m in control.features if isinstance(m, nn.BatchNorm2d)]
    assert [b.num_features for b in psa_bns] == [b.num_features for b in control_bns] == widths


def test_psa_shortcut_is_alexnet_psa_plus_its_input():
    psa = build_model("alexnet", attention="psa", image_size=128)
    shortcut = build_model("alexnet", attention="psa_shortcut", image_size=128)
    shortcut.load_state_dict(psa.state_dict())  # the same parameters, names and shapes
    x = torch.randn(2, 48, 31, 31)
    psa_slot, shortcut_slot = psa.features[1].eval(), shortcut.features[1].eval()
    with torch.no_grad():
        torch.testing.assert_close(shortcut_slot(x), x + psa_slot(x))


def test_psa_weight_bounds_are_the_extremes_of_a_softmax_of_sigmoids():
    low, high = softmax_weight_bounds(4)
    # the closed form against the optimum over the corners of [0, 1]^4 (softmax is monotone in
    # each coordinate, so the extremes of the first weight lie at corners)
    corners = torch.tensor(list(itertools.product([0.0, 1.0], repeat=4)))
    first = torch.softmax(corners, dim=1)[:, 0]
    assert float(first.min()) == pytest.approx(low) and float(first.max()) == pytest.approx(high)
    scores = torch.sigmoid(torch.randn(10_000, 4) * 5)
    weights = torch.softmax(scores, dim=1)
    assert float(weights.min()) >= low and float(weights.max()) <= high


def test_collect_branch_weights_from_every_psa_module():
    torch.manual_seed(0)
    net = build_model("cifar_resnet", attention="psa", num_classes=10, **RESNET)
    found = collect_branch_weights(net, torch.randn(5, 3, 32, 32), batch_size=2)
    assert list(found) == [f"stages.{i}.0.conv2" for i in range(3)]
    for w, planes in zip(found.values(), RESNET["planes"], strict=True):
        assert w.shape == (5, 4, planes // 4)
        torch.testing.assert_close(w.sum(1), torch.ones(5, planes // 4))
    with pytest.raises(ValueError, match="no PSA module"):
        collect_branch_weights(build_model("cifar_resnet", **RESNET), torch.randn(1, 3, 32, 32))


def _moganet(**switches):
    torch.manual_seed(0)
    arch = {"embed_dims": [8, 16, 24, 32], "depths": [1, 1, 1, 1], "ffn_ratios": [2, 2, 2, 2]}
    return build_model("moganet", arch=arch, num_classes=10, stem_stride=2, **switches).eval()


def test_moganet_without_decomposition_equals_zero_decomposition_scales():
    full, ablated = _moganet(), _moganet(decompose=False)
    missing, unexpected = ablated.load_state_dict(full.state_dict(), strict=False)
    assert not missing and all("sigma" in k or "decompose" in k for k in unexpected)
    assert count_params(full) - count_params(ablated) == sum(
        full.state_dict()[k].numel() for k in unexpected
    )
    for name, p in full.named_parameters():
        if "sigma" in name:
            p.data.zero_()  # CA(Y) = Y + 0 * (...): the decomposition switched off
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(full(x), ablated(x))


def test_moganet_without_gating_has_the_same_weights_and_another_function():
    gated, summed = _moganet(), _moganet(gating=False)
    assert count_params(gated) == count_params(summed)
    summed.load_state_dict(gated.state_dict())
    for name, p in gated.named_parameters():  # let the blocks contribute (layer scale 1e-5)
        if "layer_scale" in name:
            p.data.fill_(1.0)
            summed.get_parameter(name).data.fill_(1.0)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert not torch.allclose(gated(x), summed(x))


def test_training_records_moganets_per_channel_scales_and_sagans_gamma():
    from course_lib.train.fit import scalar_parameters

    found = scalar_parameters(_moganet())
    scales = {k: v for k, v in found.items() if k.endswith(" mean|.|")}
    assert any(".sigma.scale" in k for k in scales) and any("layer_scale_1" in k for k in scales)
    assert all(v == pytest.approx(1e-5) for v in scales.values())  # their initial value
    sa = build_model("cifar_resnet", attention="self_attention", attention_after=(1,), **RESNET)
    assert scalar_parameters(sa) == {"stages.1.attention.gamma": 0.0}


def test_moganet_stem_stride_sets_the_first_stage_size():
    for stride, side in ((4, 8), (2, 16), (1, 32)):
        net = build_model("moganet", arch="xtiny", num_classes=10, stem_stride=stride)
        assert net.stages[0](torch.randn(1, 3, 32, 32)).shape[-1] == side
    with pytest.raises(ValueError, match="stem_stride"):
        build_model("moganet", arch="xtiny", stem_stride=3)


def test_vgg16_bn_self_attention_sits_on_16_and_8_pixel_maps():
    net = build_model("vgg16", num_classes=10, image_size=32, batch_norm=True,
                      classifier="compact", attention="self_attention",
                      attention_after=VGG16_BN_ATTENTION_AFTER)  # fmt: skip
    seen = {}

    def record(module, args, output, name):
        seen[name] = output.shape[-1]  # returns None: the output is left as it is

    for name, module in net.features.named_children():
        if isinstance(module, SelfAttention):
            module.register_forward_hook(lambda m, a, o, n=name: record(m, a, o, n))
    assert net(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    assert seen == {"attn_12": 16, "attn_22": 8}
    assert sum(isinstance(m, nn.BatchNorm2d) for m in net.features) == 13


def test_vgg16_weights_are_never_fetched_without_downloads(monkeypatch, tmp_path):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    assert fetch_vgg16_imagenet() is None  # COURSE_DOWNLOAD=0 in tests: no network


def test_experiment_settings_change_the_profile_and_keep_what_they_do_not_name():
    quick = get_profile("quick")
    cifar = experiment_settings(quick, "cifar32")
    # the recipe pilot's choice for the 32 px networks: no augmentation, Adam 3e-3, 45,000 images
    assert (cifar.image_size, cifar.epochs, cifar.seeds, cifar.lr, cifar.augment) == (
        32,
        3,
        (42, 43, 44),
        3e-3,
        False,
    )
    assert (cifar.train_subset, cifar.label_smoothing) == (45_000, quick.label_smoothing)
    # quick's AlexNet schedule (6 of 50 epochs) does not reach the CIFAR networks: a whole
    # 3-epoch schedule
    assert TrainConfig.from_profile(cifar).schedule_epochs is None
    assert experiment_settings(quick, "cifar32_large") is None  # beyond a CPU budget
    assert experiment_settings(get_profile("smoke"), "cifar32_large") is not None  # CI runs it
    assert TrainConfig.from_profile(quick).schedule_length == 50
    assert experiment_settings(quick, "seed003") is None  # a GPU job only
    paper = experiment_settings(get_profile("paper"), "seed003")
    recipe = TrainConfig.from_profile(paper)  # the recipe part reaches the run's configuration
    assert (recipe.image_size, recipe.label_smoothing, recipe.augment) == (224, 0.0, False)
    with pytest.raises(ValueError, match="unknown experiment"):
        experiment_settings(quick, "cifar64")
    for name, per_profile in EXPERIMENTS.items():
        assert set(per_profile) == set(PROFILES), f"{name} has no entry for every profile"


@pytest.mark.parametrize("chapter", sorted(CHAPTER_VARIANTS))
def test_every_chapter_variant_builds_and_runs_under_its_own_name(chapter):
    labels = [v.label for v in variants(chapter)]
    assert len(set(labels)) == len(labels)
    run_names = {}
    for v in variants(chapter):
        size = experiment_settings(get_profile("smoke"), v.experiment).image_size
        net = build_model(v.model, attention=v.attention, image_size=size, num_classes=10,
                          **v.model_kwargs)  # fmt: skip
        assert net(torch.randn(2, 3, size, size)).shape == (2, 10)
        key = v.name or f"{v.model}-{v.attention}"
        assert run_names.setdefault(key, v) == v, f"two variants of chapter {chapter} named {key}"
    with pytest.raises(ValueError, match="no variants"):
        variants("02")


def test_an_argument_added_later_at_its_default_keeps_the_runs_names():
    plain = build_model("cifar_resnet", num_classes=10, **RESNET).spec
    assert "attention_after" not in plain  # as before the argument existed: same run names
    assert plain["depths"] == RESNET["depths"]  # other defaults and values are still recorded
    sa = build_model("cifar_resnet", attention="self_attention", attention_after=(1, 2), **RESNET)
    assert sa.spec["attention_after"] == (1, 2)


def test_a_dead_se_unit_makes_psa_weigh_the_scales_evenly():
    from course_lib.attention.psa import collect_se_activity

    torch.manual_seed(0)
    net = build_model("cifar_resnet", attention="psa", num_classes=10, **RESNET).eval()
    x = torch.randn(6, 3, 32, 32)
    last = net.stages[2][0].conv2
    assert last.se.fc1.out_channels == 1  # 16 channels per branch, reduction 16: one unit
    with torch.no_grad():
        last.se.fc1.bias.fill_(-1e3)  # switch the unit off for every input
    active = collect_se_activity(net, x, batch_size=4)
    assert set(active) == {f"stages.{i}.0.conv2" for i in range(3)}
    assert torch.equal(active["stages.2.0.conv2"], torch.zeros(4))
    weights = collect_branch_weights(net, x)["stages.2.0.conv2"]
    torch.testing.assert_close(weights, torch.full_like(weights, 0.25))
