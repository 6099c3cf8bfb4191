# %% [markdown]
# # 05 · EPSANet: pyramid squeeze attention
#
# *Zhang, Zu, Lu, Zou, Meng — "EPSANet: An Efficient Pyramid Squeeze Attention Block on
# Convolutional Neural Network", ACCV 2022 (arXiv 2105.14447).*
#
# SE gives each channel one weight. PSA first looks at the input at four scales at once — four
# convolutions with kernels 3, 5, 7, 9 — and then lets every channel choose *how much of each
# scale* it takes, with an SE module and a softmax across the scales. EPSANet puts PSA in place of
# the 3×3 convolution of every ResNet bottleneck. This chapter builds PSA, checks its softmax and
# parameter counts against the paper, runs it in AlexNet's attention slot with the common recipe,
# and repeats seed 003's experiment, EPSANet-50 against ResNet-50.

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
# seed 003's experiment (EPSANet-50 vs ResNet-50): 224 px, 10 epochs, batch 64, Adam 1e-3, plain
# cross-entropy, no augmentation. Off a GPU it is reduced to what a CPU finishes in minutes.
psa_seeds = list(seeds)  # AlexNet-PSA is 3-7x slower than AlexNet on a CPU: [seed] is faster
REDUCED = {"paper": (224, 10, 64, None, None), "quick": (32, 3, 64, 3000, 1000), "smoke": (32, 1, 32, 64, 50)}
resnet_image_size, resnet_epochs, resnet_batch_size, resnet_train_subset, resnet_test_subset = REDUCED[P.name]

# %%
import inspect

import matplotlib.pyplot as plt
import torch

from course_lib.attention import PSAModule
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
from course_lib.models import build_model
from course_lib.plots import plot_history

P = get_profile(profile, image_size=image_size, epochs=epochs, batch_size=batch_size, lr=lr,
                seed=seed, seeds=tuple(seeds))
plt.rcParams.update({"figure.dpi": 72})
print(f"profile {P.name} | device {device_name()} | {P}")

# %% [markdown]
# ## 1 · PSA in four steps
#
# For an input $X$ with $C$ channels and an output of $C'$ channels:
#
# 1. **Split and concat (SPC).** Four convolutions of the whole input, kernel $k_i \in \{3,5,7,9\}$
#    with group count $G_i \in \{1,4,8,16\}$ (larger kernels, more groups, so the cost stays
#    flat), each producing $C'/4$ channels: $F_i = \mathrm{Conv}(k_i\times k_i, G_i)(X)$.
# 2. **SE weights per scale.** One SE module, shared by the four branches, turns each $F_i$ into
#    channel scores $Z_i = \mathrm{SEWeight}(F_i) \in \mathbb R^{C'/4}$.
# 3. **Softmax across scales.** $\mathrm{att}_i = \exp(Z_i) / \sum_{j=1}^4 \exp(Z_j)$, channel by
#    channel: for every channel the four scale weights sum to 1 — a channel chooses its mixture
#    of receptive fields.
# 4. **Re-weight and concatenate.** $Y_i = F_i \odot \mathrm{att}_i$,
#    $\mathrm{Out} = \mathrm{Cat}(Y_4, Y_3, Y_2, Y_1)$ — the official code concatenates in reverse
#    order (9×9 first); it matters only for loading the official weights.

# %%
print(inspect.getsource(PSAModule._features_and_weights))
print(inspect.getsource(PSAModule.forward))

# %%
# NBVAL_CHECK_OUTPUT
torch.manual_seed(0)
psa = PSAModule(64, 64)
x = torch.randn(2, 64, 14, 14)
w = psa.branch_weights(x)
print("input", tuple(x.shape), "-> output", tuple(psa(x).shape), "| branch weights", tuple(w.shape))
print("weights sum to 1 over the four scales, for every sample and channel:",
      torch.allclose(w.sum(dim=1), torch.ones_like(w.sum(dim=1))))

# %% [markdown]
# ## 2 · Parameters against the paper
#
# EPSANet-50 (the "small" variant) is listed with 22.56 M parameters and 3.62 GFLOPs
# (multiply-adds). Seed 003's summary shows 22,614,835: it also counted the BatchNorm running
# means and variances (53,120 numbers), which are buffers, not parameters. The seed's
# `epsanet101` did not run (an undefined `kwarg`); ours builds.

# %%
# NBVAL_CHECK_OUTPUT
with torch.device("meta"):  # shapes only: no memory for the weights, no time
    nets = {name: build_model(name, num_classes=1000) for name in ("resnet50", "epsanet50", "epsanet101")}
for name, net in nets.items():
    running = sum(b.numel() for n, b in net.named_buffers() if "running" in n)
    gmacs = count_flops(net, 224) / 2e9
    print(f"{name:10s} {count_params(net):>11,d} parameters (+{running:,d} running stats = "
          f"{count_params(net) + running:,d}), {gmacs:.2f} GMACs at 224 px")

