"""Training: a real short run, resume after interruption, run reuse, checkpoints, NaN guard."""

from __future__ import annotations

import json

import pytest
import torch

from course_lib.models import build_model
from course_lib.train import (
    CheckpointError,
    NonFiniteLossError,
    TrainConfig,
    evaluate,
    fit,
    load_weights,
    train_or_load,
)

CONFIG = TrainConfig(epochs=3, batch_size=32, image_size=64, lr=5e-4, eval_batch_size=100)


def test_a_short_real_run_lowers_the_loss(cifar_small):
    torch.manual_seed(0)
    model = build_model("alexnet", image_size=64)
    history = fit(model, cifar_small, CONFIG.replace(epochs=6), progress=False)
    assert len(history.train_loss) == 6 and len(history.val_acc) == 6
    assert history.train_loss[-1] < history.train_loss[0] - 0.05  # measured: 2.313 -> 2.209
    assert history.step == sorted(history.step) and history.step[-1] == 6 * (320 // 32)
    assert all(0.0 <= a <= 1.0 for a in history.val_acc)


def test_resume_after_interruption_gives_the_same_weights(cifar_small, tmp_path):
    torch.manual_seed(0)
    reference = build_model("alexnet", image_size=64)
    fit(reference, cifar_small, CONFIG, run_dir=tmp_path / "ref", progress=False)

    torch.manual_seed(0)
    model = build_model("alexnet", image_size=64)
    calls = {"n": 0}

    def interrupt(module, inputs):
        calls["n"] += 1
        if calls["n"] == 15:  # in the middle of epoch 2 (10 training steps per epoch)
            raise KeyboardInterrupt

    handle = model.register_forward_pre_hook(interrupt)
    with pytest.raises(KeyboardInterrupt):
        fit(model, cifar_small, CONFIG, run_dir=tmp_path / "run", progress=False)
    handle.remove()
    saved = torch.load(tmp_path / "run" / "last.pt", weights_only=True)
    assert saved["epoch"] == 0, "only the finished first epoch is in last.pt"
    assert not list((tmp_path / "run").glob(".*tmp*")), "no temporary files left behind"

    resumed = build_model("alexnet", image_size=64)
    history = fit(resumed, cifar_small, CONFIG, run_dir=tmp_path / "run", progress=False)
    assert history.epoch == [1, 2, 3]
    for (name, a), b in zip(reference.state_dict().items(), resumed.state_dict().values()):
        assert torch.allclose(a, b, atol=1e-6), f"{name} differs after resuming"


def test_finished_runs_are_loaded_not_retrained(cifar_small, monkeypatch):
    config = CONFIG.replace(epochs=1)
    first = train_or_load("alexnet", cifar_small, config, profile="smoke", progress=False)
    assert (first.run_dir / "final.pt").exists() and (first.run_dir / "best.pt").exists()
    assert not (first.run_dir / "last.pt").exists(), "a finished run keeps no resume state"
    # one epoch: the best epoch is the final one, so the weights are stored once (hard link)
    assert (first.run_dir / "best.pt").samefile(first.run_dir / "final.pt")
    metrics = json.loads((first.run_dir / "metrics.json").read_text())
    assert metrics["params"] == 5_426_890 and metrics["profile"] == "smoke"
    assert metrics["cpu_isa"] in ("AMX", "AVX512-BF16", "AVX512", "AVX2", "other")
    assert sum(map(sum, metrics["confusion_matrix"])) == 100

    def no_training(*args, **kwargs):
        raise AssertionError("a finished run must not be trained again")

    monkeypatch.setattr("course_lib.train.experiment.fit", no_training)
    second = train_or_load("alexnet", cifar_small, config, profile="smoke", progress=False)
    assert second.run_dir == first.run_dir and second.metrics == first.metrics
    for a, b in zip(first.model.state_dict().values(), second.model.state_dict().values()):
        assert torch.equal(a.cpu(), b.cpu())


def test_checkpoint_of_another_model_is_refused(cifar_small, tmp_path):
    model = build_model("alexnet", image_size=64)
    fit(model, cifar_small, CONFIG.replace(epochs=1), run_dir=tmp_path, progress=False)
    torch.load(tmp_path / "best.pt", weights_only=True)  # loadable with weights_only
    with pytest.raises(CheckpointError, match="belongs to another model"):
        load_weights(build_model("alexnet", image_size=128), tmp_path / "best.pt")
    with pytest.raises(CheckpointError, match="no checkpoint"):
        load_weights(model, tmp_path / "missing.pt")
    (tmp_path / "broken.pt").write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="cannot read"):
        load_weights(model, tmp_path / "broken.pt")


def test_non_finite_loss_stops_with_the_step(cifar_small):
    model = build_model("alexnet", image_size=64)
    calls = {"n": 0}

    def poison(module, inputs, output):
        calls["n"] += 1
        return output * float("nan") if calls["n"] == 3 else output

    model.register_forward_hook(poison)
    with pytest.raises(NonFiniteLossError, match="at step 3 "):
        fit(model, cifar_small, CONFIG, progress=False)


