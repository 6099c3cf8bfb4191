"""Test-time interventions: each one changes exactly what it says and nothing else."""

from __future__ import annotations

import pytest
import torch

from course_lib.data import BatchAugment, EvalTransform
from course_lib.experiments.interventions import (
    SeededAugment,
    applicable,
    attention_batchnorms,
    gated_sites,
    in_partner_order,
    intervention_accuracies,
    mean_multipliers,
    multiplier,
    partner_order,
    partner_share_same_class,
    recalibrate_batchnorms,
    replaced_multipliers,
)
from course_lib.models import build_model

GATED = ["triplet", "triplet_static", "simam", "se", "cbam"]


def trained_like(attention: str | None, seed: int = 0) -> torch.nn.Module:
    """An AlexNet at 64 px whose BatchNorms have non-default running statistics."""
    torch.manual_seed(seed)
    model = build_model("alexnet", attention=attention, image_size=64)
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.randn(8, 3, 64, 64))
    return model.eval()


@pytest.mark.parametrize("attention", GATED)
def test_every_gated_module_is_x_times_its_multiplier(attention):
    model = trained_like(attention)
    sites = gated_sites(model)
    assert len(sites) == 5  # one after every conv
    x = torch.randn(4, 3, 64, 64)
    inputs = {}
    handles = [
        m.register_forward_hook(lambda mod, i, o, n=n: inputs.__setitem__(n, (i[0], o)))
        for n, m in sites.items()
    ]
    with torch.no_grad():
        model(x)
    for handle in handles:
        handle.remove()
    for name, (site_input, site_output) in inputs.items():
        expected = site_input * multiplier(sites[name], site_input)
        torch.testing.assert_close(site_output, expected, rtol=1e-4, atol=1e-5, msg=name)


def test_a_plain_network_has_nothing_to_intervene_on(cifar_small):
    model = trained_like(None)
    assert applicable(model) == ["as_trained"]
    with pytest.raises(ValueError, match="change.* nothing"):
        intervention_accuracies(model, cifar_small, 64, ["attention_off"])


def test_attention_off_is_the_plain_network_with_the_same_weights():
    attended, plain = trained_like("triplet"), trained_like(None, seed=1)
    plain.load_state_dict(
        {k: v for k, v in attended.state_dict().items() if not k.startswith("features.attn")}
    )
    x = torch.randn(4, 3, 64, 64)
    with torch.no_grad(), replaced_multipliers(attended, lambda n, x, m: torch.ones_like(m)):
        off = attended(x)
    with torch.no_grad():
        torch.testing.assert_close(off, plain(x))
        assert not torch.allclose(attended(x), plain(x))  # the attention itself does change it


