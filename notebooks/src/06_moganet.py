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
seed = P.seed  # the run whose curves, predictions and CAMs are shown
seeds = list(P.seeds)  # every seed trained; [seed] alone is faster, but shows no spread
# image sizes, epochs and data: course_lib.profiles.EXPERIMENTS["cifar32"][profile]
lime_segmentation = "slic"  # seed 002: "quickshift" (the lime package's defaults)
lime_samples = {"smoke": 60, "quick": 1000}.get(P.name, 10_000)  # seed 002: 10,000
lime_images = {"smoke": 2}.get(P.name, 6)

# %%
from course_lib import chapter

P = chapter.start(profile, seed=seed, seeds=seeds)

# %%
import inspect

import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Markdown, display
from skimage.segmentation import mark_boundaries

from course_lib import reading as read
from course_lib.data import EvalTransform
from course_lib.explain import compute_cam, lime_explanation, overlay, superpixel_segments
from course_lib.explain.lime import grid_segments
from course_lib.experiments.measure import count_flops, count_params
from course_lib.models import build_model
from course_lib.models.moganet import (
    MOGANET_ARCHS,
    ChannelAggregationFFN,
    MogaBlock,
    MultiOrderDWConv,
    MultiOrderGatedAggregation,
)
from course_lib.plots import show_as_jpeg
from course_lib.profiles import experiment_settings
from course_lib.variants import MOGANET_SHALLOW, MOGANET_XT, RESNET, train_chapter

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
# with a learned per-channel scale $\gamma_s$. In the paper's language of *interaction orders*
# (how many image patches a feature combines), the $1\times1$ convolution that makes $Y$ sees
# one position at a time: the **0-order** term. $\mathrm{GAP}(Y)$ is the opposite end, the
# **global** interaction of all positions at once (the highest order). Subtracting a learned
# share of it leaves the middle orders, which the paper finds networks under-use, relatively
# stronger.
#
# ### Multi-order gated aggregation
#
# $Z$ feeds two branches. The **gate** is a $1\times1$ convolution, $G = W_g Z$. The **value**
# is a multi-order depthwise branch: a $5\times5$ depthwise convolution on all channels, then the
# channels are split 1 : 3 : 4; the 3/8 part gets a $5\times5$ depthwise convolution with
# dilation 2, the 4/8 part a $7\times7$ with dilation 3 (after the first $5\times5$: receptive
# fields of 5 + 8 = 13 and 5 + 18 = 23 pixels), the
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
# Six sizes, from 3 M to 181 M parameters. Parameters and FLOPs are computed by `course_lib` at
# 224 px and 1000 classes (the models are built on PyTorch's `meta` device, so no memory is used),
# beside the numbers of the official repository's ImageNet-1K table (224 px, 300 epochs, top-1).

# %%
# NBVAL_CHECK_OUTPUT
PAPER = {"xtiny": (2.97, 0.80, 76.5), "tiny": (5.20, 1.10, 79.0), "small": (25.3, 4.97, 83.4),
         "base": (43.9, 9.93, 84.3), "large": (82.5, 15.9, 84.7), "xlarge": (180.8, 34.5, 85.1)}
print(f"{'arch':7s} {'dims':20s} {'depths':14s} {'params':>12s} {'GMACs':>6s} | "
      f"{'paper: M params':>15s} {'GMACs':>6s} {'top-1 %':>7s}")
off, macs_gap = {}, []
for name, cfg in MOGANET_ARCHS.items():
    with torch.device("meta"):
        net = build_model(f"moganet_{name}", num_classes=1000)
    m, g, top1 = PAPER[name]
    print(f"{name:7s} {str(cfg['embed_dims']):20s} {str(cfg['depths']):14s} "
          f"{count_params(net):>12,d} {count_flops(net, 224) / 2e9:6.2f} | {m:15.2f} {g:6.2f} {top1:7.1f}")
    macs_gap.append(abs(count_flops(net, 224) / 2e9 / g - 1))
    if abs(count_params(net) / 1e6 - m) > 0.05:
        off[name] = count_params(net) / 1e6 - m
