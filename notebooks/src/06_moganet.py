# %% [markdown]
# # 06 · MogaNet: multi-order gated aggregation
#
# *Li, Wang, Liu, Tan, Lin, Wu, Chen, Zheng, Li — "MogaNet: Multi-order Gated Aggregation
# Network", ICLR 2024 (arXiv 2211.03295).*
#
# MogaNet is not a module for someone else's network but a whole ConvNet built around a gated
# attention-like mixer. Its authors observe that deep networks favour very local (low-order) and
# very global (high-order) interactions and under-use the middle; MogaNet's blocks force the
# *middle-order* interactions in with three ingredients — feature decomposition, a multi-order
# depthwise branch, and gating — while staying a pure, cheap ConvNet. This chapter builds the
# pieces, tabulates the arch zoo with the library's own parameter and FLOP counts, explains a bug
# in seed 002's channel-aggregation block, and trains MogaNet-XT on CIFAR-10.

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
arch = "moganet_xtiny"
# seed 002: 224 px, 100 epochs, lr 1e-3. Off a GPU: reduced to what a CPU finishes in minutes.
REDUCED = {"paper": (224, 100, 128, None, None), "quick": (32, 3, 64, 5000, 1000), "smoke": (32, 1, 32, 64, 50)}
moga_image_size, moga_epochs, moga_batch_size, moga_train_subset, moga_test_subset = REDUCED[P.name]

# %%
import inspect

import matplotlib.pyplot as plt
import torch

from course_lib.chapter import compare_runs, fixed_test_images, load_course_data, prediction_strip, report, train_variant
from course_lib.device import device_name
from course_lib.measure import count_flops, count_params
from course_lib.models import build_model
from course_lib.models.moganet import (
    MOGANET_ARCHS,
    ChannelAggregationFFN,
    MogaBlock,
    MultiOrderDWConv,
    MultiOrderGatedAggregation,
)
from course_lib.plots import plot_history

P = get_profile(profile, image_size=image_size, epochs=epochs, batch_size=batch_size, lr=lr,
                seed=seed, seeds=tuple(seeds))
plt.rcParams.update({"figure.dpi": 72})
print(f"profile {P.name} | device {device_name()} | {P}")

# %% [markdown]
# ## 1 · The Moga block
#
# Like a Transformer block, a Moga block mixes space, then channels, each behind a norm, a layer
# scale $\gamma$ (initialised to $10^{-5}$) and a residual:
# $$ X \leftarrow X + \gamma_1 \odot \mathrm{Moga}(\mathrm{BN}(X)), \qquad
#    X \leftarrow X + \gamma_2 \odot \mathrm{CA}(\mathrm{BN}(X)). $$

# %%
print(inspect.getsource(MogaBlock.forward))

# %% [markdown]
# ### Feature decomposition (FD)
#
# A $1\times1$ projection gives $Y$; then the block pushes $Y$ *away* from its global average,
# $$ Z = \mathrm{SiLU}\big(Y + \gamma_s \odot (Y - \mathrm{GAP}(Y))\big), $$
# with a learned per-channel scale $\gamma_s$. $\mathrm{GAP}(Y)$ is the 0-order, image-wide
# interaction; subtracting a learned share of it leaves the local and middle-order structure
# relatively stronger.
#
# ### Multi-order gated aggregation
#
# $Z$ feeds two branches. The **gate** is a $1\times1$ convolution, $G = W_g Z$. The **value**
# is a multi-order depthwise branch: a $5\times5$ depthwise convolution on all channels, then the
# channels are split 1 : 3 : 4; the 3/8 part gets a $5\times5$ depthwise convolution with
# dilation 2, the 4/8 part a $7\times7$ with dilation 3 (receptive fields of 9 and 19 pixels), the
# 1/8 part stays; concatenated and mixed by a $1\times1$ convolution. Output:
# $$ \mathrm{Moga}(X) = W_o\big(\mathrm{SiLU}(G) \odot \mathrm{SiLU}(V)\big) + X . $$
# The gate decides, per position and channel, how much of each context order passes.

# %%
print(inspect.getsource(MultiOrderGatedAggregation.feature_decompose))
print(inspect.getsource(MultiOrderGatedAggregation.forward))
print(inspect.getsource(MultiOrderDWConv.forward))

