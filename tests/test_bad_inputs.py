"""Every user mistake of issue 11's table gets a clear message, and nothing is left behind.

Each case of ``CASES`` runs the command line in-process on tiny data (64 training and 32 test
images, one epoch) and checks the exit status, the message, that no temporary file is left
under the test's folder and how many run folders remain. Nothing is ever downloaded: the one
download case replaces torchvision's download by a network failure.
"""

from __future__ import annotations

import errno
import io
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import warnings
from urllib.error import URLError

import pytest
import torch
from PIL import Image

from course_lib.cli import build_parser, main
from course_lib.data import DatasetError, load_image_folder
from course_lib.models import build_model
from course_lib.names import ATTENTION_NAMES
from course_lib.runtime.atomic import remove_stale_temporaries
from course_lib.runtime.paths import resolve_env_paths
from course_lib.train import TrainConfig, fit
from course_lib.train.lock import run_lock

from .conftest import cifar_source

TINY = ["--set", "train_subset=64", "--set", "test_subset=32", "--batch-size", "32"]
TRAIN = ["train", "--profile", "smoke", "--data", cifar_source(), *TINY]


@pytest.fixture(scope="module")
def finished_runs(tmp_path_factory):
    """A runs folder holding one finished run of ``TRAIN``; cases copy it."""
    runs = tmp_path_factory.mktemp("template") / "runs"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COURSE_RUNS_DIR", str(runs))
        mp.setenv("COURSE_DOWNLOAD", "0")
        assert main(TRAIN) == 0
    return runs


def _run_dir(runs: pathlib.Path) -> pathlib.Path:
    (found,) = [p for p in runs.iterdir() if ".stale-" not in p.name]
    return found


def _png(color: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), color).save(buffer, format="PNG")
    return buffer.getvalue()


def _folder(root: pathlib.Path, train: list[str], test: list[str]) -> pathlib.Path:
    for split, classes in (("train", train), ("test", test)):
        for c, cls in enumerate(classes):
            (root / split / cls).mkdir(parents=True, exist_ok=True)
            for i in range(2):
                (root / split / cls / f"{i}.png").write_bytes(_png((40 * c, 10 * i, 0)))
    return root


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


# --- what each case prepares; it returns the command line ---------------------------------


def relative_data_path(tmp, mp, runs):
    (tmp / "elsewhere").mkdir()
    mp.chdir(tmp / "elsewhere")
    mp.setenv("COURSE_DATA", "../missing/cifar10-jpeg.tar.gz")
    return ["train", "--profile", "smoke", *TINY]


def notebooks_without_data(tmp, mp, runs):
    mp.setenv("COURSE_DATA", str(tmp / "missing.tar.gz"))
    return ["run-notebooks", "--profile", "smoke", "--output-dir", str(tmp / "executed")]


def download_fails(tmp, mp, runs):
    mp.delenv("COURSE_DATA", raising=False)
    mp.delenv("COURSE_DOWNLOAD")  # the default: download when nothing is found
    mp.setenv("COURSE_DATA_DIR", str(tmp / "data"))
    mp.setattr("course_lib.data.cifar10.repo_root", lambda: tmp / "repo")

    def offline(root, download):
        assert download, "nothing found locally: the default is to download"
        raise URLError("[Errno -3] Temporary failure in name resolution")

    mp.setattr("course_lib.data.cifar10._load_torchvision", offline)
    return ["train", "--profile", "smoke", *TINY]


def download_forbidden(tmp, mp, runs):
    download_fails(tmp, mp, runs)
    mp.setenv("COURSE_DOWNLOAD", "0")
    return ["train", "--profile", "smoke", *TINY]


def argv(*extra):
    return lambda tmp, mp, runs: [*TRAIN, *extra]


def read_only_runs(tmp, mp, runs):
    mkdir = pathlib.Path.mkdir

    def refuse(self, *args, **kwargs):  # as a read-only file system does (chmod binds no root)
        if str(self).startswith(str(runs)):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(self))
        return mkdir(self, *args, **kwargs)

    mp.setattr(pathlib.Path, "mkdir", refuse)
    return TRAIN


