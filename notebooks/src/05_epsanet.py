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
# parameter counts against the paper, and then asks what PSA itself adds in two fair comparisons:
# AlexNet-PSA against an AlexNet with the same BatchNorm and no PSA (the control), and a
# CIFAR-sized bottleneck ResNet built twice from one class, with its 3×3 convolutions or with PSA
# in their place. Seed 003's experiment (EPSANet-50 against ResNet-50 at 224 px) runs in the
# `paper` profile.

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
seed = P.seed  # the run whose curves, predictions and CAMs are shown
seeds = list(P.seeds)  # every seed trained; [seed] alone is faster, but shows no spread
# image sizes, epochs and data of each experiment: course_lib.profiles.EXPERIMENTS[...][profile]

# %%
from course_lib import chapter

P = chapter.start(profile, seed=seed, seeds=seeds)

# %%
import inspect

import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Markdown, display

from course_lib import reading as read
from course_lib.attention import PSAModule
from course_lib.attention.psa import PSA_KERNELS, collect_branch_weights, softmax_weight_bounds
from course_lib.data import EvalTransform
from course_lib.experiments.measure import count_flops, count_params
from course_lib.models import build_model
from course_lib.models.cifar_resnet import mixer
from course_lib.plots import plot_seed_curves
from course_lib.profiles import experiment_settings
from course_lib.variants import RESNET, train_chapter

# %% [markdown]
# ## 1 · PSA in four steps
#
# For an input $X$ with $C$ channels and an output of $C'$ channels:
#
# 1. **Split and concat (SPC).** Four convolutions of the whole input, kernel $k_i \in \{3,5,7,9\}$
#    with group count $G_i \in \{1,4,8,16\}$ (larger kernels, more groups, so the cost stays
#    flat), each producing $C'/4$ channels: $F_i = \mathrm{Conv}(k_i\times k_i, G_i)(X)$.
# 2. **SE weights per scale.** One SE module, shared by the four branches, turns each $F_i$ into
#    channel scores $Z_i = \sigma\big(W_1\,\delta(W_0\,\mathrm{GAP}(F_i))\big) \in (0, 1)^{C'/4}$.
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
# **A softmax of sigmoids is bounded.** The scores $Z_i$ come out of a sigmoid, so they lie in
# $(0, 1)$, and a softmax over numbers that differ by less than 1 cannot be sharp. The smallest
# weight a scale can get is with $Z_i \to 0$ and the three others $\to 1$,
# $1/(1 + 3e)$; the largest the other way round, $e/(e + 3)$. So **no channel can pick a single
# scale**: every branch always keeps at least about a tenth of the weight, and none gets more than
# about half. The check below computes the bounds and pushes the SE scores to their extremes.

# %%
# NBVAL_CHECK_OUTPUT
low, high = softmax_weight_bounds(4)
print(f"bounds for four scales: 1/(1+3e) = {low:.4f}, e/(e+3) = {high:.4f}")
extreme = torch.tensor([[0.0, 1.0, 1.0, 1.0], [1.0, 0.0, 0.0, 0.0]])  # Z_i at the sigmoid's ends
print("softmax of [0,1,1,1] and [1,0,0,0]:", torch.softmax(extreme, dim=1)[:, 0].numpy().round(4))

# %% [markdown]
# ## 2 · Parameters against the paper
#
# EPSANet-50 (the "small" variant) is listed with 22.56 M parameters and 3.62 GFLOPs
# (multiply-adds) and 77.49 % top-1 on ImageNet, against ResNet-50's 25.56 M, 4.12 G and 75.20 %.
# Seed 003's summary shows 22,614,835: it also counted the BatchNorm running means and variances
# (53,120 numbers), which are buffers, not parameters. The seed's `epsanet101` did not run (an
# undefined `kwarg`); ours builds.

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
# poolings and the softmax). PSA is *cheaper* than the 3×3 convolution it replaces: its large
# kernels are grouped.
#
# ## 3 · PSA in AlexNet's attention slot, against its control
#
# In EPSANet, PSA *replaces* a convolution and a BatchNorm follows it. In AlexNet's attention slot
# (`attention="psa"`) it is used the same way: a shape-preserving PSA and a BatchNorm after each
# convolution, before the ReLU. Without that BatchNorm AlexNet-PSA does not train at all (each
# PSA output is a softmax-weighted quarter of four convolutions, and through five stacked modules
# the signal fades). But then AlexNet-PSA differs from AlexNet in *two* ways, PSA and BatchNorm,
# and BatchNorm alone changes how AlexNet trains. The fair baseline is the **control**
# `attention="batchnorm"`: the same BatchNorm after each convolution and no PSA. The difference
# between the two is what PSA itself adds.

# %%
# NBVAL_CHECK_OUTPUT
alex = experiment_settings(P, "alexnet_psa")
size = {}
for label, att in (("AlexNet", None), ("AlexNet-BN", "batchnorm"), ("AlexNet-PSA", "psa")):
    net = build_model("alexnet", attention=att, image_size=128)
    size[label] = count_params(net), count_flops(net, 128)
    print(f"{label:12s} at 128 px: {size[label][0]:>10,d} parameters, {size[label][1] / 1e6:7.1f} MFLOPs")
