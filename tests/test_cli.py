"""The command line and the notebook runner."""

from __future__ import annotations

import nbformat
import pytest

from course_lib.cli import main
from course_lib.models import alexnet_feature_sizes
from course_lib.notebook_runner import format_summary, run_notebooks
from course_lib.profiles import get_profile
from course_lib.train import TrainConfig

from .conftest import cifar_source


def test_unknown_model_is_an_error_listing_the_valid_names(capsys):
    assert main(["train", "--model", "alexnt"]) == 2
    err = capsys.readouterr().err
    assert "unknown model 'alexnt'" in err and "alexnet" in err


def test_train_command_writes_a_run(tmp_path, capsys):
    argv = ["train", "--profile", "smoke", "--data", cifar_source(), "--batch-size", "32"]
    argv += ["--set", "train_subset=64", "--set", "test_subset=20", "--set", "log_every=1"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert '"profile": "smoke"' in out and '"train_images": 64' in out
    runs = list((tmp_path / "runs").glob("alexnet-none-*/final.pt"))
    assert len(runs) == 1


@pytest.mark.parametrize("flag", [["--seed", "50"], ["--set", "seed=50"]])
def test_train_seed_is_the_runs_seed_not_the_training_subsets(flag, monkeypatch, capsys):
    """The chapters train every seed on the subset drawn with the profile's main seed, and a
    run's name does not record the subset: ``train --seed 50`` must draw the same subset, or it
    would train (and cache under the chapter's name) a run on other images."""
    import course_lib.data

    seen = []

    def recording_loader(profile, source=None):
        seen.append(profile.seed)
        raise ValueError("stop before training")

    monkeypatch.setattr(course_lib.data, "load_course_data", recording_loader)
    assert main(["train", "--profile", "quick", *flag]) == 2
    assert seen == [get_profile("quick").seed] == [42]
    assert "stop before training" in capsys.readouterr().err


def test_train_variant_trains_a_chapters_network_as_the_chapter_does(monkeypatch, capsys):
    """``train --variant '07:ResNet + self-attention' --seed 50`` (how a confirmatory seed of
    chapters 05-07 is trained) passes train_or_load what ``train_chapter`` passes for seed 50 (the
    config of the chapter's setting at that seed, the variant's model, attention, model
    arguments and name: the same run folder), on the subset the chapter draws (its main seed's).
    Bad requests name what to do."""
    import course_lib.data
    import course_lib.train
    from course_lib.profiles import experiment_settings
    from course_lib.variants import RESNET_SELF_ATTENTION

    calls = []

    def recording(model, data, config, attention=None, **kw):
        calls.append((model, config, attention, kw["model_kwargs"], kw["name"], data))
        raise RuntimeError("stop before training")

    monkeypatch.setattr(course_lib.data, "load_course_data", lambda p, source=None: p)
    monkeypatch.setattr(course_lib.train, "train_or_load", recording)
    argv = [
        "train",
        "--profile",
        "quick",
        "--variant",
        "07:ResNet + self-attention",
        "--seed",
        "50",
    ]
    assert main(argv) == 2 and "stop before training" in capsys.readouterr().err
    setting = experiment_settings(get_profile("quick"), "cifar32")
    (call,) = calls
    assert call[:5] == ("cifar_resnet", TrainConfig.from_profile(setting, seed=50),
                        "self_attention", RESNET_SELF_ATTENTION, None)  # fmt: skip
    assert call[1].image_size == 32 and call[5].train_subset == 45_000 and call[5].seed == 42
    for bad, says in ((["--variant", "07:ResNet-SA"], "has no variant"),
                      (["--variant", "07"], "CHAPTER:LABEL"),
                      (["--variant", "07:ResNet", "--attention", "se"], "drop --model"),
                      (["--variant", "07:VGG16-BN"], "not trained in the 'quick'")):  # fmt: skip
        assert main(["train", "--profile", "quick", *bad]) == 2
        assert says in capsys.readouterr().err


def test_train_writes_the_row_a_chapter_writes(tmp_path, capsys):
    """``--write-result`` writes what a chapter's report writes: FLOPs, the per-epoch curves
    the readings check, the recipe and the CPU kind."""
    import json

    argv = ["train", "--profile", "smoke", "--data", cifar_source(), "--batch-size", "32",
            "--set", "train_subset=64", "--set", "test_subset=20", "--set", "val_size=20",
            "--write-result", "01_alexnet_baseline"]  # fmt: skip
    assert main(argv) == 0
    assert "wrote smoke/alexnet-none-s42__" in capsys.readouterr().out
    (path,) = (tmp_path / "results" / "smoke").glob("alexnet-none-s42__*.json")
    row = json.loads(path.read_text())
    assert len(row["val_accuracy_per_epoch"]) == len(row["train_accuracy_per_epoch"]) == 1
    assert row["flops"] > 0 and row["augment"] is True and row["chapter"] == "01_alexnet_baseline"
    assert "cpu_isa" in row


def test_train_command_passes_model_arguments(tmp_path, capsys):
    argv = ["train", "--profile", "smoke", "--data", cifar_source(), "--model", "vgg16"]
    argv += ["--model-arg", "classifier=compact", "--image-size", "32", "--batch-size", "32"]
    argv += ["--set", "train_subset=32", "--set", "test_subset=10", "--set", "log_every=1"]
    assert main(argv) == 0
    assert '"params": 15245130' in capsys.readouterr().out  # the compact head, not 134M


def test_profiles(monkeypatch):
    monkeypatch.setenv("COURSE_PROFILE", "smoke")
    assert get_profile().name == "smoke"
    monkeypatch.setenv("COURSE_PROFILE", "fast")
    with pytest.raises(ValueError, match="smoke"):
        get_profile()
    quick = get_profile("quick")
    config = TrainConfig.from_profile(quick, lr=5e-4)
    assert (config.image_size, config.batch_size, config.lr) == (quick.image_size, 128, 5e-4)
    # the CPU profile sits in the papers' regime: AlexNet's conv3-5 maps are at least 5x5
    sizes = dict(alexnet_feature_sizes(quick.image_size))
    assert min(sizes["conv3"], sizes["conv4"], sizes["conv5"]) >= 5, sizes
    assert len(quick.seeds) >= 3 and quick.val_size
    paper = get_profile("paper")
    assert (paper.image_size, paper.epochs, paper.batch_size) == (224, 50, 128)
    with pytest.raises(ValueError, match="unknown profile field"):
        paper.replace(epoch=3)


def test_a_profile_is_the_one_run_configuration():
    quick = get_profile("quick")
    changed = quick.with_overrides({"epochs": 2, "precision": "fp32", "seeds": [1, 2], "lr": None})
    assert (changed.epochs, changed.precision, changed.seeds) == (2, "fp32", (1, 2))
    assert changed.lr == quick.lr, "None leaves a setting as it is"
    with pytest.raises(ValueError, match="precision must be one of auto, bf16, fp32, fp16"):
        quick.with_overrides({"precision": "half"})
    with pytest.raises(ValueError, match="augment takes True or False"):
        quick.with_overrides({"augment": 1})
    with pytest.raises(ValueError, match="epochs must be a whole number of at least 1"):
        quick.with_overrides({"epochs": 0})
    # the training part names the run's folder: these values are the committed runs' names
    assert TrainConfig.from_profile(quick, seed=43).as_dict() == {
        "epochs": 6, "batch_size": 128, "lr": 1e-3, "weight_decay": 1e-5, "label_smoothing": 0.1,
        "seed": 43, "image_size": 128, "augment": True, "log_every": 10, "eval_batch_size": 500,
        "precision": "auto", "schedule_epochs": 50,
    }  # fmt: skip
    # a schedule as long as the training is no schedule setting: the run keeps its old name
    whole = TrainConfig.from_profile(quick, epochs=5, schedule_epochs=5)
    assert "schedule_epochs" not in whole.as_dict() and whole.schedule_length == 5


def _notebook(path, code: str) -> None:
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("value = 1")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(code)]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, path)