display(Markdown(
    "XT and T match the official code's counts exactly (2,956,066 and 5,197,332 parameters). "
    + ("Listed and built differ for " + ", ".join(f"{n} ({d:+.2f} M)" for n, d in off.items())
       + ": the table's numbers are the official repository's and we have not found where the "
       "difference comes from (the arch settings here are the official code's). " if off else "")
    + f"Multiply-adds agree to within {max(macs_gap) * 100:.1f} % (counters differ in which "
    "elementwise operations they include)."
))

# %% [markdown]
# ## 3 · MogaNet-XT against a ResNet of about the same cost
#
# Seed 002 trained MogaNet-XT at 224 px for 100 epochs and reported no accuracy, only a speed.
# Alone, an accuracy says little anyway: is 40 % after three epochs good for this network? The
# question a reader can answer is comparative: **against a plain convolutional network of about
# the same FLOPs, trained on the same data with the same recipe**, does MogaNet-XT learn more?
# The baseline is chapter 05's CIFAR ResNet (the same runs).
#
# MogaNet-XT is used unchanged, official stem included (stride 4): on 32 px images its four
# stages work at 8, 4, 2 and 1 px. That is far from its 56-7 px at 224 px, and its dilated 7×7
# branches see mostly padding in the last two stages; training at 224 px (the `paper` profile
# runs seed 002's setting, below) costs 49 times the FLOPs, beyond a CPU budget.

# %%
# NBVAL_CHECK_OUTPUT
print(f"{'network':12s} {'params':>10s} {'MFLOPs at 32 px':>16s}")
for label, name, kwargs in (("ResNet", "cifar_resnet", RESNET), ("MogaNet-XT", "moganet", MOGANET_XT),
                            ("shallow", "moganet", MOGANET_SHALLOW)):
    net = build_model(name, num_classes=10, **kwargs)
    print(f"{label:12s} {count_params(net):>10,d} {count_flops(net, 32) / 1e6:16.1f}")

# %%
cifar = experiment_settings(P, "cifar32")
runs = train_chapter("06", P)
head_to_head = {n: runs[n] for n in ("ResNet", "MogaNet-XT")}
main = {n: r[0] for n, r in head_to_head.items()}
moga_comparison = chapter.comparison_section(head_to_head, "ResNet", cifar, "MogaNet-XT and a CIFAR ResNet")

# %%
sizes = {n: (count_params(r.model), count_flops(r.model, cifar.image_size)) for n, r in main.items()}
d = next(iter(moga_comparison.differences.values()))
display(Markdown(
    f"**Matched FLOPs is not matched capacity.** MogaNet-XT has {sizes['MogaNet-XT'][0] / sizes['ResNet'][0]:.0f}× "
    f"the ResNet's parameters ({sizes['MogaNet-XT'][0]:,} against {sizes['ResNet'][0]:,}) at "
    f"{sizes['MogaNet-XT'][1] / sizes['ResNet'][1]:.2f}× its FLOPs: depthwise convolutions are cheap in "
    "multiply-adds per parameter, and its last stages, where most parameters sit, run on 2×2 and 1×1 "
    f"maps. So the {read.points(d.diff)} ({d.verdict()}) say that MogaNet-XT learns more than a ResNet "
    "*of the same compute* in these three epochs, not that its block is better per parameter; a "
    "baseline matched on parameters would be a different, also fair, question."
))

# %% [markdown]
# ## 4 · Ablation: what do feature decomposition and gating add?
#
# The chapter's mechanisms, switched off one at a time at matched FLOPs
# (`build_model("moganet", decompose=False)` or `gating=False`):
#
# - **no decomposition**: $Y = \mathrm{SiLU}(W_1 X)$ without the $\gamma_s (Y - \mathrm{GAP}(Y))$
#   term, and the FFN without its channel aggregation (both cost a handful of elementwise
#   operations);
# - **no gating**: $\mathrm{SiLU}(G) + \mathrm{SiLU}(V)$ instead of $\mathrm{SiLU}(G) \odot
#   \mathrm{SiLU}(V)$: the same convolutions, parameters and FLOPs, but context no longer
#   *multiplies* the gate.
#
# Three seeds of three variants of the 18-block MogaNet-XT do not fit the CPU budget, so the
# ablation uses MogaNet-XT's widths with one block per stage (two in stage 3) — "shallow
# MogaNet" — on the same data and recipe.