extra = size["AlexNet-PSA"][0] / size["AlexNet-BN"][0] - 1
display(Markdown(
    f"Against its control, PSA adds {extra * 100:.1f} % of the parameters but "
    f"{size['AlexNet-PSA'][1] / size['AlexNet-BN'][1]:.2f}× the FLOPs: its branches run at the full "
    "resolution of every conv output (the table is at 128 px, the `quick` profile's size)."
))

# %% [markdown]
# On a CPU a PSA step is about three times as slow as a plain one (its 7×7 and 9×9 grouped
# convolutions are slow kernels), so the `quick` profile trains this pair on fewer steps than
# chapters 01-04 (the settings are printed below); the two are trained alike, which is all the
# comparison needs.

# %%
runs = train_chapter("05", P)
alexnets = {n: runs[n] for n in ("AlexNet-BN", "AlexNet-PSA")}
alex_comparison = chapter.comparison_section(alexnets, "AlexNet-BN", alex, "AlexNet-PSA and its control")

# %% [markdown]
# ## 4 · A fair ResNet comparison at CIFAR size
#
# Seed 003 compared EPSANet-50 with ResNet-50, both with the ImageNet stem (7×7 stride-2 conv and a
# max-pool). On 32 px images that stem leaves 8×8 after two layers and 1×1 in the last stage:
# most of the network sees no spatial structure, and a 3-epoch run of it (this chapter's earlier
# version) learned nothing about PSA. `cifar_resnet` is a ResNet built for CIFAR (He et al. 2016,
# Sec. 4.2): a 3×3 stride-1 stem, no max-pool, three bottleneck stages at 32, 16 and 8 px. The
# same class builds both networks; `attention="psa"` swaps every bottleneck's 3×3 conv for PSA
# and changes nothing else.

# %%
# NBVAL_CHECK_OUTPUT
print("the bottleneck's middle layer:")
print(inspect.getsource(mixer))
for label, att in (("ResNet", None), ("ResNet-PSA", "psa")):
    net = build_model("cifar_resnet", attention=att, **RESNET)
    print(f"{label:10s} {RESNET}: {count_params(net):>9,d} parameters, "
          f"{count_flops(net, 32) / 1e6:5.1f} MFLOPs at 32 px")

# %%
cifar = experiment_settings(P, "cifar32")
resnets = {n: runs[n] for n in ("ResNet", "ResNet-PSA")}
rmain = {n: r[0] for n, r in resnets.items()}
resnet_comparison = chapter.comparison_section(resnets, "ResNet", cifar, "CIFAR ResNet with 3×3 convs or PSA")

# %%
def effect(d):
    if not d.significant:
        return f"changed nothing we can detect ({read.points(d.diff)}, {d.verdict()})"
    return f"{'raised' if d.diff > 0 else 'lowered'} test accuracy by {read.points(d.diff)[1:]} ({d.verdict()})"


a, r = (next(iter(c.differences.values())) for c in (alex_comparison, resnet_comparison))
val = alexnets["AlexNet-PSA"][0].history.val_acc
still = "" if len(val) < 2 else (
    f"AlexNet-PSA was still learning in its last epoch (validation {read.points(val[-1] - val[-2], 1)}, "
    f"seed {P.seed}), so part of the gap may be speed rather than capacity; "
    f"{len(val)} epochs cannot say which. ")
display(Markdown(
    f"**Two placements, two answers.** Added to AlexNet, PSA {effect(a)}; in place of the "
    f"ResNet's 3×3 convolutions it {effect(r)}. The experiments use PSA differently. In the "
    "ResNet it *replaces* a convolution inside a residual block, as EPSANet does: the shortcut "
    "carries the signal past the block while PSA's branches learn. In AlexNet it is *added* after "
    "every convolution with no shortcut, so every feature passes five stacked PSA modules, each "
    "starting as a near-even mixture of four freshly initialised convolutions. " + still
    + "What the two agree on is cost: PSA's large-kernel branches made every training step "
    "several times slower on this CPU."
))

# %% [markdown]
# ## 5 · Which scale does each channel use?
#
# The trained ResNet-PSA's branch weights $\mathrm{att}_i$ on 500 test images, for each of its
# three PSA modules: one box per kernel size, over all (image, channel) pairs. The dashed lines are
# the bounds of section 1, and the dotted line the uniform weight 1/4.

# %%
cdata = chapter.load_course_data(cifar)
probe = EvalTransform(cifar.image_size, cdata.mean, cdata.std)(cdata.test_images[:500])
weights = collect_branch_weights(rmain["ResNet-PSA"].model, probe)
kernels = PSA_KERNELS
fig, axes = plt.subplots(1, len(weights), figsize=(11, 3.2), dpi=100, sharey=True)
for ax, (name, w) in zip(axes, weights.items()):
    ax.boxplot([w[:, i].flatten().numpy() for i in range(4)], showfliers=False)
    ax.set_xticks(range(1, 5), [f"{k}×{k}" for k in kernels])
    for bound in (low, high):
        ax.axhline(bound, ls="--", color="0.5", lw=0.8)
    ax.axhline(0.25, ls=":", color="C3", lw=0.8)
    ax.set(title=f"{name} ({w.shape[-1]} channels/branch)", xlabel="branch kernel")
