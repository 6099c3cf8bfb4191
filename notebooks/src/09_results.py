# %% [markdown]
# # 09 · Results: one leaderboard
#
# Every chapter wrote one results file per finished run to `results/<profile>/`. This chapter
# reads them all and builds one table: accuracy as mean ± standard deviation over seeds with a 95 %
# confidence interval, a Welch t-test against the baseline trained with the same settings,
# parameters, FLOPs, training and inference throughput, device, profile and data source — with the
# seeds' reported numbers beside ours. Missing, duplicate or unreadable files are listed, not
# fatal.

# %%
# On Colab: fetch the course and install course_lib (elsewhere this cell does nothing).
import os
import subprocess
import sys

COURSE_REPO = os.environ.get("COURSE_REPO", "https://github.com/cnn-attention-course/course")
if "google.colab" in sys.modules and not os.path.exists("/content/course"):
    subprocess.run(["git", "clone", "--depth", "1", COURSE_REPO, "/content/course"], check=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-e", "/content/course"], check=True)
    sys.path.insert(0, "/content/course")
    os.environ["COURSE_DOWNLOAD"] = "1"  # Colab is online: torchvision may fetch CIFAR-10

# %% tags=["parameters"]
from course_lib.profiles import get_profile

P = get_profile()  # COURSE_PROFILE, or automatic: paper on a GPU, quick on a CPU
profile = P.name
image_size = P.image_size
epochs = P.epochs
batch_size = P.batch_size
lr = P.lr
seed = P.seed  # the run whose curves, predictions and CAMs are shown
seeds = list(P.seeds)  # every seed trained; [seed] alone is faster, but shows no spread
baseline = "alexnet-none"

# %%
from pathlib import Path

import matplotlib.pyplot as plt
from IPython.display import Markdown, display

from course_lib.device import device_name
from course_lib.leaderboard import build_leaderboard, format_markdown, plot_tradeoffs
from course_lib.paths import figures_dir, results_dir

P = get_profile(profile, image_size=image_size, epochs=epochs, batch_size=batch_size, lr=lr,
                seed=seed, seeds=tuple(seeds))
plt.rcParams.update({"figure.dpi": 72})
print(f"profile {P.name} | device {device_name()} | results from {results_dir() / P.name}")

# %% [markdown]
# ## 1 · The table
#
# "vs baseline" compares a variant with AlexNet trained at the same size, epochs and data: the
# difference in points, and Welch's t-test (unequal variances, two-sided, 5 %) over the seeds.
# With one run per side no test is possible and the table says so. Rows marked *reduced* are the
# CPU versions of chapters 05-07 (smaller images, subsets, fewer epochs): they show the pipeline,
# not the architectures' ability.

# %%
board = build_leaderboard(results_dir(), profile=P.name, baseline=baseline)
table = format_markdown(board)
display(Markdown(table))
for note in board.notes():
    print(note)

# %% [markdown]
# ## 2 · What the seeds reported, and what we see
#
# | seed | claim | setting |
# |---|---|---|
# | 000 | AlexNet 82.42 % → AlexNet-TA 87.77 % (+5.35) | 224 px, 50 epochs, official CIFAR-10, one run each |
# | 001 | AlexNet 84.286 % → AlexNet-SimAM 84.355 % (+0.07) | 128 px, 50 epochs, official CIFAR-10, one run each |
#
# The last column of the table repeats those numbers next to runs of the same size; they are
# comparable with ours only in the `paper` profile (same size and epochs, though our offline data
# is a JPEG copy and our recipe adds no Mixup). What *can* be compared at any profile is the
# direction and the size of a difference against the spread of seeds: a +0.07 point difference
# from one run each is far below the run-to-run standard deviation of this network, so seed
# 001's result is noise until several seeds say otherwise.

# %%
for e in board.entries:
    if e.verdict:
        print(f"{e.name:22s} {e.verdict}")

# %% [markdown]
# ## 3 · Accuracy against cost
#
# Left: accuracy against parameters; right: against training throughput on the device that
# trained them (error bars: standard deviation over seeds). The figure is written to `figures/`
# for the README.

# %%
figure_path = figures_dir() / f"leaderboard-{P.name}.png"
figure_path.parent.mkdir(parents=True, exist_ok=True)
fig = plot_tradeoffs(board, figure_path)
plt.show()
(results_dir() / f"leaderboard-{P.name}.md").write_text(table + "\n\n" + "\n".join(board.notes()) + "\n")
print(f"wrote {figure_path.relative_to(figure_path.parents[1])} and results/leaderboard-{P.name}.md")

# %% [markdown]
# ## Exercises
#
# 1. Train two more seeds of the variant with the smallest difference to the baseline
#    (`python -m course_lib train --attention ... --seed 45`) and rebuild the table. Does the
#    verdict change?
# 2. Which variant gives the most accuracy per extra parameter? Per lost image/s?
# 3. Copy a results file under another name and rebuild: how does the leaderboard treat the
#    duplicate?