# %% [markdown]
# ### Channel aggregation FFN, and seed 002's bug
#
# The FFN expands channels ($1\times1$), mixes locally ($3\times3$ depthwise), applies GELU, and
# then reallocates channel information with a second decomposition:
# $$ \mathrm{CA}(Y) = Y + \gamma_c \odot \big(Y - \mathrm{GELU}(Y W_r)\big), $$
# where $W_r$ is a $1\times1$ convolution to **one** channel: $\mathrm{GELU}(Y W_r)$ is a single
# map summarising all channels at each position, and the block learns how far each channel
# moves away from it. Seed 002 computes `decompose = self.decompose(x)` and then overwrites it
# with `self.act(x)`, so its FFN subtracts $\mathrm{GELU}(Y)$ from $Y$ channel by channel —
# no aggregation across channels at all, while the unused $W_r$ still counts in its parameter
# summary. `course_lib` follows the official code:

# %%
print(inspect.getsource(ChannelAggregationFFN.feature_decompose))

# %%
# NBVAL_CHECK_OUTPUT
torch.manual_seed(0)
block = MogaBlock(64, ffn_ratio=4)
x = torch.randn(2, 64, 14, 14)
print("Moga block:", tuple(x.shape), "->", tuple(block(x).shape), f"| {count_params(block):,d} parameters")

# %% [markdown]
# ## 2 · The arch zoo
#
# Six sizes, from 3 M to 181 M parameters. Parameters and FLOPs below are computed by
# `course_lib` at 224 px and 1000 classes (the models are built on PyTorch's `meta` device, so
# no memory is used); the paper lists XT 2.97 M / 0.80 G multiply-adds and T 5.20 M / 1.10 G.

# %%
# NBVAL_CHECK_OUTPUT
print(f"{'arch':8s} {'dims':22s} {'depths':14s} {'params':>13s} {'GMACs':>7s}")
for name, cfg in MOGANET_ARCHS.items():
    with torch.device("meta"):
        net = build_model(f"moganet_{name}", num_classes=1000)
    print(f"{name:8s} {str(cfg['embed_dims']):22s} {str(cfg['depths']):14s} "
          f"{count_params(net):>13,d} {count_flops(net, 224) / 2e9:7.2f}")

# %% [markdown]
# ## 3 · Training MogaNet-XT on CIFAR-10
#
# Seed 002 trained MogaNet-XT at 224 px for 100 epochs (lr 1e-3) and reported no accuracy, only
# 707 images/s at inference. The `paper` profile trains it with the course's recipe at that
# size; on a CPU the run is **reduced** as printed — its accuracy shows the pipeline working,
# not what MogaNet can do.

# %%
M = P.replace(image_size=moga_image_size, epochs=moga_epochs, batch_size=moga_batch_size,
              train_subset=moga_train_subset, test_subset=moga_test_subset)
reduced = "" if P.name == "paper" else " (REDUCED for the CPU)"
print(f"{arch}{reduced}: {M.image_size} px, {M.epochs} epochs, batch {M.batch_size}, "
      f"train images {M.train_subset or 'all'}, test images {M.test_subset or 'all'}, seed {M.seed}")
mdata = load_course_data(M)
moga = train_variant(mdata, M, model=arch, seeds=[M.seed])[0]
print(compare_runs({"MogaNet-XT": moga}, {"MogaNet-XT": count_flops(moga.model, M.image_size)}))

# %%
fig = plot_history({"MogaNet-XT": moga.history}, title=f"MogaNet-XT{reduced}, {M.image_size} px")
plt.show()

# %%
fig = prediction_strip(moga, mdata, fixed_test_images(mdata, n=18))
plt.show()

# %% [markdown]
# ## 4 · Results

# %%
print(report(moga, "06_moganet", reduced=P.name != "paper"))

# %% [markdown]
# ## Exercises
#
# 1. Set the feature-decomposition scales $\gamma_s$ and $\gamma_c$ to zero and freeze them. What
#    is left of the block?
# 2. Re-create seed 002's bug (replace `self.decompose(x)` by `x` in the FFN) and count the
#    parameters that no longer receive a gradient.
# 3. Compute the receptive field of the value branch: a 5×5 convolution followed by a 7×7 with
#    dilation 3.
# 4. Build `moganet_tiny` and compare its parameters and FLOPs with AlexNet at 224 px. Which one
#    would you expect to train faster on a GPU, and why might the answer differ on a CPU?