def test_evaluate_reports_per_class_and_confusion(cifar_small):
    model = build_model("alexnet", image_size=64)
    result = evaluate(model, cifar_small, image_size=64, batch_size=50)
    cm = torch.tensor(result["confusion_matrix"])
    assert cm.shape == (10, 10) and int(cm.sum()) == 100
    assert cm.sum(dim=1).tolist() == [10] * 10
    assert result["accuracy"] == pytest.approx(float(cm.diag().sum()) / 100)
    per_class = list(result["per_class_accuracy"].values())
    assert per_class == pytest.approx((cm.diag().float() / 10).tolist())


def test_a_run_from_older_code_is_set_aside_and_retrained(cifar_small):
    config = CONFIG.replace(epochs=1)
    first = train_or_load("alexnet", cifar_small, config, profile="smoke", progress=False)
    # simulate a library change: the saved weights lose a layer the model now has
    ckpt = torch.load(first.run_dir / "final.pt", weights_only=True)
    ckpt["model"].pop("classifier.7.bias")
    torch.save(ckpt, first.run_dir / "final.pt")
    with pytest.warns(UserWarning, match="another version of the model"):
        again = train_or_load("alexnet", cifar_small, config, profile="smoke", progress=False)
    assert again.run_dir == first.run_dir and (again.run_dir / "final.pt").exists()
    assert list(first.run_dir.parent.glob(f"{first.run_dir.name}.stale-*"))
    # retrained from the seed's fresh weights, not from what the stale checkpoint held
    for a, b in zip(first.model.state_dict().values(), again.model.state_dict().values()):
        assert torch.allclose(a.cpu(), b.cpu(), atol=1e-6)


def test_precision_auto_is_bf16_only_where_native_and_names_the_run(cifar_small, tmp_path):
    from course_lib.runtime.device import native_bf16, resolve_precision

    assert resolve_precision("auto", "cpu") == ("bf16" if native_bf16("cpu") else "fp32")
    assert resolve_precision("fp32", "cpu") == "fp32"
    with pytest.raises(ValueError, match="precision must be one of auto, bf16, fp32, fp16"):
        resolve_precision("half", "cpu")
    with pytest.raises(ValueError, match="precision must be one of"):
        TrainConfig(precision="half")

    config = CONFIG.replace(epochs=1)
    runs = {
        p: train_or_load("alexnet", cifar_small, config.replace(precision=p), progress=False,
                         runs_root=tmp_path, device="cpu")
        for p in ("fp32", "bf16")
    }  # fmt: skip
    assert runs["fp32"].run_dir != runs["bf16"].run_dir, "a precision is part of the run's name"
    assert {p: r.metrics["precision"] for p, r in runs.items()} == {"fp32": "fp32", "bf16": "bf16"}
    auto = train_or_load("alexnet", cifar_small, config, progress=False, runs_root=tmp_path,
                         device="cpu")  # fmt: skip
    assert auto.run_dir == runs[resolve_precision("auto", "cpu")].run_dir, "auto loads that run"


def test_load_only_never_trains(cifar_small, tmp_path):
    config = CONFIG.replace(epochs=1)
    assert train_or_load("alexnet", cifar_small, config, runs_root=tmp_path, progress=False,
                         load_only=True) is None  # fmt: skip
    assert not list(tmp_path.iterdir()), "nothing was created"
    run = train_or_load("alexnet", cifar_small, config, runs_root=tmp_path, progress=False)
    again = train_or_load("alexnet", cifar_small, config, runs_root=tmp_path, progress=False,
                          load_only=True)  # fmt: skip
    assert again is not None and again.run_dir == run.run_dir
    assert again.metrics["accuracy"] == run.metrics["accuracy"]
    assert run.metrics["selection_split"] == ("val" if cifar_small.has_val else "test")


def test_one_number_parameters_are_recorded_every_epoch_and_survive_a_reload(cifar_small):
    """SAGAN's gamma starts at 0 and moves; the history keeps its value after each epoch."""
    config = CONFIG.replace(epochs=2, image_size=32)
    kwargs = {"batch_norm": True, "classifier": "compact", "attention_after": [12]}
    run = train_or_load("vgg16", cifar_small, config, attention="self_attention",
                        model_kwargs=kwargs, progress=False)  # fmt: skip
    gammas = run.history.scalars["features.attn_12.gamma"]
    assert len(gammas) == 2 and gammas[-1] == run.model.features.attn_12.gamma.item()
    assert gammas[0] != 0.0  # trained away from its initial 0
    again = train_or_load("vgg16", cifar_small, config, attention="self_attention",
                          model_kwargs=kwargs, progress=False)  # fmt: skip
    assert again.history.scalars == run.history.scalars