axes[0].set_ylabel("branch weight att_i")
fig.tight_layout()
plt.show()
lines = []
for name, w in weights.items():
    mean = w.mean(dim=(0, 2))
    favourite = torch.bincount(w.mean(0).argmax(0), minlength=4) / w.shape[-1]
    spread = float((w.max(1).values - w.min(1).values).mean())
    lines.append(
        f"- `{name}`: mean weight per kernel "
        + ", ".join(f"{k}×{k} {float(m):.3f}" for k, m in zip(kernels, mean))
        + f"; averaged over the images, the largest weight goes to "
        + ", ".join(f"{k}×{k} for {float(f) * 100:.0f} %" for k, f in zip(kernels, favourite))
        + f" of the channels; the gap between a channel's largest and smallest weight is "
        f"{spread:.3f} on average (the bounds allow at most {high - low:.3f})."
    )
display(Markdown("\n".join(lines) + "\n\nWeights near 0.25 with a small gap mean that PSA mixes the "
                 "four scales almost evenly: the softmax of sigmoid scores leaves it little room to "
                 "choose, as section 1 showed."))

# %% [markdown]
# ## 6 · Predictions and GradCAM
#
# GradCAM on the last bottleneck (8×8 at 32 px) of the two ResNets, main seed, for the true class.

# %%
cams = chapter.cam_section(rmain, cdata)
display(Markdown(read.describe_cams(cams)))

# %% [markdown]
# ## 7 · Seed 003's experiment: EPSANet-50 against ResNet-50
#
# Seed 003 trained both networks from scratch on CIFAR-10 at 224 px for 10 epochs (batch 64,
# Adam 1e-3, plain cross-entropy, no augmentation) and showed only plots. That is 50,000 images
# at 224 px through a 4-GFLOP network: hours on a GPU, days on a CPU. The `paper` profile runs
# it (one seed, as the seed did); other profiles skip it.

# %%
R = experiment_settings(P, "seed003")
if R is None:
    print(f"seed 003's experiment is not run in the {P.name} profile (use profile='paper' on a GPU)")
else:
    rdata = chapter.load_course_data(R)
    big = {label: chapter.train_variant(rdata, R, model=name)[0]
           for label, name in (("ResNet-50", "resnet50"), ("EPSANet-50", "epsanet50"))}
    print(chapter.compare_runs(big, {n: count_flops(r.model, R.image_size) for n, r in big.items()}))
    fig = plot_seed_curves({n: [r.history] for n, r in big.items()},
                           title=f"seed 003's experiment: {R.image_size} px, {R.epochs} epochs")
    plt.show()

# %% [markdown]
# ## 8 · Results

# %%
for name in ("AlexNet-BN", "AlexNet-PSA", "ResNet", "ResNet-PSA"):
    for run in runs[name]:
        print(chapter.report(run, "05_epsanet"))

# %% [markdown]
# ## Summary

# %%
def images(p):
    return f"{p.train_subset:,}" if p.train_subset else "all"


def verdict(comparison):
    d = next(iter(comparison.differences.values()))
    return f"{d.sentence()}"

display(Markdown(
    "- PSA turns one convolution into four at different scales and mixes them per channel with a "
    "softmax over SE scores; because the scores are sigmoids, each weight stays between "
    f"{low:.3f} and {high:.3f} (four scales): a channel cannot choose one scale.\n"
    f"- In AlexNet's slot, against the BatchNorm control ({alex.image_size} px, {alex.epochs} epochs, "
    f"{images(alex)} training images, {len(alexnets['AlexNet-PSA'])} seeds): "
    + verdict(alex_comparison) + "\n"
    f"- In the CIFAR ResNet ({cifar.image_size} px, {cifar.epochs} epochs, "
    f"{images(cifar)} training images, {len(resnets['ResNet'])} seeds): "
    + verdict(resnet_comparison) + "\n"
    f"- Data: {read.data_source(rmain['ResNet'])}. On ImageNet the paper reports +2.29 points top-1 "
    "for EPSANet-50 over ResNet-50 (77.49 against 75.20 %) after 100 epochs; a few CPU epochs on "
    "CIFAR-10 test far less: whether PSA helps a network that is still learning its first features."
))

# %% [markdown]
# ## Exercises
#
# 1. Change PSA's groups to (1, 1, 1, 1). How do the parameters and FLOPs of one module change,
#    and why did the authors use grouped convolutions for the large kernels?
# 2. Replace the softmax across scales by the raw sigmoid scores (SE applied four times). What
#    property of the weights is lost, and which bound of section 1 disappears?
# 3. Make the softmax sharper: divide the scores by a temperature of 0.1 before it. Do the branch
#    weights of section 5 spread out after training?
# 4. Run section 7 on a GPU with the `paper` profile and compare with seed 003's plots.