def full_disk(tmp, mp, runs):
    def save(obj, path):  # half a checkpoint, then the disk is full
        pathlib.Path(path).write_bytes(b"\0" * 4096)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    mp.setattr(torch, "save", save)
    return TRAIN


def copied_run(change):
    def prepare(tmp, mp, runs, template):
        shutil.copytree(template, runs)
        change(_run_dir(runs))
        return TRAIN

    prepare.needs_run = True
    return prepare


def stale_temporaries(run):
    (run / "metrics.json").unlink()  # unfinished, so it trains again
    (run / f".last.pt.tmp{_dead_pid()}").write_bytes(b"\0" * 1024)


def truncated_best(run):
    for name in ("best.pt", "final.pt"):  # one file when hard-linked
        data = (run / name).read_bytes()
        (run / name).write_bytes(data[: len(data) // 2])


def foreign_checkpoint(run):
    ckpt = torch.load(run / "final.pt", weights_only=True)
    ckpt["spec"] = {**ckpt["spec"], "attention": "se"}
    torch.save(ckpt, run / "final.pt")


def emptied(name):
    return lambda run: (run / name).write_text("" if name == "history.json" else '{"accur')


def one_class(tmp, mp, runs):
    return ["train", "--image-folder", str(_folder(tmp / "own", ["cats"], ["cats"])), *TINY]


def class_missing_from_test(tmp, mp, runs):
    folder = _folder(tmp / "own", ["cats", "dogs"], ["cats"])
    return ["train", "--image-folder", str(folder), *TINY]


def locked(tmp, mp, runs, template):
    shutil.copytree(template, runs)
    run = _run_dir(runs)
    (run / "metrics.json").unlink()
    lock = run_lock(run)  # held by this process, as by another training
    lock.__enter__()
    mp.setattr("course_lib.train.experiment.fit", lambda *a, **k: pytest.fail("trained twice"))
    return TRAIN, lock


locked.needs_run = True

# id, prepare, exit status, message (regex over stderr), run folders left
CASES = [
    ("relative-COURSE_DATA", relative_data_path, 2, r"Tried:\n  - {tmp}/missing/cifar10", 0),
    ("run-notebooks-no-data", notebooks_without_data, 2, r"CIFAR-10 was not found", 0),
    ("download-unreachable", download_fails, 2, r"network is unreachable.*COURSE_DATA", 0),
    ("download-forbidden", download_forbidden, 2, r"not allowed: COURSE_DOWNLOAD=0", 0),
    ("epochs-0", argv("--epochs", "0"), 2, r"argument --epochs: must be at least 1, got 0", 0),
    ("epochs-neg", argv("--epochs", "-1"), 2, r"--epochs: must be at least 1, got -1", 0),
    (
        "set-epochs-0",
        argv("--set", "epochs=0"),
        2,
        r"^error: epochs must be a whole number of at least 1, got 0",
        0,
    ),
    ("set-lr-abc", argv("--set", "lr=abc"), 2, r"^error: lr takes a number, got 'abc'", 0),
    ("set-bogus", argv("--set", "bogus=1"), 2, r"unknown setting 'bogus'; valid settings: .*lr", 0),
    ("batch-0", argv("--batch-size", "0"), 2, r"--batch-size: must be at least 1, got 0", 0),
    ("nan", argv("--set", "lr=1e6"), 2, r"loss became (nan|inf).*nothing was saved", 0),
    ("read-only", read_only_runs, 2, r"cannot create .*runs/alexnet-none-\w+: Read-only file", 0),
    ("disk-full", full_disk, 2, r"cannot write .*best.pt: No space left on device \(\d+ MB", 0),
    ("stale-temp", copied_run(stale_temporaries), 0, r"", 1),
    ("truncated-best", copied_run(truncated_best), 0, r"again: cannot read .*final.pt: .*trunc", 2),
    ("foreign-ckpt", copied_run(foreign_checkpoint), 0, r"another model: .*'se'.*'name'\n", 2),
    ("empty-history", copied_run(emptied("history.json")), 0, r"read .*history.json: .*empty", 2),
    ("cut-metrics", copied_run(emptied("metrics.json")), 0, r"read .*metrics.json: .*trunc", 2),
    ("one-class", one_class, 2, r"has 1 class folder \(cats\); a classifier needs at least two", 0),
    ("class-not-in-test", class_missing_from_test, 2, r"class\(es\) dogs have no test images", 0),
    ("locked", locked, 2, r"is being trained by process {pid}; wait for it", 1),
]


@pytest.mark.parametrize(
    "prepare, status, message, run_folders", [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_mistake(prepare, status, message, run_folders, tmp_path, monkeypatch, capsys, request):
    runs = tmp_path / "runs"
    args = (tmp_path, monkeypatch, runs)
    if getattr(prepare, "needs_run", False):
        args += (request.getfixturevalue("finished_runs"),)
    prepared = prepare(*args)
    command, lock = prepared if isinstance(prepared, tuple) else (prepared, None)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert main(command) == status
    finally:
        if lock is not None:
            lock.__exit__(None, None, None)
    err = capsys.readouterr().err + "".join(f"warning: {w.message}\n" for w in caught)
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    pattern = message.format(tmp=re.escape(str(tmp_path)), pid=os.getpid())
    assert re.search(pattern, err, re.M), err
    assert len(errors) == (status == 2), err  # one error line, and no traceback
    assert "Traceback" not in err
    assert not list(tmp_path.rglob(".*.tmp*")), "a temporary file was left behind"
    assert not list(tmp_path.rglob(".lock")), "a lock file was left behind"
    folders = list(runs.iterdir()) if runs.exists() else []
    assert len(folders) == run_folders, folders


def test_paths_from_the_environment_become_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COURSE_DATA", "../shared/data.tar.gz")
    monkeypatch.setenv("COURSE_RUNS_DIR", "runs")
    resolve_env_paths()
    assert os.environ["COURSE_DATA"] == str(tmp_path.parent / "shared" / "data.tar.gz")
    assert os.environ["COURSE_RUNS_DIR"] == str(tmp_path / "runs")


def test_debug_shows_the_traceback():
    with pytest.raises(ValueError, match="lr takes a number"):
        main(["--debug", *TRAIN, "--set", "lr=abc"])


def test_help_names_the_program_and_every_option(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["/usr/local/bin/course"])
    parser = build_parser()
    assert parser.prog == "course" and "::" not in parser.description
    monkeypatch.setattr(sys, "argv", ["/repo/course_lib/__main__.py"])
    assert build_parser().prog == "python -m course_lib"
    commands = parser._subparsers._group_actions[0].choices
    for name, command in commands.items():
        for action in command._actions:
            assert action.help, f"{name} {action.option_strings} has no help text"


def test_info_says_where_the_data_comes_from(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("COURSE_DATA", cifar_source())
    assert main(["info"]) == 0
    assert re.search(r"^data +/.*cifar10", capsys.readouterr().out, re.M)
    monkeypatch.setenv("COURSE_DATA", str(tmp_path / "nowhere"))
    assert main(["info"]) == 0
    assert re.search(r"^data +CIFAR-10 was not found", capsys.readouterr().out, re.M)


def test_a_changed_folder_dataset_is_read_again(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "data"))
    folder = _folder(tmp_path / "own", ["cats", "dogs"], ["cats", "dogs"])
    assert len(load_image_folder(folder).train_labels) == 4
    (folder / "train" / "dogs" / "2.png").write_bytes(_png((1, 2, 3)))  # deep in the tree
    image = folder / "train" / "cats" / "0.png"
    image.write_bytes(_png((9, 9, 9)))
    os.utime(image, ns=(0, 10**18))
    again = load_image_folder(folder)
    assert len(again.train_labels) == 5
    assert 9 in again.train_images[:, 0, 0, 0].tolist()


def test_a_dead_process_s_temporary_files_are_removed(tmp_path):
    dead, alive = tmp_path / f".x.pt.tmp{_dead_pid()}", tmp_path / f".y.pt.tmp{os.getpid()}"
    dead.write_bytes(b"1")
    alive.write_bytes(b"1")
    assert remove_stale_temporaries(tmp_path) == [dead]
    assert alive.exists() and not dead.exists()


def test_wall_time_accumulates_across_resumes(cifar_small, tmp_path):
    config = TrainConfig(epochs=1, batch_size=64, image_size=64, eval_batch_size=100)
    model = build_model("alexnet", image_size=64)
    first = fit(model, cifar_small, config, run_dir=tmp_path, progress=False)
    model = build_model("alexnet", image_size=64)
    resumed = fit(model, cifar_small, config.replace(epochs=2), run_dir=tmp_path, progress=False)
    assert resumed.elapsed[0] == first.elapsed[0]
    assert resumed.elapsed[1] > first.elapsed[0] + resumed.epoch_time[1]
    assert json.loads((tmp_path / "history.json").read_text())["elapsed"] == resumed.elapsed


def test_own_folder_classes_are_checked_by_the_library(tmp_path):
    with pytest.raises(DatasetError, match="at least two"):
        load_image_folder(_folder(tmp_path / "one", ["cats"], ["cats"]), use_cache=False)


def _tree_digest(folder: pathlib.Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


# issue 28: a mistyped name stops every command before it loads data, and no results file moves
NAME_MISTAKES = [
    (["sweep", "--attention", "none", "nope"], r"unknown attention module 'nope'.*Valid names: "
     + re.escape(", ".join(ATTENTION_NAMES)) + "$"),
    (["sweep", "--models", "alexnett"], r"unknown model 'alexnett'. Did you mean 'alexnet'\?"),
    (["sweep", "--profile", "quik"], r"unknown profile 'quik'; use one of"),
    (["sweep", "--seeds", "42", "42"], r"seeds repeat: \[42, 42\]"),
    (["sweep", "--set", "epoch=2"], r"unknown setting 'epoch'; valid settings:"),
    (["sweep", "--models", "epsanet50", "--attention", "se"], r"has its own attention built in"),
    (["train", "--attention", "nope"], r"unknown attention module 'nope'"),
    (["train", "--model", "alexnet", "--model-arg", "widht=2"], r"unexpected keyword.*'widht'"),
    (["train", "--set", "image_size=32"], r"AlexNet needs images of at least 57 px"),
    (["train", "--profile", "quik"], r"unknown profile 'quik'"),
    (["train-chapter", "08"], r"no variants listed for chapter '08'"),
    (["train-chapter", "05", "--only", "ResNet-SE"], r"no variant 'ResNet-SE'; their variants:"),
    (["run-notebooks", "--only", "42"], r"no notebook starts with 42; the notebooks: 00_setup"),
    (["run-notebooks", "--profile", "quik"], r"unknown profile 'quik'"),
    (["bench", "--attention", "nope"], r"unknown attention module 'nope'"),
]  # fmt: skip


@pytest.mark.parametrize(
    "argv, message", NAME_MISTAKES, ids=[" ".join(a) for a, _ in NAME_MISTAKES]
)
def test_a_mistyped_name_stops_before_data_and_changes_no_results(
    argv, message, tmp_path, monkeypatch, capsys
):
    results = tmp_path / "results"
    shutil.copytree(pathlib.Path(__file__).resolve().parents[1] / "results", results)
    monkeypatch.setenv("COURSE_RESULTS_DIR", str(results))
    before = _tree_digest(results)

    def no_data(*args, **kwargs):
        pytest.fail("data was loaded before the names were checked")

    for where in ("course_lib.data", "course_lib.data.cifar10"):
        monkeypatch.setattr(f"{where}.load_cifar10", no_data)
    monkeypatch.setattr("course_lib.data.load_course_data", no_data)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert re.search(message, err), err
    assert len(err.strip().splitlines()) == 1 and err.startswith("error: "), err
    assert _tree_digest(results) == before, "a results file changed"
    assert not (tmp_path / "runs").exists(), "a run folder was made"