def test_gate_mean_changes_nothing_where_the_gate_ignores_the_image(cifar_small):
    model = trained_like("triplet_static")
    transform = EvalTransform(64, cifar_small.mean, cifar_small.std)
    means = mean_multipliers(model, cifar_small.train_images[:64], transform, batch_size=32)
    x = transform(cifar_small.test_images[:16])
    with torch.no_grad():
        as_trained = model(x)
        with replaced_multipliers(model, lambda n, x, m: means[n]):
            at_mean = model(x)
        with replaced_multipliers(model, lambda n, x, m: m.roll(1, 0) if len(m) > 1 else m):
            shuffled = model(x)
    torch.testing.assert_close(at_mean, as_trained, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(shuffled, as_trained)
    accuracies = intervention_accuracies(
        model, cifar_small, 64, ["as_trained", "gate_mean", "gate_shuffled"]
    )
    assert len(set(accuracies.values())) == 1, accuracies


def test_gate_mean_removes_the_dependence_on_the_image_and_keeps_the_mean(cifar_small):
    model = trained_like("cbam")
    transform = EvalTransform(64, cifar_small.mean, cifar_small.std)
    images = cifar_small.test_images[:64]
    # fp32 as the model's plain call below (auto would be bf16 on a CPU with native bf16)
    means = mean_multipliers(model, images, transform, batch_size=16, precision="fp32")
    seen = {}

    def record(name, x, m):
        seen[name] = m
        return m

    with torch.no_grad(), replaced_multipliers(model, record):
        model(transform(images))
    for name, m in seen.items():
        torch.testing.assert_close(means[name], m.mean(0, keepdim=True), rtol=1e-4, atol=1e-6)
    spread = max(float(m.std(0).max()) for m in seen.values())
    assert spread > 1e-3, "the gates do depend on the image, so the mean removes something"


def test_gate_shuffled_gives_each_image_the_next_images_gate():
    model = trained_like("simam")
    x = torch.randn(4, 3, 64, 64)
    seen = []

    def shuffled(name, x, m):
        seen.append((m, m.roll(1, 0)))
        return seen[-1][1]

    with torch.no_grad(), replaced_multipliers(model, shuffled):
        model(x)
    own, given = seen[0]  # the first site: its input is the same whatever the others do
    torch.testing.assert_close(given[1], own[0])
    torch.testing.assert_close(given[0], own[3])


def test_partner_orders_give_each_image_a_partner_of_its_class_or_of_another():
    labels = torch.tensor([3, 1, 0, 1, 3, 0, 0, 1, 3] * 4)  # 3 classes of 12, stored mixed
    same, other = partner_order(labels, same_class=True), partner_order(labels, same_class=False)
    for order in (same, other):
        assert sorted(order.tolist()) == list(range(len(labels)))  # a permutation
    assert partner_share_same_class(labels[same], 12) == 1.0  # whole batches inside a class
    assert partner_share_same_class(labels[same], 36) == 33 / 36  # 3 partners cross a class
    assert partner_share_same_class(labels[other], 12) == 0.0  # round-robin: never its class
    # stored in the mixed order, the image before each is of the same class only by chance
    assert 0 < partner_share_same_class(labels, 12) < 0.5


def test_gate_shuffled_reads_class_sorted_test_sets_in_their_stored_order(cifar_small):
    """The offline archive stores its images class by class, so the rows gate_shuffled wrote
    before it set the order itself are the same measurement."""
    labels = cifar_small.test_labels
    assert torch.equal(labels, labels.sort(stable=True).values), "the fixture is class-sorted"
    ordered = in_partner_order(cifar_small, same_class=True)
    assert torch.equal(ordered.test_images, cifar_small.test_images)
    mixed = in_partner_order(cifar_small, same_class=False)
    assert partner_share_same_class(mixed.test_labels, 500) < 0.05
    model = trained_like("simam")
    accuracies = intervention_accuracies(
        model, cifar_small, 64, ["as_trained", "gate_shuffled", "gate_other_class"]
    )
    with replaced_multipliers(model, lambda n, x, m: m.roll(1, 0) if len(m) > 1 else m):
        from course_lib.train.evaluate import evaluate

        stored_order = evaluate(model, cifar_small, 64, 500)["accuracy"]
    assert accuracies["gate_shuffled"] == stored_order


def test_recalibration_sets_the_running_statistics_to_the_images_statistics():
    model = trained_like("batchnorm")
    norms = attention_batchnorms(model)
    assert len(norms) == 5
    transform = EvalTransform(64, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25))
    images = torch.randint(0, 256, (64, 3, 32, 32), dtype=torch.uint8)
    assert recalibrate_batchnorms(model, images, transform, batch_size=32, precision="fp32") == 5
    with torch.no_grad():
        conv1 = model.features.conv1(transform(images))
    torch.testing.assert_close(norms[0].running_mean, conv1.mean((0, 2, 3)), rtol=1e-4, atol=1e-5)
    assert norms[0].momentum == 0.1 and not norms[0].training  # restored
    triplet = trained_like("triplet")
    assert len(attention_batchnorms(triplet)) == 15  # three gates at each of five sites
    assert "bn_recalibrated" in applicable(triplet) and "bn_recalibrated" not in applicable(
        trained_like("simam")
    )


def test_refreshed_statistics_are_those_of_the_augmented_images_training_saw():
    model = trained_like("batchnorm")
    norms = attention_batchnorms(model)
    augment = BatchAugment(64, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25))
    images = torch.randint(0, 256, (64, 3, 32, 32), dtype=torch.uint8)
    recalibrate_batchnorms(
        model, images, SeededAugment(augment, seed=3), batch_size=32, precision="fp32"
    )
    again = SeededAugment(augment, seed=3)  # the same draws, batch by batch
    seen = torch.cat([again(images[:32]), again(images[32:])])
    with torch.no_grad():
        conv1 = model.features.conv1(seen)
    torch.testing.assert_close(norms[0].running_mean, conv1.mean((0, 2, 3)), rtol=1e-4, atol=1e-5)
    clean = model.features.conv1(EvalTransform(64, (0.5,) * 3, (0.25,) * 3)(images)).mean((0, 2, 3))
    assert not torch.allclose(norms[0].running_mean, clean, atol=1e-3)  # augmentation moved them
    other = SeededAugment(augment, seed=4)(images[:32])
    assert not torch.equal(other, SeededAugment(augment, seed=3)(images[:32]))


