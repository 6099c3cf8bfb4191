# %% [markdown]
# # 07 · Self-attention in VGG16
#
# *Zhang, Goodfellow, Metaxas, Odena — "Self-Attention Generative Adversarial Networks", ICML
# 2019 (arXiv 1805.08318).*
#
# Every module so far gates features with statistics pooled over some axes. Self-attention goes
# further: each position of the feature map builds its output as a weighted sum over **all**
# positions, with weights computed from the features themselves. SAGAN added this block to
# convolutional GANs; seed 004 puts it into VGG16 for image classification on a user's own
# folder of images. This chapter derives the block, trains VGG16 (with BatchNorm) with and
# without it over three seeds, follows the learned γ through training, draws where one pixel
# attends in a trained network, and shows the own-folder workflow.

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
seed = P.seed  # the run whose curves and maps are shown
seeds = list(P.seeds)  # every seed trained; [seed] alone is faster, but shows no spread
# image size, epochs and data: course_lib.profiles.EXPERIMENTS["cifar32"][profile]
folder_images_per_class = 12 if P.name == "smoke" else 300
folder_epochs = 1 if P.name == "smoke" else 6

# %%
from course_lib import chapter

P = chapter.start(profile, seed=seed, seeds=seeds)

# %%
import inspect
import os
import shutil

import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Markdown, display
from PIL import Image

from course_lib import reading as read
from course_lib.attention import SelfAttention
from course_lib.data import EvalTransform, load_image_folder
from course_lib.experiments.measure import count_flops, count_params
from course_lib.models import build_model
from course_lib.models.vgg import VGG16_BN_ATTENTION_AFTER, fetch_vgg16_imagenet
from course_lib.runtime.paths import data_dir
from course_lib.profiles import experiment_settings
from course_lib.train import TrainConfig, train_or_load
from course_lib.variants import VGG16_BN, train_chapter

# %% [markdown]
# ## 1 · Query, key, value, and γ
#
# Flatten a feature map $x \in \mathbb R^{C\times N}$ ($N = H W$ positions). Two $1\times1$
# convolutions give queries $f(x) = W_f x$ and keys $g(x) = W_g x$ of width $\bar C = C/8$.
# Position $i$ attends to position $j$ with weight
# $$ \beta_{i,j} = \frac{\exp(s_{ij})}{\sum_{j'=1}^{N} \exp(s_{ij'})}, \qquad s_{ij} = f(x_i)^\top g(x_j), $$
# a softmax over the key positions, so every row of the $N\times N$ map $\beta$ sums to 1, and a
# map that attends to nothing in particular is uniform, $\beta_{i,j} = 1/N$. The output at $i$
# is $o_i = W_v \sum_j \beta_{i,j}\, h(x_j)$, and the block returns
# $$ y_i = \gamma\, o_i + x_i , $$
# with a learned scalar $\gamma$ **initialised to 0**: at the start the block is the identity,
# and the network learns how much non-local evidence to mix in. (SAGAN's paper writes the softmax
# over the other index with $f$ and $g$ swapped — the same thing.)
#
# **The value path.** In the paper, $h$ is a $1\times1$ convolution $C \to \bar C$ and $W_v$ a
# second one $\bar C \to C$: the values pass through a bottleneck of width $C/8$, so $W_v W_h$ has
# rank at most $C/8$ and costs $2C\bar C = C^2/4$ weights. `course_lib`, like seed 004 and most
# PyTorch ports, merges them into **one** $1\times1$ convolution $C \to C$ (`self.value`): since
# $\sum_j \beta_{ij} W_v W_h x_j = (W_v W_h) \sum_j \beta_{ij} x_j$, one matrix can represent the
# paper's product exactly, but it has four times the weights and no rank limit — a slightly more
# expressive block than the paper's, not the same one.

# %%
print(inspect.getsource(SelfAttention.attention_map))
print(inspect.getsource(SelfAttention.forward))

# %%
# NBVAL_CHECK_OUTPUT
torch.manual_seed(0)
sa = SelfAttention(64).eval()  # in eval mode the map is kept for plots
x = torch.randn(2, 64, 8, 8)
y = sa(x)
print("input", tuple(x.shape), "-> output", tuple(y.shape), "| attention map", tuple(sa.last_attention.shape))
print("identity at initialisation (gamma = 0):", torch.equal(y, x))
print("every row of beta sums to 1:", torch.allclose(sa.last_attention.sum(-1), torch.ones(2, 64)))
print(f"parameters: {count_params(sa):,d} = 2 x (64*8 + 8) + (64*64 + 64) + 1")
print(f"the paper's value path (h: 64->8, W_v: 8->64, biases) would have {2 * 64 * 8 + 8 + 64:,d} "
      f"instead of {64 * 64 + 64:,d}")