def test_run_notebooks_goes_on_after_a_failure(tmp_path):
    folder = tmp_path / "nbs"
    folder.mkdir()
    _notebook(folder / "00_ok.ipynb", "import os\nassert os.environ['COURSE_PROFILE'] == 'smoke'")
    _notebook(folder / "01_broken.ipynb", "raise RuntimeError('boom')")
    _notebook(folder / "02_ok.ipynb", "print(value)")
    results = run_notebooks("smoke", output_dir=tmp_path / "out", notebooks_dir=folder)
    assert [r.ok for r in results] == [True, False, True]
    assert "boom" in results[1].error
    assert (tmp_path / "out" / "02_ok.ipynb").exists()
    assert (tmp_path / "out" / "summary.json").exists()
    assert format_summary(results).endswith("2 passed, 1 failed")


def test_parsing_the_command_line_imports_no_torch():
    """--help and argument errors answer at once: parsing imports neither torch nor matplotlib
    (a fresh interpreter, since this one has imported them already)."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from course_lib.cli import build_parser\n"
        "for argv in (['train', '--model', 'alexnet'], ['sweep', '--attention', 'nope']):\n"
        "    build_parser().parse_args(argv)\n"
        "print(sorted(m for m in ('torch', 'torchvision', 'matplotlib') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_the_command_line_offers_exactly_the_registered_names():
    from course_lib import names
    from course_lib.attention import list_attention
    from course_lib.models import list_models
    from course_lib.runtime.compile import COMPILE_MODES
    from course_lib.runtime.device import PRECISIONS
    from course_lib.variants import CHAPTER_VARIANTS

    assert list(names.MODEL_NAMES) == list_models()
    assert list(names.ATTENTION_NAMES) == list_attention()
    assert names.COMPILE_MODES == COMPILE_MODES
    assert names.PRECISIONS == PRECISIONS
    assert list(names.CHAPTERS_WITH_VARIANTS) == sorted(CHAPTER_VARIANTS)


def test_the_progress_line_names_the_run_and_the_time_left(tmp_path):
    """What a kernel's training writes is what run-notebooks shows: the run, its epoch and
    step, and the time left for the run, the chapter and the course."""
    import io
    import json

    from course_lib.notebook_runner import CHAPTER_MINUTES, ProgressWatcher, describe_progress
    from course_lib.train.progress import ProgressFile

    class Bar:  # what tqdm's bar offers the loop
        n = 0

        def update(self, n=1):
            pass

        def set_postfix(self, **kw):
            pass

        def close(self):
            pass

    path = tmp_path / "progress.json"
    bar = ProgressFile(Bar(), str(path), "alexnet-triplet", 43, epochs=5, steps_per_epoch=125)
    for _ in range(250):
        bar.update()
    bar._write(force=True)
    state = json.loads(path.read_text())
    assert (state["epoch"], state["step"], state["steps"]) == (3, 250, 625)
    state["seconds_per_step"] = 0.48  # 375 steps left: 3 minutes
    line = describe_progress(state, "quick", "02_triplet_attention.ipynb", 240.0, ["03", "04"])
    assert "training alexnet-triplet seed 43, epoch 3/5 (step 250/625), ~3 min left" in line
    minutes = CHAPTER_MINUTES["quick"]
    chapter_left = minutes["02"] - 4  # 4 min in
    course_left = chapter_left + minutes["03"] + minutes["04"]
    course = (
        f"{course_left} min"
        if course_left < 60
        else f"{course_left // 60} h {course_left % 60:02d} min"
    )
    assert f"chapter ≤ {chapter_left} min, course ≤ {course} left" in line

    out = io.StringIO()  # not a terminal: one plain line per run and epoch, no repeats
    watcher = ProgressWatcher(path, "quick", "02_triplet_attention.ipynb", [], stream=out)
    watcher.show()
    watcher.show()
    assert out.getvalue().count("\n") == 1 and "\r" not in out.getvalue()


def test_interventions_and_gate_readings_read_finished_runs_and_name_missing_ones(
    tmp_path, capsys, monkeypatch
):
    import json

    monkeypatch.setenv("COURSE_DATA", cifar_source())
    assert main(["train", "--profile", "smoke", "--attention", "triplet"]) == 0
    capsys.readouterr()
    argv = ["--profile", "smoke", "--attention", "triplet", "--seeds", "42"]
    assert main(["gate-readings", *argv]) == 0
    rows = json.loads((tmp_path / "results" / "gates-smoke.json").read_text())
    assert {(r["state"], r["bn"]) for r in rows} == {
        (s, b) for s in ("untrained", "trained") for b in ("default", "recalibrated")
    }
    assert main(["interventions", *argv, "--only", "as_trained", "gate_mean"]) == 0
    rows = json.loads((tmp_path / "results" / "interventions-smoke.json").read_text())
    assert [r["intervention"] for r in rows] == ["as_trained", "gate_mean"]
    capsys.readouterr()
    assert main(["gate-readings", "--profile", "smoke", "--attention", "se", "--seeds", "42"]) == 1
    err = capsys.readouterr().err
    assert "no finished run" in err and "alexnet-se seed 42" in err