def test_refreshed_without_augmentation_is_recalibrated(cifar_small):
    """A run trained without augmentation saw the evaluation images: both interventions then
    recompute the same statistics (with the same batches, the same accuracy)."""
    model = trained_like("batchnorm")
    both = intervention_accuracies(model, cifar_small, 64, ["bn_recalibrated", "bn_refreshed"],
                                   augmented=False, training_batch_size=500)  # fmt: skip
    assert both["bn_refreshed"] == both["bn_recalibrated"]
    assert "bn_refreshed" in applicable(model) and "bn_refreshed" not in applicable(
        trained_like("se")
    )


def test_intervention_accuracies_on_a_gated_network(cifar_small):
    model = trained_like("triplet")
    results = intervention_accuracies(model, cifar_small, 64)
    assert list(results) == applicable(model)
    assert all(0.0 <= a <= 1.0 for a in results.values())
    with pytest.raises(ValueError, match="unknown intervention"):
        intervention_accuracies(model, cifar_small, 64, ["gate_frozen"])


def test_rows_merge_by_their_whole_key_and_a_corrupt_file_is_refused(tmp_path):
    from course_lib.experiments.interventions import (
        read_intervention_rows,
        write_intervention_rows,
    )

    path = tmp_path / "interventions-quick.json"
    base = {"variant": "alexnet-triplet", "seed": 50, "setting": "abc"}
    first = [
        {**base, "intervention": "as_trained", "accuracy": 0.5},
        {**base, "intervention": "gate_mean", "accuracy": 0.4},
    ]
    write_intervention_rows(first, path)
    second = [
        {**base, "intervention": "gate_mean", "accuracy": 0.45},
        {**base, "seed": 51, "intervention": "as_trained", "accuracy": 0.6},
    ]
    write_intervention_rows(second, path)
    rows = read_intervention_rows(path)
    assert [(r["seed"], r["intervention"], r["accuracy"]) for r in rows] == [
        (50, "as_trained", 0.5), (50, "gate_mean", 0.45), (51, "as_trained", 0.6)
    ]  # fmt: skip
    path.write_text('{"variant": "alexnet-triplet"}')
    with pytest.raises(ValueError, match="not a list of intervention rows"):
        read_intervention_rows(path)


def test_intervention_rows_reproduce_the_runs_accuracy_or_refuse(cifar_small, capsys):
    from course_lib.cli import main
    from course_lib.experiments.interventions import intervention_rows
    from course_lib.train import TrainConfig, train_or_load

    config = TrainConfig(epochs=1, batch_size=32, image_size=64, precision="fp32",
                         eval_batch_size=50)  # fmt: skip
    run = train_or_load("alexnet", cifar_small, config, "triplet", progress=False)
    rows = intervention_rows(run, cifar_small, ["as_trained", "gate_mean"])
    assert rows[0]["accuracy"] == run.metrics["accuracy"]
    assert {r["variant"] for r in rows} == {"alexnet-triplet"} and rows[1]["setting"]
    run.metrics["accuracy"] += 0.01  # as if the row came from other weights or data
    with pytest.raises(ValueError, match="as_trained gives"):
        intervention_rows(run, cifar_small, ["as_trained"])
    # the command says which runs are missing and how to train them
    assert main(["interventions", "--profile", "smoke", "--attention", "triplet",
                 "--seeds", "7"]) == 1  # fmt: skip
    assert "no finished run" in capsys.readouterr().err


@pytest.mark.parametrize("attention", ["psa", "psa_shortcut", "self_attention"])
def test_psa_and_self_attention_are_their_output_given_their_gate(attention):
    from course_lib.experiments.interventions import GATES

    torch.manual_seed(0)
    if attention == "self_attention":
        model = build_model("cifar_resnet", attention=attention, attention_after=(1,),
                            depths=(1, 1), planes=(8, 16), stem_channels=8)  # fmt: skip
        with torch.no_grad():
            for m in model.modules():
                if hasattr(m, "gamma"):
                    m.gamma.fill_(0.7)  # trained: no longer the identity
        x_in = torch.randn(2, 3, 16, 16)
    else:
        model = trained_like(attention)
        x_in = torch.randn(2, 3, 64, 64)
    model.eval()
    sites = gated_sites(model)
    assert sites
    seen = {}
    handles = [m.register_forward_hook(lambda mod, i, o, n=n: seen.__setitem__(n, (i[0], o)))
               for n, m in sites.items()]  # fmt: skip
    with torch.no_grad():
        model(x_in)
        for handle in handles:
            handle.remove()
        for name, (x, out) in seen.items():
            gate = GATES[type(sites[name])]
            module = sites[name]
            torch.testing.assert_close(gate.apply(module, x, gate.read(module, x)), out,
                                       rtol=1e-4, atol=1e-5)  # fmt: skip
            off = gate.apply(module, x, gate.off(gate.read(module, x)))
            if attention == "self_attention":
                torch.testing.assert_close(off, x)  # gamma o = 0: the identity
            else:
                assert torch.all(gate.off(gate.read(module, x)) == 0.25)