# %%
ablation = {n: runs[n] for n in ("shallow MogaNet", "no decomposition", "no gating")}
ablation_comparison = chapter.comparison_section(ablation, "shallow MogaNet", cifar,
                                         "shallow MogaNet and its ablations")

# %%
full = runs["shallow MogaNet"][0].model
scales = {part: [float(p.detach().abs().mean()) for n, p in full.named_parameters()
                 if n.endswith(f"{part}.sigma.scale")] for part in ("attn", "mlp")}
display(Markdown(
    "**Why the ablations can hardly differ yet.** Both decompositions are scaled by learned "
    "per-channel factors σ that start at 1e-5. After training (main seed), their mean absolute "
    "values per block are " + "; ".join(
        f"{part}: " + ", ".join(f"{v:.2g}" for v in values) for part, values in scales.items())
    + ". With σ of a few hundredths the decomposition adds a few per cent of Y − GAP(Y) to Y, so "
    "removing it changes the network little after three epochs; the gate, by contrast, acts from "
    "the first step."
    + (" In the last stage the map is 1×1: Y − GAP(Y) is exactly 0 there, σ receives no gradient "
       "and weight decay shrinks it towards 0 — the decomposition cannot work on a single position."
       if min(scales["attn"]) < 1e-6 else "")
))

# %% [markdown]
# ## 5 · Predictions, GradCAM and LIME on MogaNet-XT
#
# The prediction strip uses the course's fixed, class-balanced 18 test images.

# %%
data = chapter.load_course_data(cifar)
display(Markdown(chapter.strip_section(main, data, "MogaNet-XT")))

# %% [markdown]
# **GradCAM** needs a layer with a spatial map. MogaNet-XT's last stage is 1×1 at 32 px and its
# third 2×2, so the maps are taken at the end of stage 2 (4×4, `model.stages[1]`), and at the
# ResNet's last bottleneck (8×8) for comparison. **LIME** needs no layer: it switches superpixels
# off, asks the model, and fits a linear model whose coefficients say how much each region pushes
# the true class (chapter 08 explains both and how far to trust them).

# %%
transform = EvalTransform(cifar.image_size, data.mean, data.std)
explain_idx = chapter.fixed_test_images(data, n=lime_images)
inputs = transform(data.test_images[explain_idx])
classes = data.test_labels[explain_idx].tolist()
moga_model = main["MogaNet-XT"].model
cam_moga = compute_cam(moga_model, inputs, "gradcam", classes, layer=moga_model.stages[1])
cam_resnet = compute_cam(main["ResNet"].model, inputs, "gradcam", classes)


def segments_of(index):
    if lime_segmentation == "grid":
        return grid_segments(cifar.image_size, 8)
    return superpixel_segments(data.test_images[index], cifar.image_size, lime_segmentation)


lime = []
for k, index in enumerate(explain_idx.tolist()):
    seg = segments_of(index)
    lime.append((seg, lime_explanation(moga_model, inputs[k], classes[k], segments=seg,
                                       samples=lime_samples, seed=k).numpy()))
fig, axes = plt.subplots(4, len(explain_idx), figsize=(1.9 * len(explain_idx), 8), dpi=100, squeeze=False)
preds = chapter.predicted_classes(main["MogaNet-XT"], data, explain_idx)
for k, index in enumerate(explain_idx.tolist()):
    image = data.test_images[index]
    seg, weights = lime[k]
    rgb = image.permute(1, 2, 0).numpy() / 255
    axes[0, k].imshow(mark_boundaries(rgb, seg.numpy(), color=(1, 1, 0)))
    axes[0, k].set_title(f"true {data.classes[classes[k]]}\npred {data.classes[int(preds[k])]}", fontsize=8)
    axes[1, k].imshow(overlay(image, cam_moga[k]))
    axes[2, k].imshow(overlay(image, cam_resnet[k]))
    limit = float(np.abs(weights).max()) or 1.0
    axes[3, k].imshow(rgb)
    shown = axes[3, k].imshow(weights, cmap="RdBu_r", vmin=-limit, vmax=limit, alpha=0.6)
    fig.colorbar(shown, ax=axes[3, k], fraction=0.046, pad=0.02).ax.tick_params(labelsize=6)
