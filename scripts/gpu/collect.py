"""Bring what GPU jobs returned into the repository: results rows, bench JSON, histories, figures.

    python scripts/gpu/collect.py <folder the device tool returned> [...] --name gpu-h100-2026-11-26

Each folder holds a job's ``gpu-job.tar.gz`` and ``summary.md``. Rows of finished runs go to
``results/<profile>/`` (where the leaderboard reads them); everything else of the job (bench
JSON, packing, profiler tables, the CUDA tests' output, every run's history and metrics, the
job's summary) to ``results/<name>/job-<i>/``. Learning curves of the ``paper`` runs, finished
or stopped at the time limit, are drawn to ``figures/<name>-<px>px.png``, and a table of them
is printed in Markdown.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tarfile
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

import matplotlib  # noqa: E402

matplotlib.use("Agg")

from course_lib.experiments.results import source_reported  # noqa: E402
from course_lib.plots import plot_history  # noqa: E402
from course_lib.train import History  # noqa: E402


def unpack(job: Path, into: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp, tarfile.open(job / "gpu-job.tar.gz") as tar:
        tar.extractall(tmp, filter="data")
        for path in Path(tmp).rglob("*"):
            if path.is_file():
                target = into / path.relative_to(tmp)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, target)
    shutil.copy2(job / "summary.md", into / "summary.md")


def runs_of(folder: Path) -> list[dict]:
    """Every run folder the jobs returned: its config, history and (when finished) metrics."""
    runs = []
    for config in sorted(folder.glob("job-*/runs/*/config.json")):
        run = {"config": json.loads(config.read_text()), "dir": config.parent}
        run["history"] = History.from_dict(json.loads((config.parent / "history.json").read_text()))
        metrics = config.parent / "metrics.json"
        run["metrics"] = json.loads(metrics.read_text()) if metrics.exists() else None
        runs.append(run)
    return runs


def label(run: dict) -> str:
    model, train = run["config"]["model"], run["config"]["train"]
    return f"{model['name']}-{model.get('attention') or 'none'} s{train['seed']}"


def table(runs: list[dict]) -> str:
    lines = [
        "| run | px | lr | epochs done | test accuracy (last epoch) | best epoch (test) "
        "| source notebook reported (official files, best epoch) | train img/s | compiled |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for run in sorted(runs, key=lambda r: (-r["config"]["train"]["image_size"], label(r))):
        train, h, m = run["config"]["train"], run["history"], run["metrics"]
        done = f"{len(h.epoch)} of {train['epochs']}"
        name = (
            f"{run['config']['model']['name']}-{run['config']['model'].get('attention') or 'none'}"
        )
        reported = source_reported(name, train["image_size"])
        reported = f"{reported[0]['accuracy']:.2%}" if reported else ""
        best = max(range(len(h.val_acc)), key=h.val_acc.__getitem__)
        if m:
            speed, compiled = (
                f"{m['train_images_per_s']:,.0f}",
                "yes" if m.get("compiled") else "no",
            )
            last = f"{m['accuracy']:.2%}"
        else:  # stopped at the job's time limit: the speed is that of its training steps
            steps = sum(h.epoch_time[1:]) or sum(h.epoch_time)
            epochs = max(len(h.epoch_time) - 1, 1)
            speed, compiled = f"{50_000 * epochs / steps:,.0f} (epochs 2+)", "see job"
            last = f"stopped; {h.val_acc[-1]:.2%} at epoch {h.epoch[-1]}"
        lines.append(
            f"| {label(run)} | {train['image_size']} | {train['lr']:g} | {done} | {last} | "
            f"{h.val_acc[best]:.2%} (epoch {h.epoch[best]}) | "
            f"{reported} | {speed} | {compiled} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("jobs", nargs="+", type=Path, help="folders the device tool returned")
    parser.add_argument("--name", required=True, help="e.g. gpu-h100-2026-11-26")
    args = parser.parse_args()
    folder = REPO / "results" / args.name
    for i, job in enumerate(args.jobs, start=1):
        into = folder / f"job-{i}"
        unpack(job, into)
        for row in (into / "results").glob("*/*.json"):  # rows go where the leaderboard reads
            target = REPO / "results" / row.parent.name / row.name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(row, target)
        shutil.rmtree(into / "results", ignore_errors=True)
    runs = [r for r in runs_of(folder) if r["config"].get("profile") == "paper"]
    for size in sorted({r["config"]["train"]["image_size"] for r in runs}, reverse=True):
        chosen = [r for r in runs if r["config"]["train"]["image_size"] == size]
        histories = {label(r): r["history"] for r in sorted(chosen, key=label)}
        fig = plot_history(histories, title=f"paper profile at {size} px ({args.name})")
        path = REPO / "figures" / f"{args.name}-{size}px.png"
        fig.savefig(path, dpi=110)
        print(f"wrote {path.relative_to(REPO)}")
    print(table(runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