# %% [markdown]
# The cost is the catch: $\beta$ has $N^2$ entries. After VGG16's first convolution at 224 px,
# $N = 50{,}176$ and $\beta$ holds 2.5 billion numbers per image. Seed 004 puts the block there;
# this chapter places it where the maps are small.
#
# ## 2 · VGG16 with attention after the layers you pick
#
# `build_model("vgg16", attention=..., attention_after=[...])` inserts any registered attention
# module after the given indices of torchvision's `features`. Seed 004's first variant puts
# self-attention after the first convolution (and its ReLU) of blocks 1 and 2 —
# `vgg16_attention`, indices 1 and 6 of `vgg16().features`; its second hooks modules into chosen
# layers, which is the same call with other indices.
#
# **What this chapter trains.** Two changes make VGG16 learn within a CPU budget, both standard
# for CIFAR: `batch_norm=True` (torchvision's `vgg16_bn`, a BatchNorm after each of the 13
# convolutions; the earlier version of this chapter trained VGG16 without it at Adam 1e-4 and
# stayed at exactly chance, 10.00 %, for all its runs) and `classifier="compact"` (a global average
# pool and a 512-512-classes MLP: at 32 px torchvision's 25,088-4,096-4,096 head reads 49 copies of
# one 512-vector). The self-attention goes after conv2_2 and conv3_3 (and their ReLUs), where a
# 32 px image gives 16×16 and 8×8 maps: $N$ = 256 and 64 positions.

# %%
# NBVAL_CHECK_OUTPUT
plain = build_model("vgg16", num_classes=1000)
attn = build_model("vgg16_attention", num_classes=1000)
print(f"seed 004's VGG16: {count_params(plain):,d} parameters; with self-attention after conv1_1 and "
      f"conv2_1: {count_params(attn):,d} (+{count_params(attn) - count_params(plain):,d})")
bn_features = build_model("vgg16", num_classes=10, image_size=32, **VGG16_BN).features
print("vgg16_bn features at the insertion points:",
      {i: type(bn_features[i]).__name__ for i in VGG16_BN_ATTENTION_AFTER})
for label, att in (("VGG16-BN", None), ("VGG16-BN + self-attention", "self_attention")):
    kwargs = {**VGG16_BN, "attention_after": VGG16_BN_ATTENTION_AFTER} if att else VGG16_BN
    net = build_model("vgg16", num_classes=10, image_size=32, attention=att, **kwargs)
    print(f"{label:26s} 10 classes, 32 px: {count_params(net):>11,d} parameters, "
          f"{count_flops(net, 32) / 1e6:6.1f} MFLOPs")

# %% [markdown]
# ## 3 · Training: with and without self-attention
#
# Both networks with the course's recipe (Adam 1e-3, cosine schedule, label smoothing 0.1,
# augmentation), the same data and seeds; the settings are printed with the results.

# %%
cifar = experiment_settings(P, "cifar32")
runs = train_chapter("07", P)
main = {n: r[0] for n, r in runs.items()}
comparison = chapter.comparison_section(runs, "VGG16-BN", cifar, "VGG16-BN with and without self-attention")

# %% [markdown]
# ## 4 · How much attention does the network use? γ over training
#
# γ starts at 0; training moves it as far as mixing in non-local evidence lowers the loss. `fit`
# records every one-number parameter after each epoch (`history.scalars`).

# %%
sa_runs = runs["VGG16-BN + self-attention"]
fig, ax = plt.subplots(figsize=(6.5, 3.2), dpi=100)
final = {}
for k, name in enumerate(sa_runs[0].history.scalars):
    for j, run in enumerate(sa_runs):
        values = [0.0] + run.history.scalars[name]
        ax.plot(range(len(values)), values, color=f"C{k}", alpha=0.8, marker="o", ms=3,
                label=f"{name.split('.')[1]} (after features[{name.split('_')[1].split('.')[0]}])" if j == 0 else None)
        final.setdefault(name, []).append(values[-1])
