# %% [markdown]
# # 04 · The references: Squeeze-and-Excitation and CBAM
#
# *Hu, Shen, Sun — "Squeeze-and-Excitation Networks", CVPR 2018.*
# *Woo, Park, Lee, Kweon — "CBAM: Convolutional Block Attention Module", ECCV 2018.*
#
# Triplet Attention and SimAM both measure themselves against these two modules. SE learns one
# weight per channel from the channel's global average; CBAM adds a max-pooled descriptor and
# then a spatial gate — which is exactly Triplet Attention's H-W branch. This chapter builds both,
# counts their parameters by formula, trains them with the same recipe, and puts all five
# AlexNet variants of chapters 01-04 side by side.

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
reduction = 16  # r, the SE / CBAM bottleneck ratio (the papers' value)
reference_seeds = list(seeds)  # seeds for SE and CBAM; [seed] alone halves the CPU time

# %%
import inspect

import matplotlib.pyplot as plt
import torch

from course_lib.attention import CBAM, SqueezeExcite
from course_lib.attention.se import se_hidden_channels
from course_lib.chapter import (
    cam_comparison,
    compare_runs,
    fixed_test_images,
    load_course_data,
    prediction_strip,
    report,
    seed_table,
    train_variant,
)
from course_lib.device import device_name
from course_lib.measure import count_flops, count_params
from course_lib.models import ALEXNET_CONVS, build_model
from course_lib.plots import plot_history

P = get_profile(profile, image_size=image_size, epochs=epochs, batch_size=batch_size, lr=lr,
                seed=seed, seeds=tuple(seeds))
plt.rcParams.update({"figure.dpi": 72})
print(f"profile {P.name} | device {device_name()} | {P}")

# %% [markdown]
# ## 1 · Squeeze-and-Excitation
#
# **Squeeze:** global average pooling turns each channel $c$ of $X \in \mathbb R^{C\times H\times W}$
# into one number, $z_c = \frac{1}{HW}\sum_{i,j} x_c(i,j)$.
# **Excite:** a two-layer bottleneck MLP maps $z$ to channel weights,
# $s = \sigma\big(W_2\,\delta(W_1 z)\big)$ with $W_1 \in \mathbb R^{h\times C}$,
# $W_2 \in \mathbb R^{C\times h}$, $\delta$ = ReLU and $h = C/r$.
# **Scale:** $\tilde x_c = s_c\, x_c$.
#
# Parameters (with biases): $Ch + h + hC + C$. `course_lib` keeps $h \ge 8$ so that AlexNet's
# 48-channel layer does not get a 3-unit bottleneck (the paper's $C/16$ would).

# %%
print(inspect.getsource(SqueezeExcite.gate))

# %% [markdown]
# ## 2 · CBAM: channel, then space
#
# **Channel attention** uses both an average- and a max-pooled descriptor through one shared MLP:
# $$ M_c(F) = \sigma\big(\mathrm{MLP}(\mathrm{AvgPool}(F)) + \mathrm{MLP}(\mathrm{MaxPool}(F))\big),
#    \qquad F' = M_c(F) \otimes F . $$
# **Spatial attention** pools across channels (max and mean: Triplet Attention's Z-pool) and runs
# a $7\times7$ convolution:
# $$ M_s(F') = \sigma\big(f^{7\times7}([\mathrm{MaxPool}_c(F');\ \mathrm{AvgPool}_c(F')])\big),
#    \qquad F'' = M_s(F') \otimes F' . $$
# Following the official code, the convolution has no bias and is followed by a BatchNorm.
# Parameters: $2Ch + h + C$ for the MLP and $2k^2 + 2$ for the spatial gate.
#
# Where Triplet Attention differs: its two other branches replace CBAM's channel MLP, which sees
# the channel only as a global average, by gates over (C, W) and (C, H) planes that keep one
# spatial axis — and they cost 200 parameters at any width instead of $2Ch + h + C$.

# %%
print(inspect.getsource(CBAM.forward))

# %% [markdown]
# ## 3 · Parameters by formula, checked

# %%
# NBVAL_CHECK_OUTPUT
print(f"{'C':>5s} {'h':>4s} {'SE formula':>11s} {'SE model':>9s} {'CBAM formula':>13s} {'CBAM model':>11s}")
for c in (48, 128, 192):
    h = se_hidden_channels(c, reduction)
    se_formula = c * h + h + h * c + c
    cbam_formula = 2 * c * h + h + c + 2 * 7 * 7 + 2
    print(f"{c:5d} {h:4d} {se_formula:11,d} {count_params(SqueezeExcite(c, reduction)):9,d} "
          f"{cbam_formula:13,d} {count_params(CBAM(c, reduction)):11,d}")

print()
for size in (224, 64):
    counts = {a or "none": count_params(build_model("alexnet", attention=a, image_size=size))
              for a in (None, "se", "cbam", "triplet", "simam")}
    base = counts["none"]
    print(f"{size} px: " + ", ".join(f"{k} +{v - base:,d}" for k, v in counts.items() if k != "none"))

# %% [markdown]
# ## 4 · Training
#
# The same recipe, data and seeds as chapters 01-03. The baseline, Triplet Attention and SimAM
# runs are loaded from those chapters when they have finished with these settings.

# %%
data = load_course_data(P)
variants = {name: train_variant(data, P, attention=att, seeds=run_seeds) for name, att, run_seeds in
            [("AlexNet", None, seeds), ("AlexNet-SE", "se", reference_seeds),
             ("AlexNet-CBAM", "cbam", reference_seeds), ("AlexNet-TA", "triplet", seeds),
             ("AlexNet-SimAM", "simam", seeds)]}
main = {name: runs[0] for name, runs in variants.items()}
flops = {name: count_flops(run.model, P.image_size) for name, run in main.items()}
print(compare_runs(main, flops))

# %%
fig = plot_history({n: main[n].history for n in ("AlexNet", "AlexNet-SE", "AlexNet-CBAM")},
                   title=f"{P.image_size} px, seed {P.seed}")
plt.show()

# %% [markdown]
# **All five, over seeds.** Each variant against the baseline with Welch's t-test: significant only
# when p < 0.05, otherwise within noise. A variant with one run cannot be tested at all.

# %%
print(seed_table(variants, baseline="AlexNet"))

# %% [markdown]
# ## 5 · Predictions and GradCAM

# %%
fig = prediction_strip(main["AlexNet-CBAM"], data, fixed_test_images(data, n=18))
plt.show()

# %%
fig = cam_comparison({n: main[n] for n in ("AlexNet", "AlexNet-SE", "AlexNet-CBAM")}, data,
                     fixed_test_images(data, n=8))
plt.show()

# %% [markdown]
# ## 6 · Results

# %%
for name in ("AlexNet-SE", "AlexNet-CBAM"):
    for run in variants[name]:
        print(report(run, "04_se_and_cbam"))

# %% [markdown]
# ## Exercises
#
# 1. Remove the max-pooled descriptor from CBAM's channel attention. What is left, and how does
#    it differ from SE?
# 2. Set `reduction = 4`. How many parameters does AlexNet-SE gain, and does accuracy move by more
#    than the seed spread?
# 3. Reverse CBAM's order (spatial first, then channel) by composing `SpatialAttention` and
#    `ChannelAttention` yourself, register it with `register_attention`, and train it.
# 4. Count the FLOPs of SE's MLP at 224 px. Why does `FlopCounterMode` report almost nothing for
#    SE, and which operation does it miss?