for row, label in enumerate(("superpixels", "MogaNet-XT\nGradCAM stage 2", "ResNet\nGradCAM",
                             "MogaNet-XT LIME\n(red: for the class)")):
    axes[row, 0].set_ylabel(label, fontsize=8)
for ax in axes.flat:
    ax.set_xticks([])
    ax.set_yticks([])
fig.tight_layout()
show_as_jpeg(fig)
n_regions = [int(seg.max()) + 1 for seg, _ in lime]
positive = [float((w > 0).mean()) for _, w in lime]
display(Markdown(
    f"LIME here: **{lime_segmentation}** superpixels ({min(n_regions)}-{max(n_regions)} regions "
    f"per image), **{lime_samples:,} samples** per explanation, ridge regression. Seed 002 used "
    "quickshift superpixels and 10,000 samples on 224 px images: set `lime_segmentation = "
    "'quickshift'` and `lime_samples = 10_000` to reproduce that (each sample is one forward "
    f"pass: {lime_images * 10_000:,} passes for these images). "
    + read.describe_cam_peaks("MogaNet-XT (stage 2)", cam_moga) + "; "
    + read.describe_cam_peaks("ResNet", cam_resnet) + ". On average "
    f"{np.mean(positive) * 100:.0f} % of the pixels lie in regions that LIME counts *for* the true "
    "class. A 4×4 GradCAM map can only say which quarter of the image mattered; LIME's regions "
    "follow edges, but at 32 px a superpixel is a few dozen pixels, so both are coarse."
))

# %% [markdown]
# ## 6 · Seed 002's setting: MogaNet-XT at 224 px
#
# 100 epochs of 50,000 images at 224 px: a GPU job, run by the `paper` profile only (one seed, as
# seed 002 did).

# %%
S = experiment_settings(P, "seed002")
if S is None:
    print(f"seed 002's setting is not run in the {P.name} profile (use profile='paper' on a GPU)")
else:
    big = chapter.train_variant(chapter.load_course_data(S), S, model="moganet", name="moganet_xt",
                        model_kwargs={"arch": "xtiny"})[0]
    print(chapter.compare_runs({"MogaNet-XT 224 px": big}, {"MogaNet-XT 224 px": count_flops(big.model, S.image_size)}))

# %% [markdown]
# ## 7 · Results

# %%
for name in ("MogaNet-XT", "shallow MogaNet", "no decomposition", "no gating"):
    for run in runs[name]:
        print(chapter.report(run, "06_moganet"))

# %% [markdown]
# ## Summary

# %%
def first(comparison):
    return [d.sentence() for d in comparison.differences.values()]

display(Markdown(
    "- A Moga block mixes space with a gate times a multi-order depthwise context, after pushing "
    "features away from their global average; its FFN does the same across channels (the "
    "seed's FFN skipped that step).\n"
    f"- Against a CIFAR ResNet of about the same FLOPs ({cifar.image_size} px, {cifar.epochs} epochs, "
    f"{cifar.train_subset or 'all'} training images, {len(head_to_head['ResNet'])} seeds): "
    + first(moga_comparison)[0] + "\n"
    "- Ablation on the shallow MogaNet: " + "; ".join(first(ablation_comparison)) + "\n"
    f"- Data: {read.data_source(main['ResNet'])}. The paper's 76.5 % for MogaNet-XT is ImageNet "
    "after 300 epochs at 224 px; a few CPU epochs at 32 px measure how quickly a network starts "
    "to learn, not what it can reach."
))

# %% [markdown]
# ## Exercises
#
# 1. Set the feature-decomposition scales $\gamma_s$ and $\gamma_c$ to zero and freeze them. What
#    is left of the block, and which ablation of section 4 is that?
# 2. Re-create seed 002's bug (replace `self.decompose(x)` by `x` in the FFN) and count the
#    parameters that no longer receive a gradient.
# 3. Compute the receptive field of the value branch: a 5×5 convolution followed by a 7×7 with
#    dilation 3.
# 4. Train MogaNet-XT with `stem_stride=2` (stages at 16, 8, 4, 2 px). How much slower is a step,
#    and does it learn more per epoch?