ax.axhline(0, color="0.5", lw=0.8)
ax.set_xticks(range(len(sa_runs[0].history.epoch) + 1))
ax.set(xlabel="epoch (0 = initialisation)", ylabel="γ", title=f"γ of the two blocks, {len(sa_runs)} seeds")
ax.legend(fontsize=8)
fig.tight_layout()
plt.show()
display(Markdown(
    "After the last epoch: " + "; ".join(
        f"`{name}` γ = " + ", ".join(f"{v:+.3f}" for v in values) + f" over the seeds"
        for name, values in final.items())
    + ". "
    + ("γ has hardly moved from 0: after these steps each block is still almost the identity, so "
       "the network does not yet use the attention, and the comparison above tests a block that "
       "has barely switched on. The maps below show what the block *would* mix in. "
       if max(abs(v) for values in final.values() for v in values) < 0.01 else
       "A γ far from 0 means that the attention output is a sizeable part of the block's output: "
       "the network *uses* the non-local term, whatever its effect on accuracy. ")
    + "The sign of γ is not meaningful by itself (the value convolution can flip it)."
))

# %% [markdown]
# ## 5 · Where one pixel looks
#
# The trained network's first attention block (16×16 map at 32 px) for one test image: for three
# query positions (white stars), the weight $\beta_{i,j}$ each key position $j$ receives. The colour
# bar is shared by the three maps; its black line marks the uniform level $1/N$, the weight every
# position would get if the block attended to nothing in particular.

# %%
data = chapter.load_course_data(cifar)
model = main["VGG16-BN + self-attention"].model.eval()
index = int(chapter.fixed_test_images(data, n=8)[1])
x = EvalTransform(cifar.image_size, data.mean, data.std)(data.test_images[index:index + 1])
with torch.no_grad():
    model(x.to(next(model.parameters()).device).contiguous(memory_format=torch.channels_last))