# %% [markdown]
# `FlopCounterMode` counts a multiply-add as two FLOPs; halved, the 3.60 G multiply-adds of
# EPSANet-50 match the paper's 3.62 G up to the operations it does not count (the SE modules'
# poolings and the softmax).
#
# ## 3 · PSA in AlexNet's attention slot
#
# In EPSANet, PSA *replaces* a convolution and a BatchNorm follows it. To compare it with the
# other modules on the common recipe, `attention="psa"` puts a shape-preserving PSA and a
# BatchNorm after each of AlexNet's convolutions (before its ReLU). The BatchNorm is not
# decoration: each PSA output is a softmax-weighted quarter of four convolutions, and through
# five stacked modules the signal fades so far that, without it, AlexNet-PSA does not train at
# all (the loss stays at $\ln 10$ — our first attempt did exactly that). Unlike SE-style gates,
# PSA adds convolutions of its own, so it costs parameters and FLOPs:

# %%
# NBVAL_CHECK_OUTPUT
for att in (None, "psa"):
    net = build_model("alexnet", attention=att, image_size=P.image_size)
    print(f"AlexNet{'-PSA' if att else '    '} at {P.image_size} px: {count_params(net):>10,d} parameters, "
          f"{count_flops(net, P.image_size) / 1e6:6.1f} MFLOPs")

# %%
data = load_course_data(P)
variants = {"AlexNet": train_variant(data, P, attention=None),
            "AlexNet-PSA": train_variant(data, P, attention="psa", seeds=psa_seeds)}
main = {name: runs[0] for name, runs in variants.items()}
flops = {name: count_flops(run.model, P.image_size) for name, run in main.items()}
print(compare_runs(main, flops))
print()
print(seed_table(variants, baseline="AlexNet"))

# %%
fig = plot_history({n: r.history for n, r in main.items()}, title=f"{P.image_size} px, seed {P.seed}")
plt.show()

# %%
fig = cam_comparison(main, data, fixed_test_images(data, n=8))
plt.show()

# %% [markdown]
# ## 4 · Seed 003's experiment: EPSANet-50 against ResNet-50
#
# Seed 003 trained both networks from scratch on CIFAR-10 at 224 px for 10 epochs (batch 64,
# Adam 1e-3, plain cross-entropy, no augmentation) and showed only plots. The `paper` profile
# repeats exactly that. On a CPU the same code runs **reduced**: the settings are printed below —
# smaller images, a class-balanced subset, fewer epochs — so its accuracies say little about the
# architectures; they show the pipeline working.

# %%
R = P.replace(image_size=resnet_image_size, epochs=resnet_epochs, batch_size=resnet_batch_size,
              train_subset=resnet_train_subset, test_subset=resnet_test_subset)
reduced = "" if P.name == "paper" else " (REDUCED for the CPU)"
print(f"EPSANet vs ResNet{reduced}: {R.image_size} px, {R.epochs} epochs, batch {R.batch_size}, "
      f"train images {R.train_subset or 'all'}, test images {R.test_subset or 'all'}, seed {R.seed}")
rdata = load_course_data(R)
recipe = dict(augment=False, label_smoothing=0.0)  # seed 003: no augmentation, plain CE
resnets = {"ResNet-50": train_variant(rdata, R, model="resnet50", seeds=[R.seed], **recipe)[0],
           "EPSANet-50": train_variant(rdata, R, model="epsanet50", seeds=[R.seed], **recipe)[0]}
print(compare_runs(resnets, {n: count_flops(r.model, R.image_size) for n, r in resnets.items()}))

# %%
fig = plot_history({n: r.history for n, r in resnets.items()},
                   title=f"seed 003's experiment{reduced}: {R.image_size} px, {R.epochs} epochs")
plt.show()

# %% [markdown]
# At 32 px the last stage of a ResNet is 1×1, so a CAM there has a single pixel; the maps are
# drawn only for runs at 128 px or more.

# %%
if R.image_size >= 128:
    fig = cam_comparison(resnets, rdata, fixed_test_images(rdata, n=8))
    plt.show()
else:
    print(f"no CAMs at {R.image_size} px: layer4's output is "
          f"{R.image_size // 32} x {R.image_size // 32}")

# %% [markdown]
# ## 5 · Results

# %%
for run in variants["AlexNet-PSA"]:
    print(report(run, "05_epsanet"))
for run in resnets.values():
    print(report(run, "05_epsanet", reduced=P.name != "paper"))

# %% [markdown]
# ## Exercises
#
# 1. Change PSA's kernels to (3, 5, 7, 9) with all groups 1. How do the parameters and FLOPs of
#    one module change, and why did the authors use grouped convolutions for the large kernels?
# 2. Replace the softmax across scales by a sigmoid per branch (SE applied four times). What
#    property of the weights is lost?
# 3. Plot `branch_weights` of the trained AlexNet-PSA's first module for a few test images: which
#    scale do most channels prefer?
# 4. Run section 4 on a GPU with the `paper` profile and compare with seed 003's plots.