def test_psa_with_fixed_weights_has_no_gate_to_intervene_on():
    assert gated_sites(trained_like("psa_fixed")) == {}
    assert applicable(trained_like("psa_fixed")) == [
        "as_trained",
        "bn_recalibrated",
        "bn_refreshed",
    ]


def _rows(variant: str, values: dict[str, list[float]], setting: str = "s") -> list[dict]:
    return [
        {"variant": variant, "seed": 50 + i, "setting": setting, "intervention": name,
         "accuracy": acc}
        for name, accs in values.items()
        for i, acc in enumerate(accs)
    ]  # fmt: skip


def test_intervention_changes_are_paired_by_seed_against_as_trained():
    from course_lib.experiments.interventions import format_changes, intervention_changes

    rows = _rows("alexnet-triplet", {"as_trained": [0.55, 0.54, 0.56],
                                      "gate_mean": [0.42, 0.40, 0.45]})  # fmt: skip
    changes = intervention_changes(rows, "alexnet-triplet")
    d = changes["gate_mean"]
    assert d.n_pairs == 3 and d.diff == pytest.approx(-0.1267, abs=1e-4) and d.high < 0
    assert "gate_mean" in format_changes(changes) and "as_trained" not in changes
    assert intervention_changes(rows, "alexnet-triplet", seeds=[50, 51])["gate_mean"].n_pairs == 2
    assert "nan" not in format_changes(changes) and "—" not in format_changes(changes)
    # a gate that ignores the image: the same change (0) in every seed, said so, not "nan"
    same = _rows("v", {"as_trained": [0.5, 0.6, 0.7], "gate_mean": [0.5, 0.6, 0.7]})
    table = format_changes(intervention_changes(same, "v"))
    assert "nan" not in table and "the same change in every seed" in table


def test_per_seed_changes_are_the_dots_behind_the_means_and_take_any_reference():
    from course_lib.experiments.interventions import intervention_changes, per_seed_changes

    rows = _rows("v", {"as_trained": [0.55, 0.54, 0.56], "bn_refreshed": [0.56, 0.56, 0.56],
                       "bn_recalibrated": [0.57, 0.55, 0.56]})  # fmt: skip
    refreshed = per_seed_changes(rows, "v", "bn_refreshed")
    assert refreshed == pytest.approx({50: 0.01, 51: 0.02, 52: 0.0})
    assert intervention_changes(rows, "v")["bn_refreshed"].diff == pytest.approx(0.01)
    clean = per_seed_changes(rows, "v", "bn_recalibrated", against="bn_refreshed")
    assert clean == pytest.approx({50: 0.01, 51: -0.01, 52: 0.0})
    against = intervention_changes(rows, "v", against="bn_refreshed")
    assert set(against) == {"as_trained", "bn_recalibrated"}
    assert against["bn_recalibrated"].diff == pytest.approx(0.0, abs=1e-12)
    assert per_seed_changes(rows, "v", "gate_mean") == {}  # no such rows: no dots
    with pytest.raises(LookupError, match="no gate_mean row"):
        per_seed_changes(rows, "v", "as_trained", against="gate_mean")


def test_intervention_changes_refuse_mixed_settings_and_a_missing_baseline():
    from course_lib.experiments.interventions import intervention_changes

    rows = _rows("v", {"as_trained": [0.5, 0.5]}) + _rows("v", {"as_trained": [0.5]}, "other")
    with pytest.raises(ValueError, match="2 settings"):
        intervention_changes(rows, "v")
    with pytest.raises(LookupError, match="no as_trained row"):
        intervention_changes(_rows("v", {"gate_mean": [0.4, 0.4]}), "v")


def test_show_changes_reads_the_committed_file_prints_and_draws(tmp_path, monkeypatch, capsys):
    import json

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from course_lib.experiments.interventions import show_changes

    monkeypatch.setenv("COURSE_RESULTS_DIR", str(tmp_path))
    rows = _rows("alexnet-simam", {"as_trained": [0.55, 0.54, 0.56],
                                    "gate_other_class": [0.50, 0.49, 0.52]})  # fmt: skip
    (tmp_path / "interventions-quick.json").write_text(json.dumps(rows))
    changes = show_changes("alexnet-simam", title="t")
    assert changes["gate_other_class"].diff == pytest.approx(-0.0467, abs=1e-4)
    assert "gate_other_class" in capsys.readouterr().out
    assert plt.gcf().axes[0].get_title() == "t"
    plt.close("all")