block = next(m for m in model.modules() if isinstance(m, SelfAttention))
beta = block.last_attention[0].float().cpu()
n_positions = beta.shape[0]
side = int(n_positions ** 0.5)
queries = [(side // 2, side // 2), (side // 4, side // 4), (3 * side // 4, side // 3)]
image = data.test_images[index].permute(1, 2, 0).numpy()
rows = torch.stack([beta[r * side + c] for r, c in queries])
vmax = float(rows.max())
fig, axes = plt.subplots(1, 4, figsize=(10.5, 2.7), dpi=100)
axes[0].imshow(image, interpolation="nearest")
axes[0].set_title(f"{data.classes[int(data.test_labels[index])]} (32 px)", fontsize=9)
for ax, (r, c), row in zip(axes[1:], queries, rows):
    ax.imshow(image, extent=(-0.5, side - 0.5, side - 0.5, -0.5), interpolation="nearest")
    shown = ax.imshow(row.view(side, side), cmap="magma", alpha=0.75, vmin=0, vmax=vmax)
    ax.plot(c, r, "w*", ms=10)
    ax.set_title(f"query ({r}, {c}): max {float(row.max()) * n_positions:.1f}×1/N", fontsize=9)
for ax in axes:
    ax.axis("off")
bar = fig.colorbar(shown, ax=axes[1:].tolist(), fraction=0.03, pad=0.02)
bar.ax.axhline(1 / n_positions, color="black", lw=1.5)
bar.set_label("β (black line: 1/N)", fontsize=8)
plt.show()
ratio = beta.max(dim=1).values * n_positions
entropy = -(beta * beta.clamp_min(1e-12).log()).sum(1) / np.log(n_positions)
display(Markdown(
    f"Over all {n_positions} query positions of this image, the largest weight a query gives is "
    f"{float(ratio.median()):.1f}× the uniform 1/N (median; range {float(ratio.min()):.1f}-"
    f"{float(ratio.max()):.1f}×), and the normalised entropy of a row is {float(entropy.mean()):.2f} "
    "on average (1 = uniform, 0 = one position only). "
    + ("The maps are close to uniform: this block mostly averages over the image, a global "
       "context rather than a pointer to particular positions."
       if float(entropy.mean()) > 0.9 else
       "The maps are far from uniform: queries concentrate their weight on some positions.")
))

# %% [markdown]
# ## 6 · Your own image folder (seed 004's use case)
#
# Seed 004 trains on a folder of the user's own photos, one sub-folder per class. Any tree of
# `<class>/<image>` (or `train/<class>/…` and `test/<class>/…`) loads with `load_image_folder`;
# without a split, each class is split 80/20. To show it without shipping photos, the cell below
# writes a folder of three CIFAR-10 classes as PNG files into `data/` and trains on it exactly as
# you would on yours. Seed 004's second variant fine-tunes ImageNet-pretrained VGG16 weights:
# where the weights can be downloaded (Colab sets `COURSE_DOWNLOAD=1`) this cell does the same;
# offline it trains from scratch and says so.

# %%
folder = data_dir() / "own_folder_demo"
shutil.rmtree(folder, ignore_errors=True)
full = chapter.load_course_data(cifar.replace(train_subset=None, test_subset=None))
for name in ("cat", "dog", "horse"):
    (folder / name).mkdir(parents=True)
    idx = (full.test_labels == full.classes.index(name)).nonzero().flatten()[:folder_images_per_class]
    for i in idx.tolist():
        Image.fromarray(full.test_images[i].permute(1, 2, 0).numpy()).save(folder / name / f"{i}.png")
own = load_image_folder(folder, size=32, test_fraction=0.2)
print(own)

weights = fetch_vgg16_imagenet()  # None offline: nothing is downloaded without COURSE_DOWNLOAD=1
own_kwargs = {"classifier": "compact", "attention_after": VGG16_BN_ATTENTION_AFTER}
own_batch = min(32, len(own.train_labels))
if weights is not None:
    # seed 004's second variant: ImageNet VGG16 (no BatchNorm) features, fine-tuned at Adam 1e-4
    own_kwargs.update(pretrained=True, weights_path=str(weights), batch_norm=False)
    own_kwargs["attention_after"] = (10, 17, 24)  # after conv3_1, conv4_1, conv5_1 (seed 004)
    own_config = TrainConfig.from_profile(cifar, epochs=folder_epochs, batch_size=own_batch, lr=1e-4,
                                          eval_batch_size=100)
    how = "fine-tuned from ImageNet weights (seed 004's second variant)"
else:
    own_kwargs.update(batch_norm=True)
    own_config = TrainConfig.from_profile(cifar, epochs=folder_epochs, batch_size=own_batch,
                                          eval_batch_size=100)
    how = "trained from scratch (no ImageNet weights on this machine, and downloads are off)"
own_run = train_or_load("vgg16", own, own_config, attention="self_attention",
                        name="vgg16-self_attention-own-folder", model_kwargs=own_kwargs, profile=P.name)
strip_text = chapter.strip_section({"VGG16 + self-attention": own_run}, own, "VGG16 + self-attention", n=9)
display(Markdown(
    f"VGG16 + self-attention {how}: {own_run.metrics['accuracy'] * 100:.1f} % on the held-out "
    f"{len(own.test_labels)} images (chance 33.3 %), one seed, {own_config.epochs} epochs on "
    f"{len(own.train_labels)} training images. The strip shows three test images per class. "
    + strip_text
))

# %% [markdown]
# From the command line the same is
# `python -m course_lib train --model vgg16 --model-arg batch_norm=true --model-arg classifier=compact --image-folder my_photos --folder-size 64 --image-size 64`.
#
# ## 7 · The naming mistake in seed 004
#
# Seed 004 calls its block `TripletAttention`. It is not: Triplet Attention (chapter 02) pools
# each axis pair with Z-pool and learns three 7×7 gates with 300 parameters; the seed's block
# computes queries, keys and values and an $N\times N$ softmax map — SAGAN's self-attention, as
# here. (Its second variant also drops γ and the residual, so the block replaces the features
# instead of refining them, and it builds all three modules for 256 channels although conv4_1
# and conv5_1 have 512.) Names matter in a course: a reader who searches for "Triplet Attention"
# should find the module of chapter 02.
#
# ## 8 · Results

# %%
for name, found in runs.items():
    for run in found:
        print(chapter.report(run, "07_self_attention_vgg"))

# %% [markdown]
# ## Summary

# %%
d = next(iter(comparison.differences.values()))
display(Markdown(
    "- SAGAN's block lets every position take a softmax-weighted average over all positions, "
    "scaled by γ (starting at 0, so the block starts as the identity); its cost grows with the "
    "square of the number of positions.\n"
    f"- VGG16 with BatchNorm in this budget ({cifar.image_size} px, {cifar.epochs} epochs, "
    f"{cifar.train_subset or 'all'} training images): "
    + ", ".join(f"{n} {read.pct(comparison.summaries[n].mean, 2)}" for n in runs)
    + f" over {len(runs['VGG16-BN'])} seeds.\n"
    f"- With against without self-attention: {d.sentence()}\n"
    f"- Data: {read.data_source(main['VGG16-BN'])}."
))

# %% [markdown]
# ## Exercises
#
# 1. Put the self-attention block after conv5_3 instead (index 42 of `vgg16_bn().features`): how
#    large is $\beta$ there at 32 px and at 224 px, and what does that do to the cost?
# 2. Initialise γ to 1 instead of 0 and train again. What happens in the first epoch?
# 3. Implement the paper's value path (h: C → C/8, then W_v: C/8 → C) as a subclass of
#    `SelfAttention` and compare parameters and accuracy.
# 4. Train on a folder of your own photos with `load_image_folder(path, size=64)`.
# 5. Replace `self_attention` by `triplet` in `attention_after`. Compare parameters and FLOPs.
